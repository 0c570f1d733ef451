package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"trel/internal/blob"
	"trel/internal/domain"
	"trel/internal/secrets"
	"trel/internal/store"
)

// Resumable uploads (upload sessions). A file is declared (path, size,
// optionally its SHA-512 and the revision the writer expects), then sent
// in chunks, each at the offset the server has so far; a chunk that fails
// midway is not counted and is sent again at the same offset, to any
// replica. After each accepted chunk the SHA-256 and SHA-512 states and
// the secret scanner's state are saved with the new offset in one
// conditional UPDATE, so that every byte is read once, however many
// requests and processes the upload spans. Completing the session records
// the content exactly as a one-request upload does (recordContent: the
// same quota charge, clean-scan record and audit event) and, unless asked
// not to, makes the revision that puts the file at its path.
const (
	// DefaultSessionChunkSize is the length of every chunk but the last
	// (`trel serve --upload-chunk-size`): each chunk is stored durably
	// (synced to disk, or an S3 part) before it is acknowledged, which
	// costs about as much as 16 MiB of transfer; 64 MiB makes a resumable
	// upload as fast as a one-request one (measured, see the README) and
	// loses at most 64 MiB to an interruption.
	DefaultSessionChunkSize = 64 << 20
	// MinSessionChunkSize is S3's smallest part but the last;
	// MaxSessionChunkSize bounds what one request holds up.
	MinSessionChunkSize = 5 << 20
	MaxSessionChunkSize = 1 << 30
	// SessionTTL is how long a session lives from its start: as long as
	// the blob stores keep staged content that the sweep missed.
	SessionTTL = blob.StagedLifetime
	// MaxOpenSessions and MaxSessionBytes bound each user's sessions that
	// are not completed: their number and the sum of their declared sizes.
	MaxOpenSessions = 8
	MaxSessionBytes = 64 << 30
	// sessionCompleteStale is when a completion that died (its replica
	// killed) may be taken over by another.
	sessionCompleteStale = 10 * time.Minute
	// drainLimit bounds what is read of a refused chunk (as secrets.Reader).
	drainLimit = 64 << 20
)

// NewUploadSession is the declaration of a resumable upload.
type NewUploadSession struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	// SHA512, when given, must be the content's SHA-512 (hex) at completion.
	SHA512 string `json:"sha512,omitempty"`
	// ExpectRevision is the revision the completion expects to replace
	// (as --expect-revision).
	ExpectRevision *int `json:"expect_revision,omitempty"`
}

// CompleteUploadSession asks for a session's completion.
type CompleteUploadSession struct {
	// SHA512 and SHA256, when given, must be the content's digests (the
	// client's own digest of what it sent: end to end).
	SHA512      string `json:"sha512,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
	Description string `json:"description,omitempty"`
	// ContentOnly stores the content without making a revision: the
	// client puts it in a revision with other files (POST .../revisions).
	ContentOnly bool `json:"content_only,omitempty"`
}

// UploadSessionResult is what a completion made.
type UploadSessionResult struct {
	Session  *domain.UploadSession `json:"session"`
	Blob     *domain.Blob          `json:"blob"`
	Revision *RevisionResult       `json:"revision,omitempty"`
}

// OffsetError refuses a chunk sent at the wrong offset; Received is where
// the session is (the API sends it as the Upload-Offset header).
type OffsetError struct {
	Received int64
}

func (e *OffsetError) Error() string {
	return fmt.Sprintf("the session has received %d bytes: send the chunk that starts there", e.Received)
}

// ReceivedOf returns the session's offset carried by a refused chunk's error.
func ReceivedOf(err error) (int64, bool) {
	var oe *OffsetError
	if errors.As(err, &oe) {
		return oe.Received, true
	}
	return 0, false
}

func offsetError(received int64) error {
	oe := &OffsetError{Received: received}
	return &domain.Error{Kind: domain.KindConflict, Err: oe, Message: oe.Error()}
}

func validSHA512(h string) bool { return validHex(h, 128) }

func validHex(h string, n int) bool {
	ok := len(h) == n
	for _, c := range h {
		ok = ok && (c >= '0' && c <= '9' || c >= 'a' && c <= 'f')
	}
	return ok
}

// StartUploadSession declares a resumable upload to a draft.
func (s *Service) StartUploadSession(ctx context.Context, a *Actor, projectKey, version string, req NewUploadSession) (*domain.UploadSession, error) {
	rel, err := s.release(ctx, a, OpUpload, projectKey, version)
	if err != nil {
		return nil, err
	}
	if rel.Phase != domain.PhaseDraft {
		return nil, domain.Errorf(domain.KindConflict, "release %s %s is no longer a draft; its files cannot change", rel.ProjectKey, rel.Version)
	}
	if err := domain.ValidateNewPath(req.Path); err != nil {
		return nil, err
	}
	if kind, bad := secrets.SecretName(path.Base(req.Path)); bad {
		return nil, domain.Errorf(domain.KindInvalid, "%s is %s: such files are never uploaded", req.Path, kind).On("path")
	}
	switch {
	case req.Size <= 0:
		return nil, domain.Errorf(domain.KindInvalid, "size must be the file's size in bytes (at least 1; empty files need no session)").On("size")
	case req.Size > s.maxFileSize:
		return nil, domain.Errorf(domain.KindTooLarge, "the file is %d bytes, larger than the limit of %d bytes: ask an administrator to raise --max-file-size", req.Size, s.maxFileSize)
	case req.SHA512 != "" && !validSHA512(req.SHA512):
		return nil, domain.Errorf(domain.KindInvalid, "sha512 must be 128 lower-case hex digits").On("sha512")
	case req.ExpectRevision != nil && *req.ExpectRevision < 0:
		return nil, domain.Errorf(domain.KindInvalid, "expect_revision must be 0 or more").On("expect_revision")
	}
	if err := s.checkQuota(rel, req.Size); err != nil {
		return nil, err
	}
	scan, err := secrets.NewScanner().MarshalBinary()
	if err != nil {
		return nil, domain.Internal("starting an upload session", err)
	}
	key, err := s.blobs.StartStaged(ctx)
	if err != nil {
		return nil, err
	}
	var id [16]byte
	rand.Read(id[:])
	now := s.now()
	sess := &domain.UploadSession{ID: hex.EncodeToString(id[:]), UserID: a.id(), Username: a.name(), ReleaseID: rel.ID,
		ProjectKey: rel.ProjectKey, Version: rel.Version, Path: req.Path, Size: req.Size, ChunkSize: s.chunkSize,
		ExpectSHA512: req.SHA512, ExpectRevision: req.ExpectRevision, StagingKey: key,
		HashState: []byte{}, ScanState: scan, ExpiresAt: now.Add(SessionTTL)}
	var ok bool
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		if ok, err = tx.CreateUploadSession(ctx, sess, MaxOpenSessions, MaxSessionBytes, now); err != nil || !ok {
			return err
		}
		return s.audit(ctx, tx, a, "upload-session.start", releaseTarget(rel), map[string]any{"session": sess.ID, "path": sess.Path, "size": sess.Size})
	})
	if err != nil || !ok {
		s.abortStaged(key)
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, domain.Errorf(domain.KindConflict,
			"you already have %d resumable uploads open or %s declared by them, the most allowed (%d sessions, %s): complete or abort one (`trel uploads`), or wait until they expire %s after their start",
			MaxOpenSessions, domain.HumanSize(MaxSessionBytes), MaxOpenSessions, domain.HumanSize(MaxSessionBytes), shortDuration(SessionTTL))
	}
	return sess, nil
}

func (s *Service) abortStaged(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.blobs.AbortStaged(ctx, key); err != nil {
		s.log.Warn("removing a staged upload (the sweep or the bucket's lifecycle takes it later)", "err", err)
	}
}

// ownSession returns session id if actor a started it in release rel; any
// other session is "not found" (the ids of others' sessions stay secret).
func (s *Service) ownSession(ctx context.Context, a *Actor, rel *domain.Release, id string) (*domain.UploadSession, error) {
	sess, err := s.store.UploadSession(ctx, id)
	if err == nil && (sess.UserID != a.id() || sess.ReleaseID != rel.ID) {
		err = domain.Errorf(domain.KindNotFound, "no upload session %s of yours in %s %s", id, rel.ProjectKey, rel.Version)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case sess.State == domain.SessionCompleted:
	case !s.now().Before(sess.ExpiresAt):
		return nil, domain.Errorf(domain.KindNotFound, "upload session %s expired at %s (sessions live %s): start the upload again", id, sess.ExpiresAt.Format(time.RFC3339), shortDuration(SessionTTL))
	}
	return sess, nil
}

// UploadSession returns one of the actor's sessions of a release.
func (s *Service) UploadSession(ctx context.Context, a *Actor, projectKey, version, id string) (*domain.UploadSession, error) {
	rel, err := s.release(ctx, a, OpUpload, projectKey, version)
	if err != nil {
		return nil, err
	}
	return s.ownSession(ctx, a, rel, id)
}

// UploadSessions lists the actor's sessions that are not completed and
// have not expired: of one release, or of every release when projectKey
// is "".
func (s *Service) UploadSessions(ctx context.Context, a *Actor, projectKey, version string) ([]domain.UploadSession, error) {
	if a.id() == 0 {
		return nil, domain.Errorf(domain.KindUnauthenticated, "sign in to see your uploads")
	}
	var relID int64
	if projectKey != "" {
		rel, err := s.release(ctx, a, OpUpload, projectKey, version)
		if err != nil {
			return nil, err
		}
		relID = rel.ID
	}
	all, err := s.store.UploadSessions(ctx, a.id(), relID, s.now())
	var open []domain.UploadSession
	for _, us := range all {
		if us.State != domain.SessionCompleted {
			open = append(open, us)
		}
	}
	return open, err
}

// PutChunk stores one chunk of a session's file: size bytes of r that
// start at offset, which must be what the session has received. The
// upload's lease (PrepareUpload) ends in the transaction that records the
// chunk. A chunk that fails leaves the session as it was.
func (u *Upload) PutChunk(ctx context.Context, id string, offset int64, r io.Reader, size int64) (*domain.UploadSession, error) {
	s := u.s
	unlock := s.sessionLocks.lock(id)
	defer unlock()
	sess, err := s.ownSession(ctx, u.a, u.rel, id)
	if err != nil {
		return nil, err
	}
	switch {
	case sess.State != domain.SessionOpen:
		return nil, domain.Errorf(domain.KindConflict, "upload session %s is %s: it takes no more data", id, sess.State)
	case offset != sess.Received:
		return nil, offsetError(sess.Received)
	case size < 0:
		return nil, domain.Errorf(domain.KindInvalid, "send the chunk with its Content-Length")
	case offset+size > sess.Size:
		return nil, domain.Errorf(domain.KindTooLarge, "this chunk ends at byte %d, beyond the %d bytes declared for %s: the file is not the one the session was started for; abort the session and start again", offset+size, sess.Size, sess.Path)
	case size == 0 || (size != sess.ChunkSize && offset+size != sess.Size):
		return nil, domain.Errorf(domain.KindInvalid, "every chunk but the last must hold exactly %d bytes (this one: %d)", sess.ChunkSize, size)
	}
	digests, err := blob.ResumeDigests(sess.HashState)
	if err != nil {
		return nil, domain.Internal("restoring an upload session's digests", err)
	}
	scan := new(secrets.Scanner)
	if err := scan.UnmarshalBinary(sess.ScanState); err != nil {
		return nil, domain.Errorf(domain.KindConflict, "the server's secret scanner changed since this upload started: abort it and upload the file again")
	}
	var part int
	var ok bool
	if err := s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		part, ok, err = tx.NextUploadPart(ctx, id, offset, s.now())
		return err
	}); err != nil {
		return nil, err
	}
	if !ok {
		return nil, s.sessionMoved(ctx, id)
	}

	// The body goes through the scanner and both hashes (one pass) into
	// the blob store's part.
	pr, pw := io.Pipe()
	copied := make(chan error, 1)
	go func() {
		err := digests.Copy(pw, &scanningReader{r: r, s: scan}, size)
		pw.CloseWithError(err)
		copied <- err
	}()
	stored, perr := s.blobs.PutPart(ctx, sess.StagingKey, part, offset, pr, size)
	pr.CloseWithError(io.ErrClosedPipe)
	cerr := <-copied
	if f := scan.Found(); f != nil {
		// Read the rest of the chunk (bounded), so that a client still
		// sending gets the refusal rather than a reset connection.
		io.Copy(io.Discard, io.LimitReader(r, drainLimit))
		s.dropSession(ctx, sess)
		return nil, s.refuseSecret(ctx, u.rel, u.a, f)
	}
	if cerr != nil {
		if blob.IsTooLarge(cerr) {
			return nil, domain.Errorf(domain.KindTooLarge, "the chunk holds more than the %d bytes announced", size)
		}
		return nil, &domain.Error{Kind: domain.KindInvalid, Message: fmt.Sprintf("the chunk was interrupted before it completed; nothing of it was kept: send it again at offset %d", offset), Err: cerr}
	}
	if perr != nil {
		return nil, perr
	}
	sess.HashState, err = digests.State()
	if err != nil {
		return nil, domain.Internal("saving an upload session's digests", err)
	}
	if sess.ScanState, err = scan.MarshalBinary(); err != nil {
		return nil, domain.Internal("saving an upload session's scanner", err)
	}
	sess.Parts = append(sess.Parts, stored)
	sess.Received = offset + size
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		ok, err := tx.AdvanceUploadSession(ctx, sess, offset, s.now())
		if err != nil {
			return err
		}
		if !ok {
			return s.sessionMoved(ctx, id)
		}
		return tx.DropUploadLease(ctx, u.lease)
	})
	if err != nil {
		return nil, err
	}
	u.dropped = true
	sess.UpdatedAt = s.now()
	return sess, nil
}

// sessionMoved explains why a session could not advance: another request
// moved it, completed it, or it is gone.
func (s *Service) sessionMoved(ctx context.Context, id string) error {
	cur, err := s.store.UploadSession(ctx, id)
	if err != nil {
		return err
	}
	if cur.State != domain.SessionOpen {
		return domain.Errorf(domain.KindConflict, "upload session %s is %s: it takes no more data", id, cur.State)
	}
	if !s.now().Before(cur.ExpiresAt) {
		return domain.Errorf(domain.KindNotFound, "upload session %s expired: start the upload again", id)
	}
	return offsetError(cur.Received)
}

// scanningReader shows what it reads to the secret scanner, which fails
// the read as soon as it finds a secret.
type scanningReader struct {
	r io.Reader
	s *secrets.Scanner
}

func (sr *scanningReader) Read(p []byte) (int, error) {
	n, err := sr.r.Read(p)
	if n > 0 {
		if _, werr := sr.s.Write(p[:n]); werr != nil {
			return 0, werr
		}
	}
	return n, err
}

// dropSession removes a session and its parts (a secret or a wrong digest:
// nothing of it may be kept).
func (s *Service) dropSession(ctx context.Context, sess *domain.UploadSession) {
	err := s.store.Tx(context.WithoutCancel(ctx), func(tx store.Tx) error {
		_, err := tx.DeleteUploadSession(ctx, sess.ID)
		return err
	})
	if err != nil {
		s.log.Warn("removing an upload session (it expires by itself)", "err", err)
	}
	s.abortStaged(sess.StagingKey)
}

// CompleteUploadSession turns a session that received all its bytes into
// stored content, recorded as a one-request upload is, and (unless
// ContentOnly) into the revision that puts the file at the session's
// path, with the session's expected revision. Exactly one completion
// succeeds, whatever the races: it first claims the session in the
// database.
func (s *Service) CompleteUploadSession(ctx context.Context, a *Actor, projectKey, version, id string, req CompleteUploadSession) (*UploadSessionResult, error) {
	rel, err := s.release(ctx, a, OpUpload, projectKey, version)
	if err != nil {
		return nil, err
	}
	if rel.Phase != domain.PhaseDraft {
		return nil, domain.Errorf(domain.KindConflict, "release %s %s is no longer a draft; its files cannot change", rel.ProjectKey, rel.Version)
	}
	if req.SHA512 != "" && !validSHA512(req.SHA512) {
		return nil, domain.Errorf(domain.KindInvalid, "sha512 must be 128 lower-case hex digits").On("sha512")
	}
	if req.SHA256 != "" && !validHex(req.SHA256, 64) {
		return nil, domain.Errorf(domain.KindInvalid, "sha256 must be 64 lower-case hex digits").On("sha256")
	}
	if len(req.Description) > 2000 {
		return nil, domain.Errorf(domain.KindInvalid, "the description is longer than 2000 characters")
	}
	sess, err := s.ownSession(ctx, a, rel, id)
	if err != nil {
		return nil, err
	}
	if sess.State == domain.SessionCompleted {
		return nil, completedError(sess)
	}
	if sess.Received < sess.Size {
		return nil, domain.Errorf(domain.KindConflict, "upload session %s has received %d of %d bytes: send the rest from offset %d, then complete it", id, sess.Received, sess.Size, sess.Received)
	}
	var ok bool
	now := s.now()
	if err := s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		ok, err = tx.ClaimUploadSession(ctx, id, now, now.Add(-sessionCompleteStale))
		return err
	}); err != nil {
		return nil, err
	}
	if !ok {
		cur, err := s.store.UploadSession(ctx, id)
		if err == nil && cur.State == domain.SessionCompleted {
			return nil, completedError(cur)
		}
		return nil, domain.Errorf(domain.KindConflict, "another request is completing upload session %s: see its state with GET, it takes a moment", id)
	}

	digests, err := blob.ResumeDigests(sess.HashState)
	if err != nil {
		s.reopenSession(id)
		return nil, domain.Internal("restoring an upload session's digests", err)
	}
	b, err := digests.Blob()
	if err != nil {
		s.reopenSession(id)
		return nil, domain.Internal("finishing an upload session's digests", err)
	}
	scan := new(secrets.Scanner)
	if err := scan.UnmarshalBinary(sess.ScanState); err != nil {
		s.dropSession(ctx, sess)
		return nil, domain.Errorf(domain.KindConflict, "the server's secret scanner changed since this upload started; the session was discarded: upload the file again")
	}
	if err := scan.Close(); err != nil {
		s.dropSession(ctx, sess)
		return nil, s.refuseSecret(ctx, rel, a, scan.Found())
	}
	for _, want := range []struct{ field, alg, got, sha string }{
		{"sha512", "SHA-512", b.SHA512, sess.ExpectSHA512}, {"sha512", "SHA-512", b.SHA512, req.SHA512}, {"sha256", "SHA-256", b.SHA256, req.SHA256},
	} {
		if want.sha != "" && want.sha != want.got {
			s.dropSession(ctx, sess)
			return nil, domain.Errorf(domain.KindInvalid,
				"the content received has %s %s…, not %s… as declared: the file changed while it was uploaded, or was damaged on the way. The session was discarded and nothing was stored: upload the file again",
				want.alg, want.got[:16], want.sha[:16]).On(want.field)
		}
	}
	if err := s.blobs.FinishStaged(ctx, sess.StagingKey, sess.Parts, b); err != nil {
		s.reopenSession(id)
		return nil, err
	}
	res := &UploadSessionResult{Blob: &b}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		return s.recordContent(ctx, tx, a, rel, b, func(tx store.Tx) error {
			if !req.ContentOnly {
				return nil // the revision's transaction finishes the session
			}
			return s.finishSession(ctx, tx, id, b.SHA256, nil)
		})
	})
	if err != nil {
		// The staged parts are the blob now: the session cannot be retried.
		s.dropSession(ctx, sess)
		return nil, err
	}
	if !req.ContentOnly {
		desc := req.Description
		if desc == "" {
			desc = "upload of " + sess.Path
		}
		rr, err := s.createRevision(ctx, a, projectKey, version, RevisionRequest{ExpectRevision: sess.ExpectRevision, Description: desc,
			Changes: []Change{{Op: "put", Path: sess.Path, SHA256: b.SHA256}}}, func(tx store.Tx, rev *domain.Revision) error {
			return s.finishSession(ctx, tx, id, b.SHA256, &rev.Number)
		})
		if err == nil && !rr.Created {
			err = s.store.Tx(ctx, func(tx store.Tx) error { return s.finishSession(ctx, tx, id, b.SHA256, &rr.Revision.Number) })
		}
		if err != nil {
			// The content is stored and recorded; only the revision failed
			// (another writer, --expect-revision): it can be made apart.
			ferr := s.store.Tx(context.WithoutCancel(ctx), func(tx store.Tx) error { return s.finishSession(ctx, tx, id, b.SHA256, nil) })
			if ferr != nil {
				s.log.Warn("recording a completed upload session", "err", ferr)
			}
			return nil, &domain.Error{Kind: domain.KindOf(err), Err: err, Message: domain.PublicMessage(err) +
				fmt.Sprintf(" The file's content is uploaded (SHA-256 %s) and kept for %s: put it in a revision with POST .../revisions, or upload the file again.", b.SHA256, shortDuration(s.blobGrace))}
		}
		res.Revision = rr
	}
	res.Session, err = s.store.UploadSession(ctx, id)
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (s *Service) finishSession(ctx context.Context, tx store.Tx, id, sha string, rev *int) error {
	ok, err := tx.FinishUploadSession(ctx, id, sha, rev, s.now())
	if err != nil {
		return err
	}
	if !ok {
		return domain.Errorf(domain.KindConflict, "upload session %s was completed or aborted meanwhile", id)
	}
	return nil
}

func completedError(sess *domain.UploadSession) error {
	what := fmt.Sprintf("its content is stored (SHA-256 %s)", sess.SHA256)
	if sess.Revision != nil {
		what = fmt.Sprintf("revision %d holds its file", *sess.Revision)
	}
	return domain.Errorf(domain.KindConflict, "upload session %s was already completed: %s", sess.ID, what)
}

// reopenSession gives back a claim whose completion failed for a reason
// that a retry may not meet.
func (s *Service) reopenSession(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.store.Tx(ctx, func(tx store.Tx) error { return tx.ReopenUploadSession(ctx, id, s.now()) }); err != nil {
		s.log.Warn("reopening an upload session", "err", err)
	}
}

// AbortUploadSession ends a session and removes its parts.
func (s *Service) AbortUploadSession(ctx context.Context, a *Actor, projectKey, version, id string) error {
	rel, err := s.release(ctx, a, OpUpload, projectKey, version)
	if err != nil {
		return err
	}
	sess, err := s.ownSession(ctx, a, rel, id)
	if err != nil {
		return err
	}
	if sess.State == domain.SessionCompleting {
		return domain.Errorf(domain.KindConflict, "upload session %s is being completed", id)
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		// Not while a completion holds it (it may have begun since).
		ok, err := tx.DeleteUploadSession(ctx, id, domain.SessionOpen, domain.SessionCompleted)
		if err != nil {
			return err
		}
		if !ok {
			return domain.Errorf(domain.KindConflict, "upload session %s is being completed, or is gone already", id)
		}
		return s.audit(ctx, tx, a, "upload-session.abort", releaseTarget(rel), map[string]any{"session": id, "path": sess.Path, "received": sess.Received})
	})
	if err != nil {
		return err
	}
	if sess.State == domain.SessionOpen {
		s.abortStaged(sess.StagingKey)
	}
	return nil
}

// sweepSessions removes expired sessions and their parts; it returns how
// many. A session is removed by a conditional delete first, so that its
// parts go only once nobody can complete it.
func (s *Service) sweepSessions(ctx context.Context) (int, error) {
	n := 0
	for {
		expired, err := s.store.ExpiredUploadSessions(ctx, s.now(), 100)
		if err != nil || len(expired) == 0 {
			return n, err
		}
		for _, sess := range expired {
			var gone bool
			err := s.store.Tx(ctx, func(tx store.Tx) error {
				var err error
				gone, err = tx.DeleteUploadSession(ctx, sess.ID)
				return err
			})
			if err != nil {
				return n, err
			}
			if gone && sess.State != domain.SessionCompleted {
				if err := s.blobs.AbortStaged(ctx, sess.StagingKey); err != nil {
					s.log.Warn("storage sweep: removing an expired upload session's parts", "err", err)
				}
			}
			if gone {
				n++
			}
		}
		if len(expired) < 100 {
			return n, nil
		}
	}
}
