package integration

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
)

// relay is an HTTP reverse proxy in front of one or two trel servers (a
// load balancer): it counts the request bytes it passes on, lets a test
// stall them, and fails over to the second server when the first stops
// answering.
type relay struct {
	srv     *httptest.Server
	targets []*url.URL
	cur     atomic.Int32
	sent    atomic.Int64
	active  atomic.Int32 // requests being relayed
	// onBytes, when set, is called with the running total as request
	// bytes pass (it may block, to stall the upload).
	mu      sync.Mutex
	onBytes func(total int64)
}

func newRelay(t *testing.T, targets ...string) *relay {
	t.Helper()
	r := &relay{}
	for _, s := range targets {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		r.targets = append(r.targets, u)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(r.targets[r.cur.Load()]) },
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			if int(r.cur.Load())+1 < len(r.targets) {
				r.cur.Add(1) // the next server takes the following requests
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.active.Add(1)
		defer r.active.Add(-1)
		if req.Body != nil {
			req.Body = &countingBody{rc: req.Body, r: r}
		}
		rp.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *relay) setHook(fn func(total int64)) {
	r.mu.Lock()
	r.onBytes = fn
	r.mu.Unlock()
}

type countingBody struct {
	rc io.ReadCloser
	r  *relay
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	total := c.r.sent.Add(int64(n))
	c.r.mu.Lock()
	hook := c.r.onBytes
	c.r.mu.Unlock()
	if hook != nil {
		hook(total)
	}
	return n, err
}

func (c *countingBody) Close() error { return c.rc.Close() }

// stallAt makes the relay stall request bytes once more than at went
// through in total; it returns a channel closed when that happens and a
// function that lets the stalled bytes go (they then fail: the client is
// gone).
func (r *relay) stallAt(at int64) (<-chan struct{}, func()) {
	stalled, release := make(chan struct{}), make(chan struct{})
	var once, rel sync.Once
	r.setHook(func(total int64) {
		if total > at {
			once.Do(func() { close(stalled) })
			<-release
		}
	})
	return stalled, func() { rel.Do(func() { r.setHook(nil); close(release) }) }
}

// waitIdle waits until the relay passes no request: the bytes a killed
// client left in the socket have gone through (or failed), so that they
// are not counted as the next run's.
func (r *relay) waitIdle(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); r.active.Load() > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests still relayed 30 s after their client was killed", r.active.Load())
		}
	}
}

func sha512Hex(b []byte) string { s := sha512.Sum512(b); return hex.EncodeToString(s[:]) }

// TestResumableUploadAfterKilledClient: `trel upload` of a 120 MiB file
// (resumable above 16 MiB, in chunks of 16 MiB here) is interrupted with Ctrl-C while the
// network hangs: it says that nothing changed, what the server keeps and
// the command that continues. That command is killed (SIGKILL) later in
// the upload; run once more it says where it resumes, sends only what the
// server lacks, and makes one revision whose SHA-512 is the file's. The
// state file that remembers the session holds no secret and forgets the
// session once its revision exists.
func TestResumableUploadAfterKilledClient(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, "--upload-chunk-size", "16MiB")
	w.alice.ok(t, "release", "start", "widget", "1.0")
	dir := t.TempDir()
	const size = 120 << 20
	data := pseudoRandom("resumable", size)
	writeFile(t, filepath.Join(dir, "big.bin"), data)
	rl := newRelay(t, w.srv.url)
	args := []string{"upload", "widget", "1.0", "big.bin", "--to", "dist", "--resumable-over", "16MiB"}
	env := append(baseEnv(w.alice.home), "TREL_CONFIG="+w.alice.config, "TREL_SERVER="+rl.srv.URL, "TREL_TOKEN="+w.alice.token)
	statePath := filepath.Join(w.alice.home, ".local", "state", "trel", "uploads.json")
	received := func() int64 {
		t.Helper()
		ss, err := w.aliceC.UploadSessions(ctx, "widget", "1.0")
		if err != nil || len(ss) != 1 {
			t.Fatalf("sessions: %v %+v", err, ss)
		}
		return ss[0].Received
	}
	start := func() (*exec.Cmd, *syncBuffer, *syncBuffer) {
		cmd := exec.Command(trelBin, args...)
		cmd.Env, cmd.Dir = env, dir
		var stdout, stderr syncBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stdout, &stderr
	}
	waitStall := func(stalled <-chan struct{}, stderr *syncBuffer) {
		select {
		case <-stalled:
		case <-time.After(60 * time.Second):
			t.Fatalf("the upload never reached the stall: %s", stderr.String())
		}
	}

	// 1. Ctrl-C while the network hangs after 40 MiB.
	stalled, release := rl.stallAt(40 << 20)
	cmd, _, stderr := start()
	waitStall(stalled, stderr)
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	release()
	rl.waitIdle(t)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("interrupted: %v\n%s", err, stderr.String())
	}
	got := received()
	if got != 2*16<<20 {
		t.Fatalf("the server has %d bytes after the interrupt, want the two chunks before the stall", got)
	}
	msg := stderr.String()
	for _, want := range []string{
		"uploading dist/big.bin: 20% (24.0 MiB of 120.0 MiB)\n",
		"the upload was interrupted",
		"Nothing changed in widget 1.0",
		"the server keeps the 32.0 MiB of 120.0 MiB of dist/big.bin until ",
		"running the same command again resumes from there. To continue, run:\n  trel upload widget 1.0 big.bin --to dist --resumable-over 16MiB\n",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr lacks %q:\n%s", want, msg)
		}
	}
	state, err := os.ReadFile(statePath)
	if err != nil || bytes.Contains(state, []byte(w.alice.token)) || !bytes.Contains(state, []byte(`"path": "dist/big.bin"`)) {
		t.Fatalf("the state file (%v):\n%s", err, state)
	}

	// 2. The command again, killed (SIGKILL) when the network hangs after
	// 90 MiB in all.
	stalled, release = rl.stallAt(90 << 20)
	cmd, _, stderr = start()
	waitStall(stalled, stderr)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	release()
	rl.waitIdle(t)
	if !strings.Contains(stderr.String(), "resuming dist/big.bin at 32.0 MiB of 120.0 MiB\n") {
		t.Fatalf("the second run did not say it resumes:\n%s", stderr.String())
	}
	got = received()
	if got <= 32<<20 || got >= size {
		t.Fatalf("the server has %d bytes after the kill", got)
	}
	if n := revisionCount(t, w.aliceC, "widget", "1.0"); n != 0 {
		t.Fatalf("%d revisions before the upload completed", n)
	}

	// 3. Once more: it resumes, sends the rest only, and makes the revision.
	before := rl.sent.Load()
	cmd, stdout, stderr := start()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the last run: %v\n%s", err, stderr.String())
	}
	sent := rl.sent.Load() - before
	if want := fmt.Sprintf("resuming dist/big.bin at %s of 120.0 MiB\n", domain.HumanSize(got)); !strings.Contains(stderr.String(), want) {
		t.Fatalf("stderr lacks %q:\n%s", want, stderr.String())
	}
	if sent >= size || sent < size-got || sent > size-got+64<<10 {
		t.Fatalf("the last run sent %d bytes; the server lacked %d of %d", sent, size-got, size)
	}
	if !strings.Contains(stdout.String(), "Created revision 1 of widget 1.0 (1 files).") || !strings.Contains(stderr.String(), "100% (120.0 MiB of 120.0 MiB)") {
		t.Fatalf("the last run:\n%s\n%s", stdout.String(), stderr.String())
	}
	rev, err := w.aliceC.Revision(ctx, "widget", "1.0", 1)
	if err != nil || len(rev.Files) != 1 || rev.Files[0].Path != "dist/big.bin" || rev.Files[0].SHA512 != sha512Hex(data) || rev.Files[0].Size != size {
		t.Fatalf("revision 1: %+v %v", rev, err)
	}
	state, _ = os.ReadFile(statePath)
	if bytes.Contains(state, []byte("dist/big.bin")) {
		t.Fatalf("the state file still remembers the completed upload:\n%s", state)
	}
	if ss, err := w.aliceC.UploadSessions(ctx, "widget", "1.0"); err != nil || len(ss) != 0 {
		t.Fatalf("open sessions after the upload: %+v %v", ss, err)
	}
	if n := len(dirEntries(t, filepath.Join(w.data, "blobs", "staged"))); n != 0 {
		t.Fatalf("%d staged files left", n)
	}
}

// TestResumableUploadAcrossKilledReplica: two replicas share PostgreSQL
// and S3 behind a load balancer; the replica receiving a resumable
// upload's chunks is killed (SIGKILL) in the middle of one. The same
// `trel upload`, without being run again, retries the chunk against the
// other replica, which continues the session from the state in the
// database (the digests and the secret scanner included) and completes it:
// the revision's SHA-512 is the file's and its bytes read back.
func TestResumableUploadAcrossKilledReplica(t *testing.T) {
	ctx := context.Background()
	w := newReplicaWorldWith(t, nil, []string{"--upload-chunk-size", "16MiB"})
	w.alice["a"].ok(t, "release", "start", "widget", "4.0")
	dir := t.TempDir()
	const size = 96 << 20
	data := pseudoRandom("replica", size)
	writeFile(t, filepath.Join(dir, "big.bin"), data)
	rl := newRelay(t, w.a.url, w.b.url)
	var once sync.Once
	rl.setHook(func(total int64) {
		if total > 40<<20 {
			once.Do(func() {
				w.a.cmd.Process.Signal(syscall.SIGKILL)
				<-w.a.done
			})
		}
	})
	alice := w.alice["a"]
	cmd := exec.Command(trelBin, "upload", "widget", "4.0", "big.bin", "--resumable-over", "16MiB")
	cmd.Env = append(baseEnv(alice.home), "TREL_CONFIG="+alice.config, "TREL_SERVER="+rl.srv.URL, "TREL_TOKEN="+alice.token)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the upload failed: %v\n%s", err, stderr.String())
		}
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the upload did not finish:\n%s", stderr.String())
	}
	select {
	case <-w.a.done:
	default:
		t.Fatal("replica A was never killed: the test proves nothing")
	}
	if !strings.Contains(stderr.String(), "failed") || !strings.Contains(stderr.String(), "trying again in 1s") {
		t.Fatalf("no retry after the kill:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "Created revision 1 of widget 4.0 (1 files).") {
		t.Fatalf("stdout:\n%s", stdout.String())
	}
	rev, err := w.aliceB.Revision(ctx, "widget", "4.0", 1)
	if err != nil || len(rev.Files) != 1 || rev.Files[0].SHA512 != sha512Hex(data) || rev.Files[0].Size != size {
		t.Fatalf("revision 1: %+v %v", rev, err)
	}
	h := sha512.New()
	if _, err := w.aliceB.Download(ctx, "widget", "4.0", 1, "big.bin", h); err != nil || hex.EncodeToString(h.Sum(nil)) != sha512Hex(data) {
		t.Fatalf("the stored bytes differ from the file (%v)", err)
	}
}

// TestResumableUploadsOfSeveralFiles: two files over the threshold and a
// small one, with --parallel, land as one revision; `trel uploads` lists
// an open session (also as JSON) and `trel uploads abort` removes it.
func TestResumableUploadsOfSeveralFiles(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.alice.ok(t, "release", "start", "widget", "2.0")
	dir := t.TempDir()
	files := map[string][]byte{"a.bin": pseudoRandom("a", 3<<20+5), "b.bin": pseudoRandom("b", 2<<20), "small.txt": []byte("small\n")}
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), data)
	}
	r := w.alice.runIn(t, dir, "", "upload", "widget", "2.0", "a.bin", "b.bin", "small.txt", "--resumable-over", "1MiB", "--parallel", "3")
	if r.code != 0 || !strings.Contains(r.stdout, "Created revision 1 of widget 2.0 (3 files).") {
		t.Fatalf("%s", r)
	}
	rev, err := w.aliceC.Revision(ctx, "widget", "2.0", 1)
	if err != nil || len(rev.Files) != 3 {
		t.Fatalf("revision 1: %+v %v", rev, err)
	}
	for _, f := range rev.Files {
		if f.SHA512 != sha512Hex(files[f.Path]) {
			t.Errorf("%s: SHA-512 %s", f.Path, f.SHA512)
		}
	}
	if out := w.alice.ok(t, "uploads"); !strings.Contains(out, "No resumable uploads.") {
		t.Fatalf("trel uploads after completed uploads:\n%s", out)
	}

	s, err := w.aliceC.StartUploadSession(ctx, "widget", "2.0", core.NewUploadSession{Path: "later.bin", Size: 40 << 20})
	if err != nil {
		t.Fatal(err)
	}
	out := w.alice.ok(t, "uploads", "widget", "2.0")
	for _, want := range []string{s.ID, "widget 2.0", "later.bin", "0 B of 40.0 MiB", "open"} {
		if !strings.Contains(out, want) {
			t.Errorf("trel uploads lacks %q:\n%s", want, out)
		}
	}
	var listed struct{ Sessions []domain.UploadSession }
	w.alice.okJSON(t, &listed, "uploads")
	if len(listed.Sessions) != 1 || listed.Sessions[0].ID != s.ID || listed.Sessions[0].Size != 40<<20 {
		t.Fatalf("trel uploads --json: %+v", listed)
	}
	if out := w.bob.ok(t, "uploads"); !strings.Contains(out, "No resumable uploads.") {
		t.Fatalf("bob sees alice's upload:\n%s", out)
	}
	w.bob.fails(t, 1, []string{"no upload session " + s.ID + " of yours"}, "uploads", "abort", "widget", "2.0", s.ID)
	if out := w.alice.ok(t, "uploads", "abort", "widget", "2.0", s.ID); !strings.Contains(out, "Aborted upload session "+s.ID) {
		t.Fatalf("abort: %s", out)
	}
	if ss, _ := w.aliceC.UploadSessions(ctx, "", ""); len(ss) != 0 {
		t.Fatalf("sessions after the abort: %+v", ss)
	}
}

// TestResumableUploadOfAChangedFile: a file changed after its upload was
// interrupted is not resumed (its session would hold other bytes): the
// earlier session is aborted on the server and the new content uploaded.
func TestResumableUploadOfAChangedFile(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.alice.ok(t, "release", "start", "widget", "3.0")
	dir := t.TempDir()
	path := filepath.Join(dir, "big.bin")
	writeFile(t, path, pseudoRandom("first", 6<<20))
	rl := newRelay(t, w.srv.url)
	env := append(baseEnv(w.alice.home), "TREL_CONFIG="+w.alice.config, "TREL_SERVER="+rl.srv.URL, "TREL_TOKEN="+w.alice.token)
	stalled, release := rl.stallAt(2 << 20)
	cmd := exec.Command(trelBin, "upload", "widget", "3.0", "big.bin", "--resumable-over", "1MiB")
	cmd.Env, cmd.Dir = env, dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stalled:
	case <-time.After(30 * time.Second):
		t.Fatal("the upload never stalled")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	release()
	if ss, err := w.aliceC.UploadSessions(ctx, "widget", "3.0"); err != nil || len(ss) != 1 {
		t.Fatalf("sessions after the kill: %+v %v", ss, err)
	}

	changed := pseudoRandom("second", 6<<20+1)
	writeFile(t, path, changed)
	cmd = exec.Command(trelBin, "upload", "widget", "3.0", "big.bin", "--resumable-over", "1MiB")
	cmd.Env, cmd.Dir = env, dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "big.bin changed since its earlier upload started: starting again") || strings.Contains(string(out), "resuming") {
		t.Fatalf("%v\n%s", err, out)
	}
	if ss, err := w.aliceC.UploadSessions(ctx, "widget", "3.0"); err != nil || len(ss) != 0 {
		t.Fatalf("open sessions after the new upload: %+v %v", ss, err)
	}
	rev, err := w.aliceC.Revision(ctx, "widget", "3.0", 1)
	if err != nil || len(rev.Files) != 1 || rev.Files[0].SHA512 != sha512Hex(changed) {
		t.Fatalf("revision 1: %+v %v", rev, err)
	}
}
