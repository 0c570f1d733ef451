package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"trel/client"
)

// heldUpload is an upload whose body the test sends only when told.
type heldUpload struct {
	pw   *io.PipeWriter
	errc chan error
}

// holdUpload starts an upload of 6 bytes through c and sends none of them.
func holdUpload(ctx context.Context, c *client.Client, version string) *heldUpload {
	pr, pw := io.Pipe()
	h := &heldUpload{pw: pw, errc: make(chan error, 1)}
	go func() {
		_, err := c.UploadContent(ctx, "widget", version, pr, 6)
		h.errc <- err
	}()
	return h
}

// finish sends the body and waits for the answer.
func (h *heldUpload) finish(t *testing.T) {
	t.Helper()
	go func() { h.pw.Write([]byte("held!\n")); h.pw.Close() }()
	if err := <-h.errc; err != nil {
		t.Fatalf("a held upload failed: %v", err)
	}
}

func leases(t *testing.T, pg string) int {
	var n int
	pgQuery(t, pg, func(c *pgx.Conn) error {
		return c.QueryRow(context.Background(), `SELECT count(*) FROM upload_leases`).Scan(&n)
	})
	return n
}

// TestUploadBoundAcrossReplicas: --uploads-per-user counts a user's
// uploads in progress on every replica (leases in the database): two held
// on A refuse a third on A or B with 429 and Retry-After; `trel upload` of
// a directory waits and completes instead of failing; a replica killed
// with uploads in progress gives their leases back when it starts again.
func TestUploadBoundAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	w := newReplicaWorldWith(t, nil, []string{"--uploads-per-user", "2"})
	w.alice["a"].ok(t, "release", "start", "widget", "6.0")

	h1, h2 := holdUpload(ctx, w.bobA, "6.0"), holdUpload(ctx, w.bobA, "6.0")
	if !eventually(10*time.Second, func() bool { return leases(t, w.pg) == 2 }) {
		t.Fatalf("%d leases for two uploads in progress", leases(t, w.pg))
	}
	for name, c := range map[string]*client.Client{"A": w.bobA, "B": w.bobB} {
		_, err := c.UploadContent(ctx, "widget", "6.0", strings.NewReader("third\n"), 6)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusTooManyRequests || ce.RetryAfter <= 0 || !strings.Contains(ce.Message, "2 uploads in progress") {
			t.Fatalf("a third upload through %s: %v (%+v), want 429 with Retry-After", name, err, ce)
		}
	}
	// Another user is not bound by bob's uploads.
	if _, err := w.aliceB.UploadContent(ctx, "widget", "6.0", strings.NewReader("alice\n"), 6); err != nil {
		t.Fatalf("alice's upload while bob's are held: %v", err)
	}

	// A directory upload through B waits for a free lease instead of
	// failing (4 files, --parallel 4 by default, one lease free soon).
	dir := filepath.Join(t.TempDir(), "dist")
	for i := range 4 {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("notes-%d.txt", i)), []byte(fmt.Sprintf("notes %d\n", i)))
	}
	done := make(chan result, 1)
	go func() { done <- w.bob["b"].run(t, "upload", "widget", "6.0", dir) }()
	time.Sleep(2 * time.Second)
	select {
	case r := <-done:
		t.Fatalf("the directory upload finished while the bound was full: %s", r)
	default:
	}
	h1.finish(t)
	r := <-done
	if r.code != 0 || !strings.Contains(r.stdout, "Created revision 1") || !strings.Contains(r.stderr, "busy with your other uploads") {
		t.Fatalf("directory upload against a full bound: %s", r)
	}
	if rev, err := w.bobB.Revision(ctx, "widget", "6.0", 1); err != nil || len(rev.Files) != 4 {
		t.Fatalf("revision 1: %+v %v", rev, err)
	}

	// Kill A with h2 in progress: its lease stays until A starts again.
	w.a.kill()
	h2.pw.CloseWithError(errors.New("the server died"))
	<-h2.errc
	if n := leases(t, w.pg); n != 1 {
		t.Fatalf("%d leases after A died with one upload in progress, want its 1", n)
	}
	h3 := holdUpload(ctx, w.bobB, "6.0")
	if !eventually(10*time.Second, func() bool { return leases(t, w.pg) == 2 }) {
		t.Fatal("the upload through B took no lease")
	}
	if _, err := w.bobB.UploadContent(ctx, "widget", "6.0", strings.NewReader("fourth\n"), 7); err == nil {
		t.Fatal("the dead replica's lease did not count")
	}
	w.a = w.a.restart()
	if n := leases(t, w.pg); n != 1 {
		t.Fatalf("%d leases after A started again, want B's 1", n)
	}
	if _, err := w.bobB.UploadContent(ctx, "widget", "6.0", strings.NewReader("fourth\n"), 7); err != nil {
		t.Fatalf("an upload after A dropped its dead leases: %v", err)
	}
	h3.finish(t)
	if n := leases(t, w.pg); n != 0 {
		t.Fatalf("%d leases left after every upload ended", n)
	}
}
