package api_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"trel/client"
	"trel/internal/api"
	"trel/internal/blob"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/store"
	"trel/internal/store/sqlstore"
)

// sessionWorld is a server on loopback with a draft alpha-lib 1.0 (one
// revision) and two committers, alice and bob; its clock can be moved.
type sessionWorld struct {
	dir        string
	st         store.Store
	blobs      *blob.Disk
	svc        *core.Service
	srv        *httptest.Server
	alice, bob *client.Client
	tokens     map[string]string
	skew       atomic.Int64
}

func newSessionWorld(t *testing.T, maxFileSize int64) *sessionWorld {
	t.Helper()
	ctx := context.Background()
	w := &sessionWorld{dir: t.TempDir()}
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(w.dir, "trel.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w.st = st
	w.blobs, _ = blob.NewDisk(filepath.Join(w.dir, "blobs"))
	w.svc = w.newService(maxFileSize)
	sys := core.SystemActor
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"alice", "bob"} {
		_, err := w.svc.CreateUser(ctx, sys, core.NewUser{Username: name, Email: name + "@example.org"})
		must(err)
	}
	_, err = w.svc.CreateCommittee(ctx, sys, "alpha", "Alpha")
	must(err)
	for _, name := range []string{"alice", "bob"} {
		_, err = w.svc.AddMember(ctx, sys, "alpha", name, domain.RoleMember)
		must(err)
	}
	_, err = w.svc.CreateProject(ctx, sys, "alpha-lib", "alpha", "Alpha Lib")
	must(err)
	tokens := map[string]string{}
	w.tokens = tokens
	for _, name := range []string{"alice", "bob"} {
		secret, _, err := w.svc.CreateToken(ctx, sys, name, "t", core.DefaultTokenTTL)
		must(err)
		tokens[name] = secret
	}
	w.srv = httptest.NewServer(api.New(w.svc, slog.New(slog.NewTextHandler(io.Discard, nil)), nil))
	t.Cleanup(w.srv.Close)
	w.alice, w.bob = client.New(w.srv.URL, tokens["alice"]), client.New(w.srv.URL, tokens["bob"])
	_, err = w.alice.StartRelease(ctx, "alpha-lib", "1.0")
	must(err)
	b, err := w.alice.UploadContent(ctx, "alpha-lib", "1.0", strings.NewReader("first"), 5)
	must(err)
	_, err = w.alice.CreateRevision(ctx, "alpha-lib", "1.0", core.RevisionRequest{Changes: []core.Change{{Op: "put", Path: "README", SHA256: b.SHA256}}})
	must(err)
	return w
}

// newService is another process on the same database and blobs (a
// restarted server, or a second replica).
func (w *sessionWorld) newService(maxFileSize int64) *core.Service {
	return core.New(w.st, w.blobs, core.Options{MaxFileSize: maxFileSize, SessionChunkSize: chunk,
		Now: func() time.Time { return time.Now().Add(time.Duration(w.skew.Load())) }})
}

func (w *sessionWorld) staged(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(w.dir, "blobs", "staged"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return len(es)
}

// content is n bytes of text-free data (so that the secret scanner judges
// it binary at its start).
func content(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i/977)
	}
	return b
}

func sha512hex(b []byte) string { s := sha512.Sum512(b); return hex.EncodeToString(s[:]) }

func status(err error) (int, string) {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Status, ce.Message
	}
	if err != nil {
		return -1, err.Error()
	}
	return 0, ""
}

// chunk is the sessions' chunk size here: the smallest allowed, so that
// the tests move little data.
const chunk = core.MinSessionChunkSize

// TestUploadSessionEndToEnd: a file of two chunks and a bit, with one
// chunk sent at the wrong offset (409 and the server's offset), sent to
// two service instances (a restart between chunks), lands as one new
// revision with the right digests, audited like any upload; a second
// completion is refused and makes no revision.
func TestUploadSessionEndToEnd(t *testing.T) {
	ctx := context.Background()
	w := newSessionWorld(t, 1<<30)
	data := content(2*chunk + 1000)
	s, err := w.alice.StartUploadSession(ctx, "alpha-lib", "1.0", core.NewUploadSession{Path: "dist/big.bin", Size: int64(len(data)), SHA512: sha512hex(data)})
	if err != nil {
		t.Fatal(err)
	}
	if s.ChunkSize != chunk || s.Received != 0 || s.State != domain.SessionOpen || s.ExpiresAt.Sub(s.CreatedAt) != core.SessionTTL {
		t.Fatalf("new session: %+v", s)
	}
	if _, err := w.alice.PutChunk(ctx, "alpha-lib", "1.0", s.ID, 0, bytes.NewReader(data[:chunk]), chunk); err != nil {
		t.Fatal(err)
	}
	// A client that lost track sends chunk 0 again: 409 with the offset.
	_, err = w.alice.PutChunk(ctx, "alpha-lib", "1.0", s.ID, 0, bytes.NewReader(data[:chunk]), chunk)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 409 || !ce.HasOffset || ce.Offset != chunk {
		t.Fatalf("a chunk at a stale offset: %v (%+v)", err, ce)
	}
	// The server restarts: another service instance on the same database
	// and blobs takes the next chunks (the digests continue from the
	// saved state).
	srv2 := httptest.NewServer(api.New(w.newService(1<<30), slog.New(slog.NewTextHandler(io.Discard, nil)), nil))
	defer srv2.Close()
	alice2 := client.New(srv2.URL, w.tokens["alice"])
	if _, err := alice2.PutChunk(ctx, "alpha-lib", "1.0", s.ID, chunk, bytes.NewReader(data[chunk:2*chunk]), chunk); err != nil {
		t.Fatal(err)
	}
	st, err := alice2.PutChunk(ctx, "alpha-lib", "1.0", s.ID, 2*chunk, bytes.NewReader(data[2*chunk:]), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if st.Received != int64(len(data)) {
		t.Fatalf("received %d of %d", st.Received, len(data))
	}
	res, err := w.alice.CompleteUploadSession(ctx, "alpha-lib", "1.0", s.ID, core.CompleteUploadSession{SHA512: sha512hex(data), Description: "the big one"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Blob.SHA512 != sha512hex(data) || res.Blob.Size != int64(len(data)) || res.Revision == nil || res.Revision.Revision.Number != 2 || !res.Revision.Created {
		t.Fatalf("completion: %+v %+v", res.Blob, res.Revision)
	}
	if res.Session.State != domain.SessionCompleted || res.Session.Revision == nil || *res.Session.Revision != 2 {
		t.Fatalf("completed session: %+v", res.Session)
	}
	var got bytes.Buffer
	if _, err := w.alice.Download(ctx, "alpha-lib", "1.0", 2, "dist/big.bin", &got); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("download: %v, %d bytes", err, got.Len())
	}
	rev, _ := w.alice.Revision(ctx, "alpha-lib", "1.0", 2)
	if len(rev.Files) != 2 || rev.Description != "the big one" {
		t.Fatalf("revision 2: %+v", rev)
	}
	// Audited as a normal upload, plus the session's start.
	evs, _, err := w.svc.AuditPage(ctx, core.SystemActor, store.AuditFilter{}, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range evs {
		seen[e.Action]++
	}
	if seen["upload-session.start"] != 1 || seen["file.upload"] != 2 || seen["revision.create"] != 2 {
		t.Fatalf("audit: %v", seen)
	}
	if code, msg := status(func() error {
		_, err := w.alice.CompleteUploadSession(ctx, "alpha-lib", "1.0", s.ID, core.CompleteUploadSession{})
		return err
	}()); code != 409 || !strings.Contains(msg, "already completed") || !strings.Contains(msg, "revision 2") {
		t.Fatalf("a second completion: %d %s", code, msg)
	}
	if revs, _ := w.alice.ListRevisions(ctx, "alpha-lib", "1.0"); len(revs) != 2 {
		t.Fatalf("%d revisions after a second completion", len(revs))
	}
	if n := w.staged(t); n != 0 {
		t.Fatalf("%d staged files left", n)
	}
}

// TestUploadSessionRefusals: each refusal says what was wrong and what to
// do, and changes nothing.
func TestUploadSessionRefusals(t *testing.T) {
	ctx := context.Background()
	w := newSessionWorld(t, 1<<30)
	start := func(t *testing.T, c *client.Client, size int, sha string) *domain.UploadSession {
		t.Helper()
		s, err := c.StartUploadSession(ctx, "alpha-lib", "1.0", core.NewUploadSession{Path: "big.bin", Size: int64(size), SHA512: sha})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	put := func(c *client.Client, s *domain.UploadSession, off int, b []byte) error {
		_, err := c.PutChunk(ctx, "alpha-lib", "1.0", s.ID, int64(off), bytes.NewReader(b), int64(len(b)))
		return err
	}

	t.Run("fail/declarations that cannot be", func(t *testing.T) {
		for _, req := range []core.NewUploadSession{
			{Path: "big.bin", Size: 0}, {Path: "../x", Size: 10}, {Path: "big.bin", Size: 10, SHA512: "abc"},
			{Path: "id_rsa", Size: 10}, {Path: "big.bin", Size: 2 << 30},
		} {
			if _, err := w.alice.StartUploadSession(ctx, "alpha-lib", "1.0", req); err == nil {
				t.Errorf("%+v was accepted", req)
			}
		}
	})

	t.Run("fail/a chunk beyond the declared size", func(t *testing.T) {
		s := start(t, w.alice, 100, "")
		code, msg := status(put(w.alice, s, 0, content(101)))
		if code != 413 || !strings.Contains(msg, "beyond the 100 bytes declared") {
			t.Fatalf("%d %s", code, msg)
		}
	})

	t.Run("fail/a chunk of the wrong length", func(t *testing.T) {
		s := start(t, w.alice, chunk+10, "")
		code, msg := status(put(w.alice, s, 0, content(1000)))
		if code != 400 || !strings.Contains(msg, fmt.Sprintf("exactly %d bytes", chunk)) {
			t.Fatalf("%d %s", code, msg)
		}
	})

	t.Run("fail/another user cannot see, send to, complete or abort a session", func(t *testing.T) {
		s := start(t, w.alice, 10, "")
		for what, err := range map[string]error{
			"status": func() error { _, err := w.bob.UploadSession(ctx, "alpha-lib", "1.0", s.ID); return err }(),
			"chunk":  put(w.bob, s, 0, content(10)),
			"complete": func() error {
				_, err := w.bob.CompleteUploadSession(ctx, "alpha-lib", "1.0", s.ID, core.CompleteUploadSession{})
				return err
			}(),
			"abort": w.bob.AbortUploadSession(ctx, "alpha-lib", "1.0", s.ID),
		} {
			if code, _ := status(err); code != 404 {
				t.Errorf("bob's %s: %v", what, err)
			}
		}
		if ss, _ := w.bob.UploadSessions(ctx, "", ""); len(ss) != 0 {
			t.Errorf("bob lists %d sessions", len(ss))
		}
		if got, err := w.alice.UploadSession(ctx, "alpha-lib", "1.0", s.ID); err != nil || got.Received != 0 {
			t.Fatalf("alice's session after bob: %+v %v", got, err)
		}
	})

	t.Run("fail/completing with bytes missing", func(t *testing.T) {
		s := start(t, w.alice, chunk+10, "")
		if err := put(w.alice, s, 0, content(chunk)); err != nil {
			t.Fatal(err)
		}
		_, err := w.alice.CompleteUploadSession(ctx, "alpha-lib", "1.0", s.ID, core.CompleteUploadSession{})
		code, msg := status(err)
		if code != 409 || !strings.Contains(msg, fmt.Sprintf("received %d of %d bytes", chunk, chunk+10)) || !strings.Contains(msg, fmt.Sprintf("from offset %d", chunk)) {
			t.Fatalf("%d %s", code, msg)
		}
	})

	t.Run("fail/a SHA-512 other than declared discards the session", func(t *testing.T) {
		data := content(5000)
		wrong := sha512hex([]byte("another file"))
		s := start(t, w.alice, len(data), wrong)
		if err := put(w.alice, s, 0, data); err != nil {
			t.Fatal(err)
		}
		before := w.staged(t)
		_, err := w.alice.CompleteUploadSession(ctx, "alpha-lib", "1.0", s.ID, core.CompleteUploadSession{})
		code, msg := status(err)
		if code != 400 || !strings.Contains(msg, "has SHA-512 "+sha512hex(data)[:16]) || !strings.Contains(msg, wrong[:16]) || !strings.Contains(msg, "upload the file again") {
			t.Fatalf("%d %s", code, msg)
		}
		if _, err := w.alice.UploadSession(ctx, "alpha-lib", "1.0", s.ID); err == nil {
			t.Fatal("the session is still there")
		}
		if w.staged(t) != before-1 {
			t.Fatal("its staged bytes are still there")
		}
		// The client's own digest at completion is checked the same way.
		s = start(t, w.alice, len(data), "")
		put(w.alice, s, 0, data)
		_, err = w.alice.CompleteUploadSession(ctx, "alpha-lib", "1.0", s.ID, core.CompleteUploadSession{SHA512: wrong})
		if code, _ := status(err); code != 400 {
			t.Fatalf("a wrong digest at completion: %v", err)
		}
		s = start(t, w.alice, len(data), "")
		put(w.alice, s, 0, data)
		_, err = w.alice.CompleteUploadSession(ctx, "alpha-lib", "1.0", s.ID, core.CompleteUploadSession{SHA256: strings.Repeat("0", 64)})
		if code, msg := status(err); code != 400 || !strings.Contains(msg, "has SHA-256 ") {
			t.Fatalf("a wrong SHA-256 at completion: %v", err)
		}
	})

	t.Run("fail/a chunk that dies midway is not counted, and is sent again at the same offset", func(t *testing.T) {
		data := content(chunk + 10)
		s := start(t, w.alice, len(data), sha512hex(data))
		dying := io.MultiReader(bytes.NewReader(data[:1<<20]), failAfter{})
		if err := func() error {
			_, err := w.alice.PutChunk(ctx, "alpha-lib", "1.0", s.ID, 0, dying, chunk)
			return err
		}(); err == nil {
			t.Fatal("a dying chunk succeeded")
		}
		got, err := w.alice.UploadSession(ctx, "alpha-lib", "1.0", s.ID)
		if err != nil || got.Received != 0 {
			t.Fatalf("after a dying chunk: %+v %v", got, err)
		}
		if err := put(w.alice, s, 0, data[:chunk]); err != nil {
			t.Fatal(err)
		}
		if err := put(w.alice, s, chunk, data[chunk:]); err != nil {
			t.Fatal(err)
		}
		res, err := w.alice.CompleteUploadSession(ctx, "alpha-lib", "1.0", s.ID, core.CompleteUploadSession{ContentOnly: true})
		if err != nil || res.Blob.SHA512 != sha512hex(data) || res.Revision != nil {
			t.Fatalf("completion after a dying chunk: %+v %v", res, err)
		}
	})

	t.Run("fail/an expired session takes nothing and is swept with its bytes", func(t *testing.T) {
		s := start(t, w.alice, chunk+10, "")
		if err := put(w.alice, s, 0, content(chunk)); err != nil {
			t.Fatal(err)
		}
		before := w.staged(t)
		w.skew.Store(int64(core.SessionTTL + time.Minute))
		defer w.skew.Store(0)
		code, msg := status(put(w.alice, s, chunk, content(10)))
		if code != 404 || !strings.Contains(msg, "expired") {
			t.Fatalf("a chunk after expiry: %d %s", code, msg)
		}
		if _, err := w.alice.CompleteUploadSession(ctx, "alpha-lib", "1.0", s.ID, core.CompleteUploadSession{}); err == nil {
			t.Fatal("an expired session completed")
		}
		rep, err := w.svc.SweepBlobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Sessions < 1 || w.staged(t) >= before {
			t.Fatalf("the sweep: %+v, %d staged files (before %d)", rep, w.staged(t), before)
		}
		w.skew.Store(0)
		if _, err := w.alice.UploadSession(ctx, "alpha-lib", "1.0", s.ID); err == nil {
			t.Fatal("the swept session is still there")
		}
	})

	t.Run("ok/abort removes the session and its bytes", func(t *testing.T) {
		s := start(t, w.alice, chunk+10, "")
		put(w.alice, s, 0, content(chunk))
		before := w.staged(t)
		if err := w.alice.AbortUploadSession(ctx, "alpha-lib", "1.0", s.ID); err != nil {
			t.Fatal(err)
		}
		if w.staged(t) != before-1 {
			t.Fatal("the staged bytes are still there")
		}
		if code, _ := status(put(w.alice, s, chunk, content(10))); code != 404 {
			t.Fatal("an aborted session took a chunk")
		}
	})

	t.Run("fail/a stale expected revision conflicts and keeps the content", func(t *testing.T) {
		zero := 0
		s, err := w.alice.StartUploadSession(ctx, "alpha-lib", "1.0", core.NewUploadSession{Path: "late.bin", Size: 10, ExpectRevision: &zero})
		if err != nil {
			t.Fatal(err)
		}
		put(w.alice, s, 0, content(10))
		_, err = w.alice.CompleteUploadSession(ctx, "alpha-lib", "1.0", s.ID, core.CompleteUploadSession{})
		code, msg := status(err)
		if code != 409 || !strings.Contains(msg, "content is uploaded") {
			t.Fatalf("%d %s", code, msg)
		}
		got, _ := w.alice.UploadSession(ctx, "alpha-lib", "1.0", s.ID)
		if got.State != domain.SessionCompleted || got.SHA256 == "" || got.Revision != nil {
			t.Fatalf("the session after the conflict: %+v", got)
		}
	})
}

type failAfter struct{}

func (failAfter) Read([]byte) (int, error) { return 0, errors.New("client killed") }

// TestUploadSessionSecretAcrossChunks: a token whose first half ends the
// first chunk and second half starts the second is found, the session is
// discarded with its bytes and the refusal audited.
func TestUploadSessionSecretAcrossChunks(t *testing.T) {
	ctx := context.Background()
	w := newSessionWorld(t, 1<<30)
	token := "ghp_" + "R7kQ2mZx9LpT4vWc8NbY3hJd6FsA1gEu5oKi" // 36 characters that look random
	line := "ordinary release notes, nothing to see\n"
	tail := "token = " + token[:13]
	body := strings.Repeat(line, (chunk-len(tail)-1)/len(line))
	pad := chunk - len(body) - len(tail)
	first := []byte(body + strings.Repeat("x", pad-1) + "\n" + tail)
	// The second chunk is a whole one: the server finds the token at its
	// start and still answers with the refusal, not a reset connection.
	rest := token[13:] + "\n"
	second := []byte(rest + strings.Repeat("x", chunk-len(rest)-1) + "\n")
	data := append(append([]byte{}, first...), second...)
	s, err := w.alice.StartUploadSession(ctx, "alpha-lib", "1.0", core.NewUploadSession{Path: "NOTES.txt", Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.alice.PutChunk(ctx, "alpha-lib", "1.0", s.ID, 0, bytes.NewReader(first), chunk); err != nil {
		t.Fatalf("the first half of the token alone was refused: %v", err)
	}
	_, err = w.alice.PutChunk(ctx, "alpha-lib", "1.0", s.ID, chunk, bytes.NewReader(second), int64(len(second)))
	code, msg := status(err)
	if code != 400 || !strings.Contains(msg, "GitHub token") || strings.Contains(msg, token[4:]) {
		t.Fatalf("%d %s", code, msg)
	}
	if _, err := w.alice.UploadSession(ctx, "alpha-lib", "1.0", s.ID); err == nil {
		t.Fatal("the session holding a secret is still there")
	}
	if n := w.staged(t); n != 0 {
		t.Fatalf("%d staged files left", n)
	}
	evs, _, _ := w.svc.AuditPage(ctx, core.SystemActor, store.AuditFilter{}, 0, 50)
	found := false
	for _, e := range evs {
		found = found || e.Action == "file.refused-secret"
	}
	if !found {
		t.Fatal("the refusal was not audited")
	}
}

// TestUploadSessionRaces: racing completions make exactly one revision;
// racing starts never exceed the open-session bound, nor the reserved
// bytes.
func TestUploadSessionRaces(t *testing.T) {
	ctx := context.Background()
	w := newSessionWorld(t, 40<<30)

	data := content(3000)
	s, err := w.alice.StartUploadSession(ctx, "alpha-lib", "1.0", core.NewUploadSession{Path: "race.bin", Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.alice.PutChunk(ctx, "alpha-lib", "1.0", s.ID, 0, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var won, lost atomic.Int32
	for range 8 {
		wg.Go(func() {
			_, err := w.alice.CompleteUploadSession(ctx, "alpha-lib", "1.0", s.ID, core.CompleteUploadSession{})
			switch code, msg := status(err); {
			case code == 0:
				won.Add(1)
			case code == 409:
				lost.Add(1)
			default:
				t.Errorf("a racing completion: %d %s", code, msg)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || lost.Load() != 7 {
		t.Fatalf("%d completions succeeded, %d refused; want 1 and 7", won.Load(), lost.Load())
	}
	if revs, _ := w.alice.ListRevisions(ctx, "alpha-lib", "1.0"); len(revs) != 2 {
		t.Fatalf("%d revisions after racing completions, want 2", len(revs))
	}

	// Racing starts: at most MaxOpenSessions (the one above is completed
	// and no longer counts).
	var ok, refused atomic.Int32
	for i := range 3 * core.MaxOpenSessions {
		wg.Go(func() {
			_, err := w.bob.StartUploadSession(ctx, "alpha-lib", "1.0", core.NewUploadSession{Path: fmt.Sprintf("f%d.bin", i), Size: 100})
			switch code, msg := status(err); {
			case code == 0:
				ok.Add(1)
			case code == 409 && strings.Contains(msg, "the most allowed"):
				refused.Add(1)
			default:
				t.Errorf("a racing start: %d %s", code, msg)
			}
		})
	}
	wg.Wait()
	if ok.Load() != core.MaxOpenSessions || refused.Load() != 2*core.MaxOpenSessions {
		t.Fatalf("%d starts succeeded and %d were refused, want %d and %d", ok.Load(), refused.Load(), core.MaxOpenSessions, 2*core.MaxOpenSessions)
	}
	if n := w.staged(t); n != core.MaxOpenSessions+0 {
		t.Fatalf("%d staged uploads, want %d (refused starts leave none)", n, core.MaxOpenSessions)
	}
	// Reserved bytes: alice's 40 GiB session fits under 64 GiB, a second does not.
	if _, err := w.alice.StartUploadSession(ctx, "alpha-lib", "1.0", core.NewUploadSession{Path: "huge1.bin", Size: 40 << 30}); err != nil {
		t.Fatal(err)
	}
	_, err = w.alice.StartUploadSession(ctx, "alpha-lib", "1.0", core.NewUploadSession{Path: "huge2.bin", Size: 40 << 30})
	if code, msg := status(err); code != 409 || !strings.Contains(msg, "64.0 GiB") {
		t.Fatalf("over the reserved bytes: %d %s", code, msg)
	}
}
