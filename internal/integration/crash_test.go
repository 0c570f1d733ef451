package integration

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"trel/client"
)

// slowReader yields fast bytes quickly, then trickles 64 KiB every 20ms
// until it is closed: an upload that is well under way and far from done.
type slowReader struct {
	fast   int64
	sent   int64
	block  []byte
	closed chan struct{}
	once   sync.Once
}

func newSlowReader(fast int64) *slowReader {
	return &slowReader{fast: fast, block: pseudoRandom("slow", 64<<10), closed: make(chan struct{})}
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.sent >= s.fast {
		select {
		case <-s.closed:
			return 0, errors.New("slow reader closed")
		case <-time.After(20 * time.Millisecond):
		}
	}
	n := copy(p, s.block[s.sent%int64(len(s.block)):])
	s.sent += int64(n)
	return n, nil
}

func (s *slowReader) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// uploadInBackground starts streaming a 200 MiB upload through the client
// and returns a channel that yields its error.
func uploadInBackground(ctx context.Context, t *testing.T, c *client.Client, version string) (<-chan error, *slowReader) {
	r := newSlowReader(8 << 20)
	t.Cleanup(func() { r.Close() })
	errc := make(chan error, 1)
	go func() {
		b, err := c.UploadContent(ctx, "widget", version, r, 200<<20)
		if err == nil {
			err = errors.New("the upload unexpectedly completed: " + b.SHA256)
		}
		errc <- err
	}()
	return errc, r
}

// waitForPartial waits until an upload in progress has written at least
// min bytes to the blob tmp directory.
func waitForPartial(t *testing.T, tmp string, min int64, errc <-chan error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-errc:
			t.Fatalf("the upload ended before it was interrupted: %v", err)
		default:
		}
		for _, name := range dirEntries(t, tmp) {
			if st, err := os.Stat(filepath.Join(tmp, name)); err == nil && st.Size() >= min {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no upload of at least %d bytes appeared in %s within 20s", min, tmp)
}

func waitErr(t *testing.T, errc <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: the upload did not return within 20s", what)
		return nil
	}
}

// TestCrashDuringUpload kills the server (SIGKILL) in the middle of a
// large upload, and cancels another upload from the client side: neither
// may leave a revision, a temporary file or a partial blob behind.
func TestCrashDuringUpload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	if _, err := w.aliceC.StartRelease(ctx, "widget", "3.0.0"); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	writeFile(t, filepath.Join(work, "base.txt"), []byte("base\n"))
	w.bob.ok(t, "upload", "widget", "3.0.0", filepath.Join(work, "base.txt"))
	baseline, err := w.bobC.Revision(ctx, "widget", "3.0.0", 0)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(w.data, "blobs", "tmp")
	objects := checkObjects(t, w.data)

	t.Run("server killed", func(t *testing.T) {
		errc, _ := uploadInBackground(ctx, t, w.bobC, "3.0.0")
		waitForPartial(t, tmp, 2<<20, errc)
		w.srv.kill()
		if err := waitErr(t, errc, "after SIGKILL"); err == nil || strings.Contains(err.Error(), "unexpectedly completed") {
			t.Fatalf("the upload to a killed server should fail: %v", err)
		}
		if len(dirEntries(t, tmp)) == 0 {
			t.Fatalf("the killed server should have left its partial upload in %s (else this test proves nothing)", tmp)
		}
		w.srv = w.srv.restart()
		if !w.srv.healthy() {
			t.Fatalf("/healthz after restart")
		}
		if left := dirEntries(t, tmp); len(left) != 0 {
			t.Errorf("the restarted server should have removed stale uploads; %s holds %v", tmp, left)
		}
		if n := checkObjects(t, w.data); n != objects {
			t.Errorf("the blob store holds %d objects after the crash, want %d", n, objects)
		}
		latest, err := w.bobC.Revision(ctx, "widget", "3.0.0", 0)
		if err != nil || !reflect.DeepEqual(latest, baseline) {
			t.Errorf("the crash must not change the release: %+v (%v)", latest, err)
		}
		if n := revisionCount(t, w.bobC, "widget", "3.0.0"); n != 1 {
			t.Errorf("the crashed upload created a revision: %d revisions", n)
		}
		// A new upload works, and its content survives a round trip.
		content := pseudoRandom("after-crash", 3<<20+5)
		writeFile(t, filepath.Join(work, "after.bin"), content)
		if out := w.bob.ok(t, "upload", "widget", "3.0.0", filepath.Join(work, "after.bin")); !strings.Contains(out, "Created revision 2") {
			t.Errorf("upload after the crash printed %q", out)
		}
		r := w.bob.runIn(t, work, "", "download", "widget", "3.0.0", "after.bin", "-o", "back.bin")
		if r.code != 0 {
			t.Fatalf("download after the crash: %s", r)
		}
		checkFile(t, filepath.Join(work, "back.bin"), content)
		objects = checkObjects(t, w.data)
		if objects != 2 {
			t.Errorf("want 2 objects after the crash and one good upload, got %d", objects)
		}
	})

	t.Run("client cancelled", func(t *testing.T) {
		revs := revisionCount(t, w.bobC, "widget", "3.0.0")
		uploads := countUploads(t, w.adminC)
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		errc, _ := uploadInBackground(cctx, t, w.bobC, "3.0.0")
		waitForPartial(t, tmp, 2<<20, errc)
		cancel()
		if err := waitErr(t, errc, "after cancel"); !errors.Is(err, context.Canceled) {
			t.Errorf("a cancelled upload should fail with context.Canceled, got %v", err)
		}
		if !eventually(10*time.Second, func() bool { return len(dirEntries(t, tmp)) == 0 }) {
			t.Errorf("the server should remove an abandoned upload; %s still holds %v after 10s", tmp, dirEntries(t, tmp))
		}
		select {
		case <-w.srv.done:
			t.Fatalf("the server died: %v", w.srv.waitErr)
		default:
		}
		if !w.srv.healthy() {
			t.Errorf("/healthz after a cancelled upload")
		}
		if n := revisionCount(t, w.bobC, "widget", "3.0.0"); n != revs {
			t.Errorf("the cancelled upload changed the revision count to %d, want %d", n, revs)
		}
		// The truncated body must not become a blob. (It does today:
		// io.ReadFull passes the request body's own io.ErrUnexpectedEOF
		// through, and blob.HashCopy takes that for the short last chunk
		// of a complete input, so Put renames the partial file into
		// objects/ before the cancelled context fails the transaction.)
		if n := checkObjects(t, w.data); n != objects {
			t.Errorf("the blob store holds %d objects after the cancelled upload, want %d: the truncated body was stored as a complete blob", n, objects)
		}
		if n := countUploads(t, w.adminC); n != uploads {
			t.Errorf("only completed uploads belong in the audit log: %d recorded, want %d", n, uploads)
		}
		// And the server still takes uploads.
		if b, err := w.bobC.UploadContent(ctx, "widget", "3.0.0", strings.NewReader("still fine\n"), -1); err != nil || b.SHA256 != sha256Hex([]byte("still fine\n")) {
			t.Errorf("upload after a cancelled one: %+v %v", b, err)
		}
	})
}

// countUploads counts the file.upload events of the audit log.
func countUploads(t *testing.T, admin *client.Client) int {
	t.Helper()
	evs, err := admin.Audit(context.Background(), 1000)
	if err != nil {
		t.Fatalf("reading the audit log: %v", err)
	}
	n := 0
	for _, e := range evs {
		if e.Action == "file.upload" {
			n++
		}
	}
	return n
}
