package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"trel/client"
	"trel/internal/core"
	"trel/internal/domain"
)

// Resumable uploads: files larger than --resumable-over (64 MiB) go
// through an upload session, chunk by chunk. The session is remembered in
// a small state file, so that the same command run again after an
// interruption (Ctrl-C, a network failure, a killed server) asks the
// server where it stopped and continues from there.

// defaultResumableOver is the size above which files go through upload
// sessions.
const defaultResumableOver = 64 << 20

const (
	// chunkRetries is how many times one chunk is sent again after a
	// network failure or a server error before the command gives up
	// (with backoff: 1, 2, 4, 8, 16 s).
	chunkRetries = 5
	firstBackoff = time.Second
)

// sessionRecord remembers one upload session. It holds no secret: the
// server, the release, the file (its path, size and modification time:
// a changed file starts a new session) and the session's id, which is
// useless without the user's token.
type sessionRecord struct {
	Server  string    `json:"server"`
	Project string    `json:"project"`
	Version string    `json:"version"`
	Path    string    `json:"path"`  // in the release
	Local   string    `json:"local"` // absolute path of the local file
	Size    int64     `json:"size"`
	ModTime int64     `json:"mtime_ns"`
	Session string    `json:"session"`
	Started time.Time `json:"started"`
}

func (r sessionRecord) sameFile(o sessionRecord) bool {
	return r.Server == o.Server && r.Project == o.Project && r.Version == o.Version && r.Path == o.Path &&
		r.Local == o.Local && r.Size == o.Size && r.ModTime == o.ModTime
}

// statePath is trel/uploads.json in $XDG_STATE_HOME (or ~/.local/state).
func statePath() (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the state directory: %w (set XDG_STATE_HOME)", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "trel", "uploads.json"), nil
}

// stateMu serialises this process's changes of the state file.
var stateMu sync.Mutex

func loadRecords() ([]sessionRecord, error) {
	p, err := statePath()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	var rs []sessionRecord
	if err := json.Unmarshal(data, &rs); err != nil {
		// A damaged state file costs a resumption, never an upload.
		return nil, nil
	}
	return rs, nil
}

// updateRecords changes the state file with fn, atomically (a temporary
// file renamed into place, mode 0600).
func updateRecords(fn func([]sessionRecord) []sessionRecord) error {
	stateMu.Lock()
	defer stateMu.Unlock()
	rs, err := loadRecords()
	if err != nil {
		return err
	}
	rs = fn(rs)
	p, err := statePath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
	}
	data, _ := json.MarshalIndent(rs, "", "  ")
	tmp, err := os.CreateTemp(filepath.Dir(p), ".uploads-*.json")
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return os.Rename(tmp.Name(), p)
}

func rememberSession(rec sessionRecord) error {
	return updateRecords(func(rs []sessionRecord) []sessionRecord {
		out := rs[:0]
		for _, r := range rs {
			if !r.sameFile(rec) {
				out = append(out, r)
			}
		}
		return append(out, rec)
	})
}

func forgetSessions(ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	drop := map[string]bool{}
	for _, id := range ids {
		drop[id] = true
	}
	return updateRecords(func(rs []sessionRecord) []sessionRecord {
		out := rs[:0]
		for _, r := range rs {
			if !drop[r.Session] {
				out = append(out, r)
			}
		}
		return out
	})
}

// findRecord returns the record of the same file, and the records of the
// same local file and target whose size or modification time changed
// since (their sessions can never complete).
func findRecord(key sessionRecord) (same sessionRecord, found bool, changed []sessionRecord) {
	rs, _ := loadRecords()
	for _, r := range rs {
		switch {
		case r.sameFile(key):
			same, found = r, true
		case r.Server == key.Server && r.Project == key.Project && r.Version == key.Version && r.Path == key.Path && r.Local == key.Local:
			changed = append(changed, r)
		}
	}
	return same, found, changed
}

func isNotFound(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Status == http.StatusNotFound
}

// keptUpload says what an interrupted resumable upload left on the server.
type keptUpload struct {
	target         string
	received, size int64
	expires        time.Time
}

// uploadResumable sends one file through an upload session, resuming the
// session a previous run of the same command left, and returns the
// stored content (not yet in a revision: the command's one revision
// references it).
func (e *env) uploadResumable(ctx context.Context, cl *client.Client, project, version string, f localFile) (*domain.Blob, error) {
	abs, err := filepath.Abs(f.local)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(f.local)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", f.local, err)
	}
	key := sessionRecord{Server: cl.Base(), Project: project, Version: version, Path: f.target, Local: abs, Size: f.size, ModTime: st.ModTime().UnixNano()}
	sess, done, err := e.resumeSession(ctx, cl, key, f)
	if err != nil || done != nil {
		return done, err
	}
	if sess == nil {
		sess, err = cl.StartUploadSession(ctx, project, version, core.NewUploadSession{Path: f.target, Size: f.size})
		if err != nil {
			return nil, fmt.Errorf("uploading %s: %w", f.local, err)
		}
		key.Session, key.Started = sess.ID, timeNow().UTC()
		if err := rememberSession(key); err != nil {
			fmt.Fprintf(e.stderr, "trel: %v (the upload goes on, but could not be resumed)\n", err)
		}
	}
	fh, err := os.Open(f.local)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", f.local, err)
	}
	defer fh.Close()
	up := &sessionUpload{e: e, cl: cl, project: project, version: version, f: f, fh: fh, sess: sess, h: sha256.New()}
	b, err := up.run(ctx)
	if err != nil {
		if up.sess != nil && up.sess.State == domain.SessionOpen {
			e.kept = append(e.kept, keptUpload{target: f.target, received: up.sess.Received, size: f.size, expires: up.sess.ExpiresAt})
		}
		return nil, fmt.Errorf("uploading %s: %w", f.local, err)
	}
	e.completedSessions = append(e.completedSessions, sess.ID)
	return b, nil
}

// resumeSession finds the session an earlier run left for this file: it
// returns the open session to continue, or the content when the session
// was already completed, or neither (start a new one).
func (e *env) resumeSession(ctx context.Context, cl *client.Client, key sessionRecord, f localFile) (*domain.UploadSession, *domain.Blob, error) {
	rec, ok, changed := findRecord(key)
	for _, old := range changed {
		// The file changed since an earlier run: its session would hold
		// other bytes. Abort it, so that it does not count against the
		// server's bound until it expires.
		fmt.Fprintf(e.stderr, "trel: %s changed since its earlier upload started: starting again\n", f.local)
		if err := cl.AbortUploadSession(ctx, key.Project, key.Version, old.Session); err != nil && !isNotFound(err) {
			fmt.Fprintf(e.stderr, "trel: aborting the earlier upload: %s (it expires by itself)\n", message(err))
		}
		forgetSessions(old.Session)
	}
	if !ok {
		return nil, nil, nil
	}
	sess, err := cl.UploadSession(ctx, key.Project, key.Version, rec.Session)
	switch {
	case isNotFound(err):
		fmt.Fprintf(e.stderr, "trel: the earlier upload of %s is no longer on the server (expired or aborted): starting again\n", f.target)
		forgetSessions(rec.Session)
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("uploading %s: %w", f.local, err)
	case sess.State == domain.SessionCompleted:
		fmt.Fprintf(e.stderr, "trel: %s was uploaded completely by an earlier run (%s)\n", f.target, domain.HumanSize(sess.Size))
		e.completedSessions = append(e.completedSessions, sess.ID)
		return nil, &domain.Blob{SHA256: sess.SHA256, Size: sess.Size}, nil
	case sess.State == domain.SessionCompleting:
		return nil, nil, fmt.Errorf("uploading %s: the server is completing its earlier upload; run the command again in a minute", f.local)
	}
	fmt.Fprintf(e.stderr, "resuming %s at %s of %s\n", f.target, domain.HumanSize(sess.Received), domain.HumanSize(sess.Size))
	return sess, nil, nil
}

// sessionUpload sends a file's chunks from the session's offset.
type sessionUpload struct {
	e                *env
	cl               *client.Client
	project, version string
	f                localFile
	fh               *os.File
	sess             *domain.UploadSession
	h                hash.Hash // SHA-256 of the bytes the server has (hardware-accelerated: cheaper than SHA-512)
	hashed           int64
}

func (u *sessionUpload) run(ctx context.Context) (*domain.Blob, error) {
	if err := u.rehash(u.sess.Received); err != nil {
		return nil, err
	}
	progress := u.e.newProgress(u.f, u.sess.Received)
	defer progress.finish()
	// Two buffers: the next chunk is read while this one is sent.
	bufs := [2]*readAhead{{buf: make([]byte, u.sess.ChunkSize)}, {buf: make([]byte, u.sess.ChunkSize)}}
	cur := bufs[0].start(u.fh, u.sess.Received, u.f.size)
	for i := 1; u.sess.Received < u.f.size; i++ {
		chunk, err := cur.chunk(u.fh, u.sess.Received, u.f.size)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", u.f.local, err)
		}
		if end := u.sess.Received + int64(len(chunk)); end < u.f.size {
			bufs[i%2].start(u.fh, end, u.f.size)
		}
		if err := u.sendChunk(ctx, chunk, progress); err != nil {
			return nil, err
		}
		progress.set(u.sess.Received)
		cur = bufs[i%2]
	}
	return u.complete(ctx)
}

// readAhead reads one chunk of the file in the background.
type readAhead struct {
	buf  []byte
	off  int64
	n    int
	done chan error
}

// start reads the chunk at off.
func (r *readAhead) start(f *os.File, off, size int64) *readAhead {
	r.off, r.n, r.done = off, int(min(int64(len(r.buf)), size-off)), make(chan error, 1)
	go func() {
		_, err := f.ReadAt(r.buf[:r.n], off)
		r.done <- err
	}()
	return r
}

// chunk waits for the chunk, read again at off when the read ahead was
// for another offset (the server's offset moved).
func (r *readAhead) chunk(f *os.File, off, size int64) ([]byte, error) {
	if r.done == nil || r.off != off {
		if r.done != nil {
			<-r.done
		}
		r.start(f, off, size)
	}
	err := <-r.done
	r.done = nil
	if err != nil {
		return nil, err
	}
	return r.buf[:r.n], nil
}

// rehash makes h the SHA-256 of the file's first n bytes, read locally
// (on resumption, or when the server's offset is not where this run
// thought).
func (u *sessionUpload) rehash(n int64) error {
	if u.hashed == n {
		return nil
	}
	u.h.Reset()
	if _, err := io.Copy(u.h, io.NewSectionReader(u.fh, 0, n)); err != nil {
		return fmt.Errorf("reading %s: %w", u.f.local, err)
	}
	u.hashed = n
	return nil
}

// sendChunk sends the chunk at the session's offset until the server has
// it: after a network failure or a server error it waits, asks the
// server where the session is and sends again (the server keeps nothing
// of a failed chunk); a refusal for busyness waits as uploadOne does.
func (u *sessionUpload) sendChunk(ctx context.Context, chunk []byte, progress *uploadProgress) error {
	off := u.sess.Received
	// The chunk is added to a copy of the digest while it is sent; the copy
	// replaces the digest once the server has the chunk.
	next, hashed := u.hashAhead(chunk)
	backoff, waited := firstBackoff, time.Duration(0)
	for attempt := 0; ; attempt++ {
		body := io.TeeReader(bytes.NewReader(chunk), progress.from(off))
		s, err := u.cl.PutChunk(ctx, u.project, u.version, u.sess.ID, off, body, int64(len(chunk)))
		<-hashed
		if err == nil {
			u.h, u.hashed, u.sess = next, off+int64(len(chunk)), s
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ce *client.Error
		isCE := errors.As(err, &ce)
		if wait, busy := busyWait(err); busy && waited+wait <= busyWaitLimit {
			u.e.noteWaiting(err, wait)
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			waited += wait
			continue
		}
		switch {
		case isCE && ce.HasOffset:
			return u.resync(ce.Offset, off, chunk)
		case (isCE && ce.Status < 500) || attempt >= chunkRetries:
			return err
		}
		fmt.Fprintf(u.e.stderr, "trel: sending %s at %s failed (%s); trying again in %s\n", u.f.target, domain.HumanSize(off), message(err), backoff)
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
		backoff *= 2
		// Where is the session? A chunk whose answer was lost may have
		// arrived.
		s, gerr := u.cl.UploadSession(ctx, u.project, u.version, u.sess.ID)
		if gerr == nil && s.Received != off {
			return u.resync(s.Received, off, chunk)
		}
	}
}

// hashAhead adds chunk to a copy of the digest in the background; the
// channel is closed when it is done.
func (u *sessionUpload) hashAhead(chunk []byte) (hash.Hash, <-chan struct{}) {
	next := sha256.New()
	state, _ := u.h.(encoding.BinaryMarshaler).MarshalBinary()
	next.(encoding.BinaryUnmarshaler).UnmarshalBinary(state)
	done := make(chan struct{})
	go func() {
		next.Write(chunk)
		close(done)
	}()
	return next, done
}

// resync follows the server's offset when it is not where this run sent
// the chunk: the chunk arrived after all (its answer was lost), or the
// session is elsewhere (another client).
func (u *sessionUpload) resync(server, off int64, chunk []byte) error {
	if server == off+int64(len(chunk)) {
		u.h.Write(chunk)
		u.hashed = server
	} else if err := u.rehash(server); err != nil {
		return err
	}
	u.sess.Received = server
	return nil
}

// complete asks the server to store the content, checking the SHA-256 of
// what this client read end to end.
func (u *sessionUpload) complete(ctx context.Context) (*domain.Blob, error) {
	sum := hex.EncodeToString(u.h.Sum(nil))
	backoff := firstBackoff
	for attempt := 0; ; attempt++ {
		res, err := u.cl.CompleteUploadSession(ctx, u.project, u.version, u.sess.ID, core.CompleteUploadSession{SHA256: sum, ContentOnly: true})
		if err == nil {
			return res.Blob, nil
		}
		var ce *client.Error
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if s, gerr := u.cl.UploadSession(ctx, u.project, u.version, u.sess.ID); gerr == nil && s.State == domain.SessionCompleted {
			if s.SHA256 != sum { // cannot be, unless the file changed under this run
				return nil, fmt.Errorf("the server stored content with SHA-256 %.16s…, but %s has %.16s…: upload it again", s.SHA256, u.f.local, sum)
			}
			return &domain.Blob{SHA256: s.SHA256, Size: s.Size}, nil // the answer was lost
		}
		if errors.As(err, &ce) && ce.Status < 500 || attempt >= chunkRetries {
			if errors.As(err, &ce) && ce.Code == string(domain.KindInvalid) {
				forgetSessions(u.sess.ID) // the server discarded it (a changed file)
				u.sess = nil
			}
			return nil, err
		}
		if err := sleep(ctx, backoff); err != nil {
			return nil, err
		}
		backoff *= 2
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// uploadProgress shows a resumable upload's progress from where it
// resumed: a bar on a terminal, a line per tenth otherwise, nothing with
// --json.
type uploadProgress struct {
	bar   *progressbar.ProgressBar
	lines *lineProgress
}

func (e *env) newProgress(f localFile, start int64) *uploadProgress {
	p := &uploadProgress{}
	switch {
	case e.json:
	case isTerminal(e.stderr):
		p.bar = progressbar.DefaultBytes(f.size, f.target)
		p.bar.Set64(start)
	default:
		p.lines = &lineProgress{w: e.stderr, name: f.target, size: f.size, next: 10}
		for p.lines.next <= 100 && start*100 >= p.lines.next*f.size {
			p.lines.next += 10 // tenths sent by an earlier run are not repeated
		}
		p.lines.done = start
	}
	return p
}

// set moves the progress to n bytes.
func (p *uploadProgress) set(n int64) {
	switch {
	case p.bar != nil:
		p.bar.Set64(n)
	case p.lines != nil && n > p.lines.done:
		p.lines.advance(n - p.lines.done)
	}
}

// from returns a writer that moves the progress as a chunk that starts at
// off goes out.
func (p *uploadProgress) from(off int64) io.Writer { return &progressAt{p: p, at: off} }

func (p *uploadProgress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

type progressAt struct {
	p  *uploadProgress
	at int64
}

func (w *progressAt) Write(b []byte) (int, error) {
	w.at += int64(len(b))
	w.p.set(w.at)
	return len(b), nil
}
