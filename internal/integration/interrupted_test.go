package integration

import (
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestAnInterruptedUploadSaysNothingChanged: `trel upload` whose connection
// is cut in the middle of a large file fails saying that nothing changed
// and how to finish; the release has no revision; the same command run
// again uploads everything.
func TestAnInterruptedUploadSaysNothingChanged(t *testing.T) {
	w := newWorld(t)
	w.alice.ok(t, "release", "start", "widget", "1.0")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "big.bin"), pseudoRandom("interrupted", 48<<20))
	writeFile(t, filepath.Join(dir, "small.txt"), []byte("small\n"))

	cutAt := int64(8 << 20)
	cut := &cutter{t: t, target: strings.TrimPrefix(w.srv.url, "http://"), after: cutAt}
	through := newUser(t, "bob-cut").withToken("http://"+cut.listen(), w.bob.token)
	r := through.runIn(t, dir, "", "upload", "widget", "1.0", "big.bin", "small.txt")
	if r.code == 0 {
		t.Fatalf("an upload cut after %d bytes succeeded: %s", cutAt, r)
	}
	if cut.cuts.Load() == 0 {
		t.Fatalf("the connection was never cut: %s", r)
	}
	for _, want := range []string{"the upload failed", "Nothing changed in widget 1.0", "To try again, run:\n  trel upload widget 1.0 big.bin small.txt\n"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if out := w.bob.ok(t, "files", "widget", "1.0"); !strings.Contains(out, "no revision") && strings.Contains(out, "big.bin") {
		t.Fatalf("the interrupted upload made a revision:\n%s", out)
	}
	if _, err := w.bobC.Revision(t.Context(), "widget", "1.0", 1); err == nil {
		t.Fatal("revision 1 exists after an interrupted upload")
	}

	if out := w.bob.runIn(t, dir, "", "upload", "widget", "1.0", "big.bin", "small.txt"); out.code != 0 || !strings.Contains(out.stdout, "Created revision 1 of widget 1.0 (2 files)") {
		t.Fatalf("the same command again: %s", out)
	}

	// A refusal (here: a release that does not exist) is the server's
	// message alone: running the same command again would not help.
	r = w.bob.runIn(t, dir, "", "upload", "widget", "9.9", "small.txt")
	if r.code == 0 || !strings.Contains(r.stderr, `no release "9.9"`) || strings.Contains(r.stderr, "To try again") {
		t.Fatalf("a refused upload: %s", r)
	}
}

// cutter forwards loopback connections to target and closes any of them
// once it has carried more than after bytes towards target.
type cutter struct {
	t      *testing.T
	target string
	after  int64
	cuts   atomic.Int64
}

func (c *cutter) listen() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go c.forward(conn)
		}
	}()
	return ln.Addr().String()
}

func (c *cutter) forward(in net.Conn) {
	defer in.Close()
	out, err := net.DialTimeout("tcp", c.target, 5*time.Second)
	if err != nil {
		return
	}
	defer out.Close()
	go io.Copy(in, out)
	n, _ := io.Copy(out, io.LimitReader(in, c.after+1))
	if n > c.after {
		c.cuts.Add(1)
	}
}
