package idtoken

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"trel/internal/testutil/oidctest"
)

// env is a fake environment for Getenv.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// follow is a "browser": it opens the URL and follows every redirect, as a
// person who is already signed in at the provider would.
func follow(u string) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("browser got %s", resp.Status)
	}
	return nil
}

func TestGivenTokenForms(t *testing.T) {
	is := oidctest.New(t)
	tok := is.EmailToken("rm@example.org")
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte(tok+"\n"), 0o600)
	for name, given := range map[string]string{"literal": tok, "@file": "@" + file, "stdin": "-"} {
		got, flow, err := Get(context.Background(), Options{Given: given, Stdin: strings.NewReader(tok + "\n")})
		if err != nil || got != tok || flow != FlowGiven {
			t.Errorf("%s: got flow %q, err %v, same token %v", name, flow, err, got == tok)
		}
	}
	// A given token wins over ambient credentials.
	got, _, _ := Get(context.Background(), Options{Given: tok, Getenv: env("SIGSTORE_ID_TOKEN", is.EmailToken("ci@example.org"))})
	if got != tok {
		t.Error("the ambient token replaced the given one")
	}
}

func TestMalformedTokensAreRefusedWithoutEchoingThem(t *testing.T) {
	for name, bad := range map[string]string{
		"not a JWT":      "secret-value-that-must-not-leak",
		"two parts":      "c2VjcmV0LXZhbHVl.c2VjcmV0LXZhbHVl",
		"payload not js": "eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXZhbHVlLW11c3Qtbm90LWxlYWs.c2ln",
		"no issuer":      "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtdmFsdWUifQ.c2ln",
	} {
		_, _, err := Get(context.Background(), Options{Given: bad})
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		for _, part := range strings.Split(bad, ".") {
			if len(part) > 8 && strings.Contains(err.Error(), part) {
				t.Errorf("%s: the error shows the token: %v", name, err)
			}
		}
	}
}

func TestAmbientGitLabStyleVariable(t *testing.T) {
	is := oidctest.New(t)
	tok := is.Mint(map[string]any{"sub": "project_path:g/p:ref_type:tag:ref:v1", "aud": "sigstore", "project_path": "g/p"})
	got, flow, err := Get(context.Background(), Options{Getenv: env("SIGSTORE_ID_TOKEN", tok)})
	if err != nil || got != tok || flow != FlowAmbient {
		t.Fatalf("flow %q err %v", flow, err)
	}
	_, _, err = Get(context.Background(), Options{Getenv: env("SIGSTORE_ID_TOKEN", "garbage-garbage-garbage")})
	if err == nil || strings.Contains(err.Error(), "garbage-garbage") {
		t.Fatalf("a malformed SIGSTORE_ID_TOKEN: %v", err)
	}
}

// githubActions is the job's token endpoint of GitHub Actions.
func githubActions(t *testing.T, requestToken, idToken string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer "+requestToken {
			http.Error(w, "bad credentials "+r.Header.Get("Authorization"), http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("api-version") != "2.0" || r.URL.Query().Get("audience") != "sigstore" {
			http.Error(w, "wrong query "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `{"count":1,"value":%q}`, idToken)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAmbientGitHubActions(t *testing.T) {
	is := oidctest.New(t)
	tok := is.Mint(map[string]any{"sub": "repo:o/r:ref:refs/tags/v1", "aud": "sigstore", "repository": "o/r"})
	const reqTok = "request-token-0123456789"
	gh := githubActions(t, reqTok, tok)
	got, flow, err := Get(context.Background(), Options{Getenv: env("ACTIONS_ID_TOKEN_REQUEST_URL", gh.URL+"/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", reqTok)})
	if err != nil || got != tok || flow != FlowAmbient {
		t.Fatalf("flow %q err %v", flow, err)
	}
	// Refused: the message helps, and shows no credential.
	_, _, err = Get(context.Background(), Options{Getenv: env("ACTIONS_ID_TOKEN_REQUEST_URL", gh.URL+"/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "wrong-request-token-xyz")})
	if err == nil || !strings.Contains(err.Error(), "id-token: write") || strings.Contains(err.Error(), "wrong-request-token") {
		t.Fatalf("refused: %v", err)
	}
}

func TestBrowserFlowWithPKCE(t *testing.T) {
	is := oidctest.New(t)
	is.SetUser(map[string]any{"sub": "u-7", "email": "rm@example.org", "email_verified": true})
	var msgs bytes.Buffer
	var opened string
	tok, flow, err := Get(context.Background(), Options{Issuer: is.URL, Flow: FlowBrowser, Messages: &msgs,
		OpenBrowser: func(u string) error { opened = u; return follow(u) }})
	if err != nil || flow != FlowBrowser {
		t.Fatalf("browser flow: %v (messages: %s)", err, msgs.String())
	}
	info, err := Inspect(tok)
	if err != nil || info.Email != "rm@example.org" || info.Issuer != is.URL || info.Nonce == "" {
		t.Fatalf("token: %+v %v", info, err)
	}
	u, _ := url.Parse(opened)
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || !strings.HasPrefix(q.Get("redirect_uri"), "http://localhost:") {
		t.Fatalf("authorization URL: %s", opened)
	}
	if !strings.Contains(msgs.String(), opened) {
		t.Errorf("the URL must be printed for people whose browser does not open: %s", msgs.String())
	}
	if strings.Contains(msgs.String(), tok) {
		t.Error("the token was printed")
	}
}

func TestBrowserFlowRefusesAForgedRedirect(t *testing.T) {
	is := oidctest.New(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	_, _, err := Get(context.Background(), Options{Issuer: is.URL, Flow: FlowBrowser,
		OpenBrowser: func(u string) error {
			resp, err := noRedirect.Get(u)
			if err != nil {
				return err
			}
			resp.Body.Close()
			back, _ := url.Parse(resp.Header.Get("Location"))
			q := back.Query()
			q.Set("state", "attacker-state")
			back.RawQuery = q.Encode()
			r2, err := http.Get(back.String())
			if err == nil {
				r2.Body.Close()
			}
			return err
		}})
	if err == nil || !strings.Contains(err.Error(), "wrong state") {
		t.Fatalf("a forged redirect: %v", err)
	}
	if is.TokenRequests() != 0 {
		t.Fatal("the code was exchanged despite the wrong state")
	}
}

func TestDeviceFlow(t *testing.T) {
	is := oidctest.New(t)
	is.SetUser(map[string]any{"sub": "u-8", "email": "ssh@example.org", "email_verified": true})
	for _, deny := range []bool{false, true} {
		pr, pw := newPipe()
		go func() {
			// The person reads the code in the terminal and approves it.
			code := regexp.MustCompile(`enter the code ([0-9a-f]+)`).FindStringSubmatch(pr.waitFor(t, "enter the code"))
			if len(code) < 2 {
				return
			}
			u := is.URL + "/device?user_code=" + code[1]
			if deny {
				u += "&deny=1"
			}
			follow(u)
		}()
		// Without a display, the device flow is chosen.
		tok, flow, err := Get(context.Background(), Options{Issuer: is.URL, Getenv: env(), Messages: pw})
		if deny {
			if err == nil || !strings.Contains(err.Error(), "refused") {
				t.Fatalf("denied device sign-in: %v", err)
			}
			continue
		}
		if err != nil || flow != FlowDevice {
			t.Fatalf("device flow: %q %v", flow, err)
		}
		if info, _ := Inspect(tok); info.Email != "ssh@example.org" {
			t.Fatalf("token: %+v", info)
		}
	}
}

func TestCheckFresh(t *testing.T) {
	is := oidctest.New(t)
	past := time.Now().Add(-time.Hour)
	info, err := Inspect(is.Mint(map[string]any{"exp": past.Unix(), "email": "a@b.c"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := info.CheckFresh(time.Now(), 0); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("an expired token: %v", err)
	}
	fresh, _ := Inspect(is.EmailToken("a@b.c"))
	if err := fresh.CheckFresh(time.Now(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if fresh.Identity() != "a@b.c" || len(fresh.Audience) != 1 || fresh.Audience[0] != "sigstore" {
		t.Fatalf("info: %+v", fresh)
	}
}

// pipe is a Messages writer a goroutine can wait on.
type pipe struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newPipe() (*pipe, *pipe) { p := &pipe{}; return p, p }

func (p *pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

func (p *pipe) waitFor(t *testing.T, s string) string {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		out := p.buf.String()
		p.mu.Unlock()
		if strings.Contains(out, s) {
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("never printed %q", s)
	return ""
}
