package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"trel/internal/auth"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/server"
	"trel/internal/store"
	"trel/internal/web"
)

const origin = "http://localhost:8080"

// fixture is a web handler over a fresh data directory with a clock the
// test moves, and an administrator signed in through a session made
// directly in the store (the browser tests cover real passkeys).
type fixture struct {
	t     *testing.T
	app   *server.App
	h     http.Handler
	mu    sync.Mutex
	now   time.Time
	admin *domain.User
}

func newFixture(t *testing.T) *fixture { return newFixtureAt(t, origin) }

func newFixtureAt(t *testing.T, publicURL string) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	app, err := server.Open(ctx, t.TempDir(), core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	f.app = app
	a, err := auth.New(app.Core, app.Store, auth.Config{PublicURL: publicURL, Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	h, err := web.New(app.Core, a, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	if _, err := app.Core.Bootstrap(ctx, "admin", "admin@example.org"); err != nil {
		t.Fatal(err)
	}
	if f.admin, err = app.Store.UserByUsername(ctx, "admin"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// session stores a session for u and returns its cookie value.
func (f *fixture) session(u *domain.User) string {
	f.t.Helper()
	var raw [32]byte
	rand.Read(raw[:])
	secret := base64.RawURLEncoding.EncodeToString(raw[:])
	h := sha256.Sum256([]byte(secret))
	now := f.clock()
	if err := f.app.Store.CreateSession(context.Background(), &store.WebSession{Hash: h[:], UserID: u.ID, CreatedAt: now, LastSeenAt: now}, domain.AuditEvent{}); err != nil {
		f.t.Fatal(err)
	}
	return secret
}

type req struct {
	method, path string
	cookie       string
	form         url.Values
	headers      map[string]string
	remote       string
}

func (f *fixture) do(r req) *httptest.ResponseRecorder {
	f.t.Helper()
	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	hr := httptest.NewRequest(r.method, origin+r.path, body)
	if r.form != nil {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.cookie != "" {
		hr.AddCookie(&http.Cookie{Name: "trel_session", Value: r.cookie})
	}
	for k, v := range r.headers {
		hr.Header.Set(k, v)
	}
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, hr)
	return rec
}

func TestEveryPageSetsTheStrictCSP(t *testing.T) {
	f := newFixture(t)
	cookie := f.session(f.admin)
	for _, path := range []string{"/", "/login", "/static/style.css", "/no/such/page", "/enroll/bogus", "/admin", "/tokens"} {
		rec := f.do(req{method: "GET", path: path, cookie: cookie})
		if got := rec.Header().Get("Content-Security-Policy"); got != web.CSP {
			t.Errorf("GET %s: CSP %q, want %q", path, got, web.CSP)
		}
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			if got := rec.Header().Get(k); got != want {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, want)
			}
		}
	}
}

func TestServerKeepsTheAPICSPAndServesTheWebOnRoot(t *testing.T) {
	f := newFixture(t)
	h := server.Handler(f.app, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for path, want := range map[string]string{
		"/":                    web.CSP,
		"/api/v1/openapi.json": "default-src 'none'; frame-ancestors 'none'",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", origin+path, nil))
		if got := rec.Header().Get("Content-Security-Policy"); got != want {
			t.Errorf("GET %s: CSP %q, want %q", path, got, want)
		}
	}
	// The API stays bearer-only: a browser session cookie grants nothing there.
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", origin+"/api/v1/me", nil)
	r.AddCookie(&http.Cookie{Name: "trel_session", Value: f.session(f.admin)})
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/me with only a session cookie: %d, want 401", rec.Code)
	}
}

func TestCrossOriginRequestsAreRefused(t *testing.T) {
	f := newFixture(t)
	cookie := f.session(f.admin)
	tests := []struct {
		name    string
		path    string
		headers map[string]string
		refused bool
	}{
		{"cross-site fetch metadata", "/tokens", map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{"same-site but other origin", "/tokens", map[string]string{"Sec-Fetch-Site": "same-site"}, true},
		{"foreign Origin header without fetch metadata", "/tokens", map[string]string{"Origin": "http://evil.example"}, true},
		{"cross-site sign-in start", "/login/begin", map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{"cross-site sign out everywhere", "/logout/everywhere", map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{"same origin", "/tokens", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": origin}, false},
		{"no browser headers (curl)", "/tokens", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(req{method: "POST", path: tt.path, cookie: cookie, headers: tt.headers, form: url.Values{"label": {"x"}, "expires": {"7d"}}})
			if got := rec.Code == http.StatusForbidden; got != tt.refused {
				t.Errorf("POST %s: status %d, refused = %v, want %v", tt.path, rec.Code, got, tt.refused)
			}
		})
	}
	toks, err := f.app.Store.ListTokens(context.Background(), f.admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 2 {
		t.Errorf("%d tokens were created, want 2 (only the same-origin and header-less requests)", len(toks))
	}
}

func TestHostileNamesAreEscaped(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const evil = `<script>alert("x")</script><img src=x onerror=alert(1)>`
	if _, err := f.app.Core.CreateCommittee(ctx, core.SystemActor, "evil", evil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Core.CreateProject(ctx, core.SystemActor, "evil-project", "evil", evil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Core.CreateUser(ctx, core.SystemActor, core.NewUser{Username: "mallory", Email: "m@example.org", Name: evil}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Core.AddMember(ctx, core.SystemActor, "evil", "mallory", domain.RoleMember); err != nil {
		t.Fatal(err)
	}
	cookie := f.session(f.admin)
	for _, path := range []string{"/", "/committees/evil", "/projects/evil-project", "/admin"} {
		rec := f.do(req{method: "GET", path: path, cookie: cookie})
		body := rec.Body.String()
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, rec.Code, body)
		}
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Errorf("GET %s: the hostile name appears unescaped", path)
		}
		if !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("GET %s: the escaped name is missing", path)
		}
	}
}

func TestSessionsEndAfterIdleAndAbsoluteTimeouts(t *testing.T) {
	tests := []struct {
		name     string
		steps    []time.Duration // time between requests
		signedIn bool            // after the last step
	}{
		{"active within the idle timeout", []time.Duration{11 * time.Hour}, true},
		{"idle for longer than 12 hours", []time.Duration{12*time.Hour + time.Minute}, false},
		{"kept alive every 11 hours for 6 days", repeat(11*time.Hour, 13), true},
		{"kept alive but older than 7 days", repeat(11*time.Hour, 16), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			cookie := f.session(f.admin)
			var rec *httptest.ResponseRecorder
			for _, d := range tt.steps {
				f.advance(d)
				rec = f.do(req{method: "GET", path: "/account", cookie: cookie})
			}
			signedIn := rec.Code == http.StatusOK
			if signedIn != tt.signedIn {
				t.Fatalf("GET /account: status %d (location %q), signed in = %v, want %v", rec.Code, rec.Header().Get("Location"), signedIn, tt.signedIn)
			}
			if !signedIn && rec.Header().Get("Location") != "/login" {
				t.Errorf("an ended session goes to %q, want /login", rec.Header().Get("Location"))
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestSignOutEverywhereEndsEverySession(t *testing.T) {
	f := newFixture(t)
	a, b := f.session(f.admin), f.session(f.admin)
	f.advance(time.Second)
	c := f.session(f.admin)
	if rec := f.do(req{method: "POST", path: "/logout/everywhere", cookie: a}); rec.Code != http.StatusSeeOther {
		t.Fatalf("sign out everywhere: %d", rec.Code)
	}
	for _, s := range []string{a, b, c} {
		if rec := f.do(req{method: "GET", path: "/account", cookie: s}); rec.Code != http.StatusSeeOther {
			t.Errorf("a session still works after signing out everywhere: %d", rec.Code)
		}
	}
}

func TestSignInAttemptsAreRateLimitedPerAddress(t *testing.T) {
	f := newFixture(t)
	for i := range auth.DefaultSignInLimit {
		if rec := f.do(req{method: "POST", path: "/login/begin", remote: "192.0.2.1:1000"}); rec.Code != http.StatusOK {
			t.Fatalf("attempt %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	rec := f.do(req{method: "POST", path: "/login/begin", remote: "192.0.2.1:1001"})
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("attempt %d: %d, want 429 with Retry-After", auth.DefaultSignInLimit+1, rec.Code)
	}
	if rec := f.do(req{method: "POST", path: "/login/begin", remote: "192.0.2.2:1000"}); rec.Code != http.StatusOK {
		t.Errorf("another address is limited too: %d", rec.Code)
	}
	f.advance(time.Minute)
	if rec := f.do(req{method: "POST", path: "/login/begin", remote: "192.0.2.1:1000"}); rec.Code != http.StatusOK {
		t.Errorf("a minute later the address is still limited: %d", rec.Code)
	}
}

func TestUploadFormWithoutJavaScriptCreatesOneRevision(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.app.Core.CreateCommittee(ctx, core.SystemActor, "widget", "Widget"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Core.CreateProject(ctx, core.SystemActor, "widget", "widget", "Widget"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Core.StartRelease(ctx, &core.Actor{User: f.admin}, "widget", "1.0"); err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("expect_revision", "0")
	mw.WriteField("dir", "dist")
	mw.WriteField("description", "two files")
	for name, content := range map[string]string{"a.tar.gz": "aaaa", "a.tar.gz.asc": "sig"} {
		w, _ := mw.CreateFormFile("files", name)
		io.WriteString(w, content)
	}
	mw.Close()
	r := httptest.NewRequest("POST", origin+"/projects/widget/releases/1.0/upload", &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	r.AddCookie(&http.Cookie{Name: "trel_session", Value: f.session(f.admin)})
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/projects/widget/releases/1.0" {
		t.Fatalf("upload: %d to %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	revs, err := f.app.Core.ListRevisions(ctx, &core.Actor{User: f.admin}, "widget", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 1 {
		t.Fatalf("%d revisions, want 1", len(revs))
	}
	_, rev, err := f.app.Core.Revision(ctx, &core.Actor{User: f.admin}, "widget", "1.0", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rev.Files) != 2 || rev.Files[0].Path != "dist/a.tar.gz" || rev.Files[1].Path != "dist/a.tar.gz.asc" || rev.Description != "two files" {
		t.Errorf("revision 1 = %+v", rev)
	}
}

func TestDownloadsAreAttachmentsInASandbox(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	act := &core.Actor{User: f.admin}
	f.app.Core.CreateCommittee(ctx, core.SystemActor, "widget", "Widget")
	f.app.Core.CreateProject(ctx, core.SystemActor, "widget", "widget", "Widget")
	if _, err := f.app.Core.StartRelease(ctx, act, "widget", "1.0"); err != nil {
		t.Fatal(err)
	}
	b, err := f.app.Core.UploadFile(ctx, act, "widget", "1.0", strings.NewReader("<script>alert(1)</script>"), -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Core.CreateRevision(ctx, act, "widget", "1.0", core.RevisionRequest{Changes: []core.Change{{Op: "put", Path: "x.html", SHA256: b.SHA256}}}); err != nil {
		t.Fatal(err)
	}
	rec := f.do(req{method: "GET", path: "/projects/widget/releases/1.0/revisions/1/files/x.html", cookie: f.session(f.admin)})
	if rec.Code != http.StatusOK {
		t.Fatalf("download: %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
		t.Errorf("Content-Disposition %q", cd)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox") {
		t.Errorf("CSP %q", csp)
	}
}

func TestPagesNeedASignedInUser(t *testing.T) {
	f := newFixture(t)
	// A draft is the committee's: its page sends a visitor to sign in.
	ctx := context.Background()
	if _, err := f.app.Core.CreateCommittee(ctx, core.SystemActor, "widget", "Widget"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Core.CreateProject(ctx, core.SystemActor, "widget", "widget", "Widget"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Core.StartRelease(ctx, &core.Actor{User: f.admin}, "widget", "1.0"); err != nil {
		t.Fatal(err)
	}
	// A draft release page is public only in that it exists: anonymous
	// visitors are sent to sign in (published releases are public).
	for _, path := range []string{"/account", "/tokens", "/admin", "/projects/widget/releases/1.0", "/notices", "/projects/widget/webhooks"} {
		rec := f.do(req{method: "GET", path: path})
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
			t.Errorf("GET %s anonymously: %d to %q, want 303 to /login", path, rec.Code, rec.Header().Get("Location"))
		}
	}
	// A signed-in user who is not an administrator sees a refusal, not the page.
	u, err := f.app.Core.CreateUser(context.Background(), core.SystemActor, core.NewUser{Username: "dave", Email: "d@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if rec := f.do(req{method: "GET", path: "/admin", cookie: f.session(u)}); rec.Code != http.StatusForbidden {
		t.Errorf("GET /admin as a plain user: %d, want 403", rec.Code)
	}
}

func TestCookiesAreHttpOnlyLaxAndSecureOverHTTPS(t *testing.T) {
	tests := []struct {
		publicURL, session string
		secure             bool
	}{
		{"http://localhost:8080", "trel_session", false},
		{"https://trel.example.org", "__Host-trel_session", true},
	}
	for _, tt := range tests {
		t.Run(tt.publicURL, func(t *testing.T) {
			f := newFixtureAt(t, tt.publicURL)
			rec := f.do(req{method: "POST", path: "/logout"})
			cookies := map[string]*http.Cookie{}
			for _, c := range rec.Result().Cookies() {
				cookies[c.Name] = c
			}
			for _, name := range []string{tt.session, "trel_flash"} {
				c, ok := cookies[name]
				if !ok {
					t.Fatalf("no %s cookie set: %v", name, rec.Header()["Set-Cookie"])
				}
				if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tt.secure || c.Path != "/" {
					t.Errorf("%s: HttpOnly %v SameSite %v Secure %v Path %q", name, c.HttpOnly, c.SameSite, c.Secure, c.Path)
				}
			}
			if hsts := rec.Header().Get("Strict-Transport-Security"); (hsts != "") != tt.secure {
				t.Errorf("Strict-Transport-Security %q over %s", hsts, tt.publicURL)
			}
		})
	}
}

// TestNamesAreIsolated: every page renders names inside <bdi>, so a
// right-to-left override in a file name (stored before such names were
// refused) cannot reorder the page around it; and such a file can still be
// removed.
func TestNamesAreIsolated(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	act := &core.Actor{User: f.admin}
	f.app.Core.CreateCommittee(ctx, core.SystemActor, "widget", "Widget Committee")
	f.app.Core.CreateProject(ctx, core.SystemActor, "widget", "widget", "Widget Project")
	rel, err := f.app.Core.StartRelease(ctx, act, "widget", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.app.Core.UploadFile(ctx, act, "widget", "1.0", strings.NewReader("MZ"), -1)
	if err != nil {
		t.Fatal(err)
	}
	const evil = "evil\u202egz.rat.exe"
	err = f.app.Store.Tx(ctx, func(tx store.Tx) error { // as an older version stored it
		if err := tx.LockRelease(ctx, rel.ID); err != nil {
			return err
		}
		return tx.CreateRevision(ctx, &domain.Revision{ReleaseID: rel.ID, Number: 1, AuthorID: f.admin.ID, CreatedAt: f.now,
			Description: "legacy", Files: []domain.File{{Path: evil, Blob: *b}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	cookie := f.session(f.admin)
	for path, want := range map[string][]string{
		"/projects/widget/releases/1.0": {"<bdi>" + evil + "</bdi>", "<bdi>widget</bdi>"},
		"/committees/widget":            {"<bdi>Widget Committee</bdi>", "<bdi>Widget Project</bdi>"},
		"/projects/widget":              {"<bdi>Widget Project</bdi>", "<bdi>1.0</bdi>"},
		"/":                             {"<bdi>widget</bdi>"},
	} {
		body := f.do(req{method: "GET", path: path, cookie: cookie}).Body.String()
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", path, w)
			}
		}
	}
	if _, err := f.app.Core.CreateRevision(ctx, act, "widget", "1.0", core.RevisionRequest{Changes: []core.Change{{Op: "delete", Path: evil}}}); err != nil {
		t.Fatalf("removing a legacy name: %v", err)
	}
}
