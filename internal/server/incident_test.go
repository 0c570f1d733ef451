package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"trel/internal/core"
	"trel/internal/domain"
)

// running is a server started with Serve on a loopback port.
type running struct {
	addr string
	data string
	logs *syncBuffer
}

func startServe(t *testing.T, cfg Config) *running {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(t.TempDir(), "data")
	}
	logs := &syncBuffer{}
	cfg.Addr, cfg.AdminUsername, cfg.AdminEmail = "127.0.0.1:0", "admin", "admin@example.org"
	cfg.PublicURL = "http://localhost:9999"
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	ready := make(chan string, 1)
	cfg.Ready = func(addr string) { ready <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case addr := <-ready:
		return &running{addr: addr, data: cfg.DataDir, logs: logs}
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not start")
	}
	return nil
}

// core opens the running server's data directory beside it, as the
// admin commands do, until the test ends.
func (s *running) core(t *testing.T) *core.Service {
	t.Helper()
	app, err := Open(context.Background(), s.data, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return app.Core
}

// token creates a user directly in the data directory, as `trel admin`
// would, and returns an API token for them.
func (s *running) token(t *testing.T, username string) string {
	t.Helper()
	ctx := context.Background()
	svc := s.core(t)
	if _, err := svc.Store().UserByUsername(ctx, username); err != nil {
		if _, err := svc.CreateUser(ctx, core.SystemActor, core.NewUser{Username: username, Email: username + "@example.org"}); err != nil {
			t.Fatal(err)
		}
	}
	secret, _, err := svc.CreateToken(ctx, core.SystemActor, username, "test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// draft makes committee alpha with project alpha-lib and draft 1.0.
func (s *running) draft(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	svc := s.core(t)
	u, err := svc.CreateUser(ctx, core.SystemActor, core.NewUser{Username: "member", Email: "member@example.org"})
	if err == nil {
		_, err = svc.CreateCommittee(ctx, core.SystemActor, "alpha", "Alpha")
	}
	if err == nil {
		_, err = svc.AddMember(ctx, core.SystemActor, "alpha", "member", "member")
	}
	if err == nil {
		_, err = svc.CreateProject(ctx, core.SystemActor, "alpha-lib", "alpha", "Alpha Lib")
	}
	if err == nil {
		_, err = svc.StartRelease(ctx, &core.Actor{User: u}, "alpha-lib", "1.0")
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestRefusedUploadsAreAnsweredAtOnce: an anonymous or unauthorised
// client trickling an upload body gets its 401/403 while it is still
// sending, and the connection is closed (before, the server lifted the
// read deadline to 6 hours first and then drained the body).
func TestRefusedUploadsAreAnsweredAtOnce(t *testing.T) {
	s := startServe(t, Config{})
	outsider := s.token(t, "outsider")
	s.draft(t)
	for _, c := range []struct {
		name, path, auth string
		status           int
	}{
		{"anonymous API upload", "/api/v1/projects/alpha-lib/releases/1.0/uploads", "", 401},
		{"API upload by an outsider", "/api/v1/projects/alpha-lib/releases/1.0/uploads", "Bearer " + outsider, 403},
		{"anonymous browser upload", "/projects/alpha-lib/releases/1.0/upload", "", 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// Below 256 KiB (and chunked bodies) Go's server drains what the
			// handler left unread before it answers, unless the handler
			// asks for the connection to be closed.
			const size = 100 << 10
			head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n", c.path, s.addr, size)
			if c.auth != "" {
				head += "Authorization: " + c.auth + "\r\n"
			}
			if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
				t.Fatal(err)
			}
			// Trickle the body: one byte every 50 ms, for at most 10 s.
			stop := make(chan struct{})
			trickled := make(chan int, 1)
			go func() {
				n := 0
				defer func() { trickled <- n }()
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for range 200 {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					if _, err := conn.Write([]byte{'x'}); err != nil {
						return
					}
					n++
				}
			}()
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			close(stop)
			sent := <-trickled
			if err != nil {
				t.Fatalf("no answer while the body was trickling: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if sent >= 200 || sent >= size {
				t.Fatalf("the answer came only after the whole trickle (%d bytes)", sent)
			}
			if !resp.Close {
				t.Fatal("the refused upload's connection is kept open")
			}
			// The server closes the connection: a read ends at once.
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the connection stayed open: %v", err)
			}
			t.Logf("answered %d after %d trickled bytes", resp.StatusCode, sent)
		})
	}
}

// TestConcurrentUploadsPerUserAreBounded: past the configured number of
// uploads in progress, a user's next upload is refused with 429 and a
// retry hint, at once.
func TestConcurrentUploadsPerUserAreBounded(t *testing.T) {
	s := startServe(t, Config{UploadsPerUser: 1})
	tok := s.token(t, "admin")
	post := func(path string, body any) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", "http://"+s.addr+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	post("/api/v1/committees", map[string]string{"key": "alpha", "name": "Alpha"})
	post("/api/v1/projects", map[string]string{"key": "alpha-lib", "committee": "alpha", "name": "Alpha Lib"})
	post("/api/v1/projects/alpha-lib/releases", map[string]string{"version": "1.0"})
	upload := "http://" + s.addr + "/api/v1/projects/alpha-lib/releases/1.0/uploads"

	// The first upload stays open: its body is sent in two halves over a
	// connection of our own. Until the server holds its slot, a probing
	// second upload may take the slot first and the first one be refused:
	// then the first is sent again on a new connection.
	var conn net.Conn
	sendFirst := func() {
		if conn != nil {
			conn.Close()
		}
		var err error
		if conn, err = net.Dial("tcp", s.addr); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /api/v1/projects/alpha-lib/releases/1.0/uploads HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: 10\r\n\r\nfirst", s.addr, tok)
	}
	firstRefused := func() bool {
		conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		var b [1]byte
		n, _ := conn.Read(b[:])
		conn.SetReadDeadline(time.Time{})
		return n > 0
	}
	sendFirst()
	defer func() { conn.Close() }()
	var status int
	var retry string
	for range 100 { // until the first upload holds its slot, at most about 6 s
		req, _ := http.NewRequest("POST", upload, strings.NewReader("second"))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, retry = resp.StatusCode, resp.Header.Get("Retry-After")
		if status == 429 {
			if !strings.Contains(string(body), "uploads in progress") {
				t.Fatalf("429 without a clear message: %s", body)
			}
			break
		}
		if firstRefused() {
			sendFirst()
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status != 429 || retry == "" {
		t.Fatalf("second concurrent upload: %d (Retry-After %q), want 429 with a retry hint", status, retry)
	}
	io.WriteString(conn, "-half")
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp0, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp0.StatusCode != 201 {
		t.Fatalf("first upload: %v %v", resp0, err)
	}
	resp0.Body.Close()
	// With the first one finished, the next upload goes through.
	req, _ := http.NewRequest("POST", upload, strings.NewReader("third"))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("upload after the first ended: %d", resp.StatusCode)
	}
}

// TestBusyPortLeavesNoDataDirectory: serve binds the port before it
// creates the data directory.
func TestBusyPortLeavesNoDataDirectory(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "new-data")
	err = Serve(context.Background(), Config{DataDir: dir, Addr: ln.Addr().String(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "listening on") {
		t.Fatalf("serve on a busy port: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a data directory was created: %v", err)
	}
}

// TestOpenNeverCreatesADataDirectory: what the admin commands use.
func TestOpenNeverCreatesADataDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "typo")
	_, err := Open(context.Background(), dir, core.Options{})
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("open of a missing directory: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Open created the directory")
	}
}

// TestServerErrorsAreLoggedWithCauseUserAndRequestID: a 5xx is logged at
// ERROR with its cause and the request id it was answered with, and the
// request line names the user.
func TestServerErrorsAreLoggedWithCauseUserAndRequestID(t *testing.T) {
	s := startServe(t, Config{})
	tok := s.token(t, "alice")
	req, _ := http.NewRequest("POST", "http://"+s.addr+"/api/v1/signing-keys", strings.NewReader(`{"password":"correct horse battery staple"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 503 || id == "" {
		t.Fatalf("status %d, request id %q", resp.StatusCode, id)
	}
	var cause, line bool
	for _, l := range strings.Split(s.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) != nil || rec["request_id"] != id {
			continue
		}
		switch rec["msg"] {
		case "request failed":
			cause = rec["level"] == "ERROR" && strings.Contains(fmt.Sprint(rec["err"]), "master key")
		case "request":
			line = rec["level"] == "ERROR" && rec["user"] == "alice" && rec["status"] == float64(503)
		}
	}
	if !cause || !line {
		t.Fatalf("cause logged: %v, request line with user: %v\n%s", cause, line, s.logs.String())
	}
	if strings.Contains(s.logs.String(), tok) {
		t.Fatal("a token reached the log")
	}
}

// TestHealthzAndMetrics: /healthz reports the build; /metrics has the
// domain metrics and can require a token or move to its own address.
func TestHealthzAndMetrics(t *testing.T) {
	s := startServe(t, Config{MetricsToken: "0123456789abcdef-metrics"})
	resp, err := http.Get("http://" + s.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Status string
		Build  struct{ Version, Go string }
	}
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if h.Status != "ok" || h.Build.Version == "" || !strings.HasPrefix(h.Build.Go, "go") {
		t.Fatalf("healthz: %+v", h)
	}
	get := func(url, token string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("http://"+s.addr+"/metrics", ""); code != 401 {
		t.Fatalf("metrics without the token: %d", code)
	}
	if code, _ := get("http://"+s.addr+"/metrics", "wrong-token-wrong-token"); code != 401 {
		t.Fatalf("metrics with a wrong token: %d", code)
	}
	code, body := get("http://"+s.addr+"/metrics", "0123456789abcdef-metrics")
	if code != 200 {
		t.Fatalf("metrics with the token: %d", code)
	}
	for _, m := range []string{"trel_check_queue_depth 0", "trel_uploads_total", "trel_publications_total", "trel_signing_key_lockouts_total", "trel_check_exceptions_total", "trel_http_requests_total"} {
		if !strings.Contains(body, m) {
			t.Errorf("metrics lack %s", m)
		}
	}

	// On its own address, /metrics leaves the main one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	maddr := ln.Addr().String()
	ln.Close()
	s2 := startServe(t, Config{MetricsAddr: maddr})
	if code, _ := get("http://"+s2.addr+"/metrics", ""); code != 404 {
		t.Fatalf("metrics on the main address: %d", code)
	}
	if code, body := get("http://"+maddr+"/metrics", ""); code != 200 || !strings.Contains(body, "trel_check_queue_depth") {
		t.Fatalf("metrics on their own address: %d", code)
	}
}

// TestTrustedProxies: the client address comes from X-Forwarded-For only
// through a trusted proxy, as the right-most untrusted hop; it is what
// the audit log records.
func TestTrustedProxies(t *testing.T) {
	nets, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.7,::1"})
	if err != nil || len(nets) != 3 {
		t.Fatalf("parse: %v %v", nets, err)
	}
	if _, err := ParseTrustedProxies([]string{"10.0.0.0/33"}); err == nil {
		t.Fatal("a bad network was accepted")
	}
	for _, c := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no header", "10.1.1.1:5000", nil, "10.1.1.1:5000"},
		{"untrusted peer's header is ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9:5000"},
		{"one proxy", "10.1.1.1:5000", []string{"198.51.100.1"}, "198.51.100.1:0"},
		{"a spoofed left part is skipped", "10.1.1.1:5000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1:0"},
		{"a chain of trusted proxies", "10.1.1.1:5000", []string{"198.51.100.1, 10.2.2.2", "192.0.2.7"}, "198.51.100.1:0"},
		{"all hops trusted", "10.1.1.1:5000", []string{"10.3.3.3"}, "10.3.3.3:0"},
		{"a malformed hop stops the walk", "10.1.1.1:5000", []string{"6.6.6.6, garbage, 10.2.2.2"}, "10.2.2.2:0"},
		{"IPv6 proxy", "[::1]:5000", []string{"2001:db8::5"}, "[2001:db8::5]:0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got string
			h := clientAddress(nets, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.RemoteAddr }))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.peer
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != c.want {
				t.Fatalf("client %q, want %q", got, c.want)
			}
		})
	}

	// End to end: the audit log records the forwarded client.
	ctx := context.Background()
	dir := t.TempDir()
	app, err := Open(ctx, dir, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	app.HTTP.TrustedProxies = nets
	if _, err := app.Core.CreateUser(ctx, core.SystemActor, core.NewUser{Username: "admin", Email: "a@example.org", Admin: true}); err != nil {
		t.Fatal(err)
	}
	tok, _, err := app.Core.CreateToken(ctx, core.SystemActor, "admin", "t", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	h := Handler(app, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r := httptest.NewRequest("POST", "/api/v1/committees", strings.NewReader(`{"key":"alpha","name":"Alpha"}`))
	r.RemoteAddr = "10.9.9.9:4000"
	r.Header.Set("X-Forwarded-For", "198.51.100.23")
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 201 {
		t.Fatalf("create committee: %d %s", w.Code, w.Body)
	}
	evs, err := app.Core.AuditLog(ctx, core.SystemActor, 1)
	if err != nil || evs[0].ClientIP != "198.51.100.23" {
		t.Fatalf("audit address: %+v %v", evs, err)
	}
}

// FuzzForwardedClient: any X-Forwarded-For header gives no client, or one
// of its own hops; an untrusted peer's header is never read.
func FuzzForwardedClient(f *testing.F) {
	for _, s := range []string{"198.51.100.1", "6.6.6.6, 198.51.100.1, 10.0.0.1", "garbage", "::1,,", " , 2001:db8::1"} {
		f.Add(s, true)
	}
	nets, _ := ParseTrustedProxies([]string{"10.0.0.0/8"})
	isTrusted := func(ip net.IP) bool { return nets[0].Contains(ip) }
	f.Fuzz(func(t *testing.T, xff string, trustedPeer bool) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "203.0.113.1:1"
		if trustedPeer {
			r.RemoteAddr = "10.0.0.9:1"
		}
		r.Header.Set("X-Forwarded-For", xff)
		got := forwardedClient(r, isTrusted)
		if got == nil {
			return
		}
		if !trustedPeer {
			t.Fatalf("read the header of an untrusted peer: %v", got)
		}
		found := false
		for _, h := range strings.Split(xff, ",") {
			if ip := net.ParseIP(strings.TrimSpace(h)); ip != nil && ip.Equal(got) {
				found = true
			}
		}
		if !found {
			t.Fatalf("client %v is not a hop of %q", got, xff)
		}
	})
}

// TestDomainMetrics: the core's events and finished check runs land in
// the named metrics.
func TestDomainMetrics(t *testing.T) {
	app, err := Open(context.Background(), t.TempDir(), core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	m := app.metrics
	m.Inc("action", "release.publish")
	m.Inc("action", "file.upload")
	m.Inc("action", "file.upload")
	m.Inc("signing", "refused")
	m.Inc("lockout", "password")
	m.Inc("refusal", "busy")
	queued := time.Now().Add(-3 * time.Second)
	done := time.Now()
	m.CheckRunFinished(&domain.CheckRun{QueuedAt: queued, FinishedAt: &done},
		[]domain.CheckResult{{Status: domain.StatusException}, {Status: domain.StatusBlocker}, {Status: domain.StatusException}})
	for name, c := range map[string]struct {
		got  float64
		want float64
	}{
		"publications":    {promtest.ToFloat64(m.publications), 1},
		"uploads":         {promtest.ToFloat64(m.uploads), 2},
		"signing refused": {promtest.ToFloat64(m.signing.WithLabelValues("refused")), 1},
		"lockouts":        {promtest.ToFloat64(m.lockouts), 1},
		"busy refusals":   {promtest.ToFloat64(m.refusals.WithLabelValues("busy")), 1},
		"check runs":      {promtest.ToFloat64(m.checkRuns), 1},
		"exceptions":      {promtest.ToFloat64(m.checkFailures), 2},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
	if n := promtest.CollectAndCount(m.checkLatency); n != 1 {
		t.Errorf("check latency has %d series", n)
	}
}
