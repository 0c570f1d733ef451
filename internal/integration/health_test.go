package integration

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"trel/internal/testutil/services"
)

// outage forwards a loopback port to a real server (PostgreSQL, S3) until
// cut, which drops every connection and refuses new ones, as a network
// failure or a stopped server would; restore lets connections through
// again.
type outage struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
}

func newOutage(t *testing.T, target string) *outage {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &outage{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); o.cut() })
	go o.serve()
	return o
}

func (o *outage) addr() string { return o.ln.Addr().String() }

func (o *outage) serve() {
	for {
		c, err := o.ln.Accept()
		if err != nil {
			return
		}
		go o.forward(c)
	}
}

func (o *outage) forward(c net.Conn) {
	o.mu.Lock()
	if o.down {
		o.mu.Unlock()
		c.Close()
		return
	}
	o.mu.Unlock()
	s, err := net.DialTimeout("tcp", o.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	o.mu.Lock()
	if o.down {
		o.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	o.conns[c], o.conns[s] = true, true
	o.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(s, c); done <- struct{}{} }()
	go func() { io.Copy(c, s); done <- struct{}{} }()
	<-done
	c.Close()
	s.Close()
	o.mu.Lock()
	delete(o.conns, c)
	delete(o.conns, s)
	o.mu.Unlock()
}

// cut drops every connection and refuses new ones.
func (o *outage) cut() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.down = true
	for c := range o.conns {
		c.Close()
	}
}

func (o *outage) restore() {
	o.mu.Lock()
	o.down = false
	o.mu.Unlock()
}

// throughOutage returns a PostgreSQL URL and an s3:// URL whose hosts are
// forwarders to the test servers.
func throughOutage(t *testing.T) (pg string, pgLink *outage, blobs string, s3Link *outage) {
	t.Helper()
	pu, err := url.Parse(services.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	pgLink = newOutage(t, pu.Host)
	pu.Host = pgLink.addr()
	su, err := url.Parse(services.S3(t))
	if err != nil {
		t.Fatal(err)
	}
	q := su.Query()
	ep, err := url.Parse(q.Get("endpoint"))
	if err != nil {
		t.Fatal(err)
	}
	s3Link = newOutage(t, ep.Host)
	ep.Host = s3Link.addr()
	q.Set("endpoint", ep.String())
	su.RawQuery = q.Encode()
	return pu.String(), pgLink, su.String(), s3Link
}

// health is /healthz's answer.
type health struct {
	code    int
	status  string
	engines []string
	build   map[string]any
	keys    []string
}

func getHealth(t *testing.T, base string) health {
	t.Helper()
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("/healthz answers %q, want application/json", ct)
	}
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	h := health{code: resp.StatusCode}
	for k := range raw {
		h.keys = append(h.keys, k)
	}
	sort.Strings(h.keys)
	if err := json.Unmarshal(raw["status"], &h.status); err != nil {
		t.Fatalf("status: %v", err)
	}
	if err := json.Unmarshal(raw["engines"], &h.engines); err != nil {
		t.Fatalf("engines: %v", err)
	}
	if err := json.Unmarshal(raw["build"], &h.build); err != nil {
		t.Fatalf("build: %v", err)
	}
	return h
}

// TestHealthReportsUnreachableEngines: a replica whose database, then
// whose bucket, becomes unreachable says so on /healthz (503, naming the
// engine) and answers every other request with one clear 503 and a
// Retry-After, without anyone calling /healthz; when the engine is back it
// serves again by itself.
func TestHealthReportsUnreachableEngines(t *testing.T) {
	pg, pgLink, blobs, s3Link := throughOutage(t)
	srv := startServer(t, filepath.Join(t.TempDir(), "data"), "--database", pg, "--blobs", blobs, "--log-dir", t.TempDir())
	admin := newUser(t, "admin")
	token := strings.TrimSpace(admin.ok(t, "admin", "create-token", "--data", filepath.Join(t.TempDir(), "scratch"), "--database", pg, "--blobs", blobs, "--username", "admin"))
	admin.withToken(srv.url, token)

	h := getHealth(t, srv.url)
	if h.code != 200 || h.status != "ok" || !reflect.DeepEqual(h.keys, []string{"build", "engines", "status"}) {
		t.Fatalf("healthy /healthz: %+v", h)
	}
	if want := []string{"database: ok (postgres)", "blobs: ok (s3)", "log: ok (tessera POSIX)"}; !reflect.DeepEqual(h.engines, want) {
		t.Fatalf("engines %q, want %q", h.engines, want)
	}
	if h.build["go"] == "" || h.build["version"] == "" {
		t.Fatalf("build %v lacks the version and Go version", h.build)
	}

	api := func() *http.Response {
		req, _ := http.NewRequest("GET", srv.url+"/api/v1/committees", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, c := range []struct {
		engine string
		link   *outage
		line   string
	}{
		{"database", pgLink, "database: unreachable (postgres)"},
		{"bucket", s3Link, "blobs: unreachable (s3)"},
	} {
		t.Run(c.engine, func(t *testing.T) {
			if resp := api(); resp.StatusCode != 200 {
				t.Fatalf("before the outage: %d", resp.StatusCode)
			}
			c.link.cut()
			// The background check (every 2 s) takes the replica out
			// without anyone asking /healthz.
			var last int
			if !eventually(15*time.Second, func() bool {
				resp := api()
				last = resp.StatusCode
				return resp.StatusCode == 503 && resp.Header.Get("Retry-After") != ""
			}) {
				t.Fatalf("with the %s unreachable the API answered %d, want 503 with Retry-After", c.engine, last)
			}
			r := admin.run(t, "committee", "list")
			if r.code != 1 || !strings.Contains(r.stderr, "temporarily unavailable") {
				t.Errorf("the CLI during the outage: %s", r)
			}
			resp, err := http.Get(srv.url + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
				t.Errorf("a web page during the outage: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			if resp := httpStatus(t, srv.url+"/metrics"); resp != 200 {
				t.Errorf("/metrics during the outage: %d, want 200 (it says what is wrong)", resp)
			}
			h := getHealth(t, srv.url)
			if h.code != 503 || h.status != "unavailable" || !reflect.DeepEqual(h.keys, []string{"build", "engines", "status"}) {
				t.Fatalf("/healthz during the outage: %+v", h)
			}
			if !slices.Contains(h.engines, c.line) || len(h.engines) != 3 {
				t.Fatalf("/healthz engines %q lack %q", h.engines, c.line)
			}
			for _, line := range h.engines {
				if line != c.line && !strings.Contains(line, ": ok (") {
					t.Errorf("/healthz says %q although only the %s is unreachable", line, c.engine)
				}
			}

			c.link.restore()
			if !eventually(15*time.Second, func() bool { return api().StatusCode == 200 }) {
				t.Fatalf("the replica did not serve again after the %s came back", c.engine)
			}
			if h := getHealth(t, srv.url); h.code != 200 || h.status != "ok" {
				t.Fatalf("/healthz after the outage: %+v", h)
			}
		})
	}
}

func httpStatus(t *testing.T, u string) int {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
