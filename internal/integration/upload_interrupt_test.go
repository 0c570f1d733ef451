package integration

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// stallProxy relays TCP connections to target, but stops passing a
// connection's request bytes once more than after of them went through:
// an upload that hangs half-way, as on a dead network.
type stallProxy struct {
	ln      net.Listener
	stalled chan struct{} // closed when a connection stalls
	done    chan struct{} // closed at the end of the test
	once    sync.Once
}

func newStallProxy(t *testing.T, target string, after int64) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, stalled: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { close(p.done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.relay(c, target, after)
		}
	}()
	return p
}

func (p *stallProxy) relay(c net.Conn, target string, after int64) {
	defer c.Close()
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	go io.Copy(c, s)
	if _, err := io.CopyN(s, c, after); err != nil {
		return
	}
	p.once.Do(func() { close(p.stalled) })
	// Read nothing more: the client's writes block, as on a hung network.
	<-p.done
}

// TestInterruptedUploadSaysNothingChanged: `trel upload` of a large file
// writes progress lines when standard error is not a terminal; stopped
// with Ctrl-C while the network hangs, it says that nothing changed and
// prints the command that tries again; that command, run as printed,
// makes the revision.
func TestInterruptedUploadSaysNothingChanged(t *testing.T) {
	w := newWorld(t)
	w.alice.ok(t, "release", "start", "widget", "1.0")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "big file.bin"), pseudoRandom("big", 32<<20))

	proxy := newStallProxy(t, w.srv.addr, 12<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, trelBin, "upload", "widget", "1.0", "big file.bin", "--to", "dist")
	cmd.Env = append(baseEnv(w.alice.home), "TREL_CONFIG="+w.alice.config, "TREL_SERVER=http://"+proxy.ln.Addr().String(), "TREL_TOKEN="+w.alice.token)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-proxy.stalled:
	case <-time.After(30 * time.Second):
		t.Fatalf("the upload never reached the proxy's limit: %s", stderr.String())
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("interrupted upload: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	msg := stderr.String()
	for _, want := range []string{
		"uploading dist/big file.bin: 10% (3.2 MiB of 32.0 MiB)\n", // lines, not a bar
		"the upload was interrupted",
		"Nothing changed in widget 1.0",
		"To try again, run:\n  trel upload widget 1.0 'big file.bin' --to dist\n",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "\r") || strings.Contains(msg, "100%") {
		t.Errorf("a bar or a finished upload on a hung network:\n%s", msg)
	}
	if n := revisionCount(t, w.aliceC, "widget", "1.0"); n != 0 {
		t.Fatalf("%d revisions after an interrupted upload, want none", n)
	}

	// The printed command, as printed (through a shell), uploads the file.
	retry := msg[strings.Index(msg, "To try again, run:\n  ")+len("To try again, run:\n  "):]
	retry = strings.TrimSpace(strings.SplitN(retry, "\n", 2)[0])
	sh := exec.CommandContext(ctx, "sh", "-c", strings.Replace(retry, "trel ", trelBin+" ", 1))
	sh.Env = append(baseEnv(w.alice.home), "TREL_CONFIG="+w.alice.config, "TREL_SERVER="+w.srv.url, "TREL_TOKEN="+w.alice.token)
	sh.Dir = dir
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", retry, err, out)
	}
	if !strings.Contains(string(out), "Created revision 1 of widget 1.0 (1 files).") || !strings.Contains(string(out), "uploading dist/big file.bin: 100% (32.0 MiB of 32.0 MiB)") {
		t.Fatalf("%s:\n%s", retry, out)
	}
}
