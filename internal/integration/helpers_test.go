// Package integration holds trel's end-to-end tests: they build the real
// binary, run real server processes on loopback and drive them through the
// command line and the Go client.
package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"trel/client"
)

// trelBin is the binary built once by TestMain.
var trelBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trel-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	trelBin = filepath.Join(dir, "trel")
	build := exec.Command("go", "build", "-o", trelBin, "trel/cmd/trel")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building trel:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	stopSigstore()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// baseEnv is the environment of every trel process: the test's own,
// without anything that could point trel at a real configuration, with
// HOME and the config directory inside home.
func baseEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TREL_") || k == "HOME" || k == "XDG_CONFIG_HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// server is one `trel serve` process.
type server struct {
	t       testing.TB
	data    string
	addr    string
	url     string
	args    []string
	env     []string // extra environment variables of the process
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process exited
	waitErr error
	stdout  *syncBuffer
	stderr  *syncBuffer
}

// startServer runs `trel serve --data data` with extra args on a free
// loopback port and waits until /healthz answers. The process is killed
// when the test ends.
func startServer(t testing.TB, data string, args ...string) *server {
	t.Helper()
	return startServerEnv(t, data, nil, args...)
}

// startServerEnv is startServer with extra environment variables.
func startServerEnv(t testing.TB, data string, env []string, args ...string) *server {
	t.Helper()
	var last string
	for attempt := 0; attempt < 3; attempt++ {
		s := &server{t: t, data: data, addr: freeAddr(t), args: args, env: env}
		s.url = "http://" + s.addr
		err := s.start()
		if err == nil {
			return s
		}
		last = err.Error()
		// Someone else may have taken the port between our probe and the
		// server's listen: try another one.
		if !strings.Contains(s.stderr.String(), "address already in use") {
			break
		}
	}
	t.Fatalf("starting the server: %s", last)
	return nil
}

// restart starts a new server process on the same data directory, address
// and arguments as s (which must have stopped), so that saved client
// configurations keep working.
func (s *server) restart() *server {
	s.t.Helper()
	select {
	case <-s.done:
	default:
		s.t.Fatalf("restart: the old server is still running")
	}
	n := &server{t: s.t, data: s.data, addr: s.addr, url: s.url, args: s.args, env: s.env}
	var err error
	// The port was ours a moment ago; retry briefly in case the kernel
	// has not released it yet.
	for attempt := 0; attempt < 5; attempt++ {
		if err = n.start(); err == nil {
			return n
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Fatalf("restarting the server: %v", err)
	return nil
}

func (s *server) start() error {
	s.stdout, s.stderr = &syncBuffer{}, &syncBuffer{}
	s.done = make(chan struct{})
	cmd := exec.Command(trelBin, append([]string{"serve", "--data", s.data, "--addr", s.addr}, s.args...)...)
	cmd.Env = append(baseEnv(filepath.Join(s.data, "..", "server-home")), s.env...)
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	s.t.Cleanup(func() {
		s.kill()
		if s.t.Failed() || os.Getenv("TREL_IT_LOG") != "" { // TREL_IT_LOG=1 shows every server log
			s.t.Logf("server %s stdout:\n%s\nserver stderr (last 4000 bytes):\n%s", s.addr, s.stdout, tail(s.stderr.String(), 4000))
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	hc := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("the server exited before it was ready (%v): %s", s.waitErr, s.stderr)
		default:
		}
		resp, err := hc.Get(s.url + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && healthOK(body) {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.kill()
	return fmt.Errorf("the server did not answer /healthz within 15s: %s", s.stderr)
}

// kill ends the server with SIGKILL, as a crash would, and waits for it.
func (s *server) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.t.Errorf("server %d did not die within 10s of SIGKILL", s.cmd.Process.Pid)
	}
}

// stop asks the server to shut down gracefully and checks that it did.
func (s *server) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("signalling the server: %v", err)
	}
	select {
	case <-s.done:
		if s.waitErr != nil {
			s.t.Fatalf("the server did not exit cleanly on SIGTERM: %v\n%s", s.waitErr, tail(s.stderr.String(), 2000))
		}
	case <-time.After(20 * time.Second):
		s.t.Fatalf("the server did not stop within 20s of SIGTERM")
	}
}

// healthy reports whether /healthz answers ok.
func (s *server) healthy() bool {
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(s.url + "/healthz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == 200 && healthOK(b)
}

// healthOK reads /healthz's JSON answer.
func healthOK(body []byte) bool {
	var h struct{ Status string }
	return json.Unmarshal(body, &h) == nil && h.Status == "ok"
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// result is the outcome of one CLI invocation.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int
}

func (r result) String() string {
	return fmt.Sprintf("trel %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// user is a CLI identity: its own home, config file and environment.
type user struct {
	name   string
	home   string
	config string
	env    []string // extra variables, e.g. TREL_SERVER and TREL_TOKEN
	token  string
}

// newUser makes an identity whose HOME and TREL_CONFIG live in a temp dir.
func newUser(t testing.TB, name string) *user {
	home := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	return &user{name: name, home: home, config: filepath.Join(home, "cfg", "trel.json")}
}

// withToken sets TREL_SERVER and TREL_TOKEN for the identity.
func (u *user) withToken(url, token string) *user {
	u.token = token
	u.env = []string{"TREL_SERVER=" + url, "TREL_TOKEN=" + token}
	return u
}

// run runs the trel binary as u in dir with stdin, bounded to 60s.
func (u *user) runIn(t testing.TB, dir, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, trelBin, args...)
	cmd.Env = append(baseEnv(u.home), "TREL_CONFIG="+u.config)
	cmd.Env = append(cmd.Env, u.env...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{args: args, stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	default:
		t.Fatalf("running trel %s: %v (stderr: %s)", strings.Join(args, " "), err, errb.String())
	}
	return r
}

func (u *user) run(t testing.TB, args ...string) result {
	t.Helper()
	return u.runIn(t, u.home, "", args...)
}

// ok runs a command that must succeed and returns its stdout.
func (u *user) ok(t testing.TB, args ...string) string {
	t.Helper()
	r := u.run(t, args...)
	if r.code != 0 {
		t.Fatalf("as %s: %s", u.name, r)
	}
	return r.stdout
}

// okJSON runs a command with --json that must succeed and decodes stdout.
func (u *user) okJSON(t testing.TB, v any, args ...string) {
	t.Helper()
	out := u.ok(t, append(args, "--json")...)
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("as %s: trel %s --json printed something that is not the expected JSON (%v):\n%s", u.name, strings.Join(args, " "), err, out)
	}
	if dec.More() {
		t.Fatalf("trel %s --json printed more than one JSON value:\n%s", strings.Join(args, " "), out)
	}
}

// fails runs a command that must fail with the exit code and a message
// containing every one of wants.
func (u *user) fails(t testing.TB, code int, wants []string, args ...string) result {
	t.Helper()
	r := u.run(t, args...)
	checkFailure(t, r, code, wants...)
	return r
}

func checkFailure(t testing.TB, r result, code int, wants ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("want exit code %d; got %s", code, r)
		return
	}
	if !strings.HasPrefix(r.stderr, "trel: ") {
		t.Errorf("the error message should start with \"trel: \"; got %s", r)
	}
	for _, w := range wants {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("the error message should mention %q; got %s", w, r)
		}
	}
	if strings.Contains(r.stderr, "internal error") {
		t.Errorf("an expected refusal should not be an internal error: %s", r)
	}
}

// adminToken runs `trel admin create-token` for username on the data dir.
func adminToken(t testing.TB, data, username string, extra ...string) string {
	t.Helper()
	ops := newUser(t, "operator")
	out := ops.ok(t, append([]string{"admin", "create-token", "--data", data, "--username", username}, extra...)...)
	tok := strings.TrimSpace(out)
	if !strings.HasPrefix(tok, "trel_") || strings.ContainsAny(tok, " \n") {
		t.Fatalf("admin create-token should print only the token; got %q", out)
	}
	return tok
}

// world is a server with a committee "demo", a project "widget", an
// administrator, alice (member), bob (committer) and carol (no role).
type world struct {
	srv                        *server
	data                       string
	admin, alice, bob, carol   *user
	adminC, aliceC, bobC, carC *client.Client
}

func newWorld(t testing.TB, serveArgs ...string) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{data: filepath.Join(t.TempDir(), "data")}
	w.srv = startServer(t, w.data, serveArgs...)
	url := w.srv.url
	// Admin commands reach the same engines as the server.
	var engines []string
	for i := 0; i+1 < len(serveArgs); i++ {
		if serveArgs[i] == "--database" || serveArgs[i] == "--blobs" {
			engines = append(engines, serveArgs[i], serveArgs[i+1])
		}
	}
	w.admin = newUser(t, "admin").withToken(url, adminToken(t, w.data, "admin", engines...))
	w.adminC = client.New(url, w.admin.token)
	if _, err := w.adminC.CreateCommittee(ctx, "demo", "Demo Committee"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.adminC.CreateProject(ctx, "widget", "demo", "Widget"); err != nil {
		t.Fatal(err)
	}
	ops := newUser(t, "operator")
	for _, name := range []string{"alice", "bob", "carol"} {
		ops.ok(t, append([]string{"admin", "create-user", "--data", w.data, "--username", name, "--email", name + "@example.org"}, engines...)...)
	}
	w.alice = newUser(t, "alice").withToken(url, adminToken(t, w.data, "alice", engines...))
	w.bob = newUser(t, "bob").withToken(url, adminToken(t, w.data, "bob", engines...))
	w.carol = newUser(t, "carol").withToken(url, adminToken(t, w.data, "carol", engines...))
	w.aliceC, w.bobC, w.carC = client.New(url, w.alice.token), client.New(url, w.bob.token), client.New(url, w.carol.token)
	if _, err := w.adminC.AddMember(ctx, "demo", "alice", "member"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.adminC.AddMember(ctx, "demo", "bob", "committer"); err != nil {
		t.Fatal(err)
	}
	return w
}

// revisionCount is the number of revisions of a release, via the API.
func revisionCount(t testing.TB, c *client.Client, project, version string) int {
	t.Helper()
	revs, err := c.ListRevisions(context.Background(), project, version)
	if err != nil {
		t.Fatalf("listing revisions: %v", err)
	}
	return len(revs)
}

// writeFile writes data to path, creating directories.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// pseudoRandom returns n deterministic, incompressible-looking bytes.
func pseudoRandom(seed string, n int) []byte {
	out := make([]byte, 0, n+32)
	block := sha256.Sum256([]byte(seed))
	for len(out) < n {
		out = append(out, block[:]...)
		block = sha256.Sum256(block[:])
	}
	return out[:n]
}

// eventually polls cond every 20ms until it holds or timeout passes.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dirEntries lists the names in dir (nil if it does not exist).
func dirEntries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// checkObjects hashes every stored blob and fails when a name does not
// match its content, and returns how many there are.
func checkObjects(t testing.TB, data string) int {
	t.Helper()
	root := filepath.Join(data, "blobs", "objects")
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		name := d.Name()
		if got := hex.EncodeToString(h.Sum(nil)); got != name {
			t.Errorf("blob %s holds content with SHA-256 %s: a partial or corrupt object", p, got)
		}
		rel, _ := filepath.Rel(root, p)
		if len(name) == 64 && rel != filepath.Join(name[:2], name[2:4], name) {
			t.Errorf("blob %s is not stored under its digest's prefix directories", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking the blob store: %v", err)
	}
	return n
}

// apiError asserts that err is a *client.Error with the status and code,
// and a message containing wants.
func apiError(t testing.TB, what string, err error, status int, code string, wants ...string) {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Errorf("%s: want HTTP %d, got error %v", what, status, err)
		return
	}
	if ce.Status != status || ce.Code != code {
		t.Errorf("%s: want HTTP %d %q, got %d %q: %s", what, status, code, ce.Status, ce.Code, ce.Message)
	}
	for _, w := range wants {
		if !strings.Contains(ce.Message, w) {
			t.Errorf("%s: the message should mention %q: %s", what, w, ce.Message)
		}
	}
}
