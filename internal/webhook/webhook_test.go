package webhook_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"trel/internal/webhook"
)

func TestSignatureRoundTrip(t *testing.T) {
	body := []byte(`{"event":"release.published"}`)
	sig := webhook.Sign("secret", body)
	if !strings.HasPrefix(sig, "sha256=") || len(sig) != 7+64 {
		t.Fatalf("signature %q", sig)
	}
	if !webhook.Verify("secret", sig, body) || webhook.Verify("other", sig, body) || webhook.Verify("secret", sig, append(body, ' ')) {
		t.Fatal("verification does not depend on the secret and the body")
	}
}

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2001:4860:4860::8888": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "0.0.0.0": false, "::": false, "fc00::1": false, "fe80::1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "64:ff9b::a00:1": false, "224.0.0.1": false, "255.255.255.255": false,
	} {
		if got := webhook.Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: public %v, want %v", addr, got, want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		private bool
		ok      bool
	}{
		{"https://ci.example.org/hook", false, true},
		{"http://ci.example.org:8080/hook?x=1", false, true},
		{"ftp://ci.example.org/hook", false, false},
		{"https://user:pw@ci.example.org/hook", false, false},
		{"http://127.0.0.1:9000/hook", false, false},
		{"http://[::1]/hook", false, false},
		{"http://169.254.169.254/latest/meta-data", false, false},
		{"http://localhost:9000/hook", false, false},
		{"http://metadata.google.internal/", false, false},
		{"http://127.0.0.1:9000/hook", true, true},
		{"not a url", false, false},
	} {
		err := webhook.CheckURL(tc.url, tc.private)
		if (err == nil) != tc.ok {
			t.Errorf("%s (private allowed %v): %v", tc.url, tc.private, err)
		}
	}
}

// TestPost: a receiver on loopback verifies the signature; the poster
// refuses loopback unless private addresses are allowed; answers are
// classified.
func TestPost(t *testing.T) {
	ctx := context.Background()
	var status atomic.Int32
	status.Store(200)
	var verified atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if webhook.Verify("s3cret", r.Header.Get(webhook.HeaderSignature), body) && r.Header.Get(webhook.HeaderEvent) == "release.published" &&
			r.Header.Get(webhook.HeaderDelivery) == "d-1" && r.Header.Get("Content-Type") == "application/json" {
			verified.Add(1)
		}
		if s := status.Load(); s == 302 {
			http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", 302)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	body := []byte(`{"event":"release.published"}`)

	if _, err := webhook.New(false, 0).Post(ctx, srv.URL, "s3cret", "release.published", "d-1", body); err == nil || webhook.IsTemporary(err) || verified.Load() != 0 {
		t.Fatalf("loopback reached without permission: %v", err)
	}
	p := webhook.New(true, 0)
	if code, err := p.Post(ctx, srv.URL, "s3cret", "release.published", "d-1", body); err != nil || code != 200 || verified.Load() != 1 {
		t.Fatalf("code %d err %v verified %d", code, err, verified.Load())
	}
	for s, temporary := range map[int32]bool{503: true, 429: true, 500: true, 404: false, 410: false, 302: false} {
		status.Store(s)
		code, err := p.Post(ctx, srv.URL, "s3cret", "release.published", "d-1", body)
		if err == nil || code != int(s) || webhook.IsTemporary(err) != temporary {
			t.Errorf("answer %d: code %d err %v (temporary %v, want %v)", s, code, err, webhook.IsTemporary(err), temporary)
		}
	}
}

// TestPostRefusesLocalNames: the dial-time guard judges the address a
// name resolves to (localhost, an IPv4-mapped IPv6 literal, a decimal or
// octal IPv4 spelling), so that a name the registration check lets
// through does not reach loopback either.
func TestPostRefusesLocalNames(t *testing.T) {
	var reached atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	p := webhook.New(false, 5*time.Second)
	for _, host := range []string{"localhost", "[::ffff:127.0.0.1]", "[::1]", "2130706433", "0177.0.0.1", "127.1"} {
		_, err := p.Post(context.Background(), "http://"+host+":"+port+"/hook", "s3cret", "release.published", "d-1", []byte(`{}`))
		if err == nil {
			t.Errorf("%s: the webhook reached loopback", host)
		}
	}
	if reached.Load() != 0 {
		t.Fatalf("the receiver on loopback was called %d times", reached.Load())
	}
}
