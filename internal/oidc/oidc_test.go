package oidc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"trel/internal/domain"
	"trel/internal/oidc"
	"trel/internal/testutil/oidctest"
)

const aud = "https://trel.example"

// clock is a settable offset from the real time.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func newRegistry(c *clock) *oidc.Registry {
	return oidc.NewRegistry(oidc.Options{Now: c.now, MinRefresh: 10 * time.Second, KeysTTL: time.Hour})
}

var ghRun = oidctest.GitHubRun{Repository: "apache/widget", Workflow: ".github/workflows/release.yml", Ref: "refs/tags/v1.0", RunID: "777"}

func code(err error) string {
	var e *oidc.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "untyped: " + err.Error()
}

func TestVerifyGitHubTokens(t *testing.T) {
	is := oidctest.New(t)
	reg := newRegistry(&clock{})
	for _, alg := range []string{oidctest.RS256, oidctest.ES256} {
		t.Run(alg, func(t *testing.T) {
			tok, err := is.MintWith(oidctest.MintOptions{Alg: alg, Claims: ghRun.Claims(aud)})
			if err != nil {
				t.Fatal(err)
			}
			v, err := reg.Verify(context.Background(), is.URL, tok, aud)
			if err != nil {
				t.Fatalf("a good %s token was refused: %v", alg, err)
			}
			run, err := oidc.Run(domain.IssuerGitHub, is.URL, "", v.Claims)
			if err != nil {
				t.Fatal(err)
			}
			want := domain.WorkflowRun{Issuer: is.URL, Kind: "github", Repository: "apache/widget", Workflow: ".github/workflows/release.yml",
				Ref: "refs/tags/v1.0", RunID: "777", RunAttempt: "1", EventName: "push", Actor: "octocat",
				RunURL: "https://github.com/apache/widget/actions/runs/777/attempts/1"}
			if run.Repository != want.Repository || run.Workflow != want.Workflow || run.Ref != want.Ref || run.RunURL != want.RunURL ||
				run.RunID != want.RunID || run.EventName != want.EventName || run.Actor != want.Actor || run.JTI == "" || len(run.SHA) != 40 {
				t.Fatalf("run = %+v, want %+v", run, want)
			}
		})
	}
}

func TestVerifyGitLabToken(t *testing.T) {
	is := oidctest.New(t)
	reg := newRegistry(&clock{})
	gl := oidctest.GitLabRun{Host: strings.TrimPrefix(is.URL, "http://"), ProjectPath: "group/sub/widget", ConfigPath: ".gitlab-ci.yml", Ref: "v2.0", RefType: "tag", Protected: true, PipelineID: "31"}
	v, err := reg.Verify(context.Background(), is.URL, is.Mint(gl.Claims(aud)), aud)
	if err != nil {
		t.Fatal(err)
	}
	run, err := oidc.Run(domain.IssuerGitLab, is.URL, "", v.Claims)
	if err != nil {
		t.Fatal(err)
	}
	if run.Repository != "group/sub/widget" || run.Workflow != ".gitlab-ci.yml" || run.Ref != "refs/tags/v2.0" || !run.RefProtected ||
		run.RunURL != is.URL+"/group/sub/widget/-/pipelines/31" || run.EventName != "push" {
		t.Fatalf("run = %+v", run)
	}
	// A GitHub issuer's claims read as GitLab's lack what GitLab sends.
	v2, err := reg.Verify(context.Background(), is.URL, is.Mint(ghRun.Claims(aud)), aud)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oidc.Run(domain.IssuerGitLab, is.URL, "", v2.Claims); code(err) != oidc.CodeClaims || !strings.Contains(err.Error(), "project_path") {
		t.Fatalf("GitHub claims read as GitLab's: %v", err)
	}
}

// TestRefusals: every way a token is refused, with its code and a message
// that says what is wrong.
func TestRefusals(t *testing.T) {
	is := oidctest.New(t)
	other := oidctest.New(t)
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	mint := func(o oidctest.MintOptions) string {
		if o.Claims == nil {
			o.Claims = ghRun.Claims(aud)
		}
		tok, err := is.MintWith(o)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	with := func(extra map[string]any) map[string]any {
		c := ghRun.Claims(aud)
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	good := mint(oidctest.MintOptions{})
	tampered := func() string {
		p := strings.Split(good, ".")
		claims, _ := base64.RawURLEncoding.DecodeString(p[1])
		claims = []byte(strings.Replace(string(claims), "apache/widget", "mallory/widget", -1))
		return p[0] + "." + base64.RawURLEncoding.EncodeToString(claims) + "." + p[2]
	}()
	cases := []struct {
		name, token, issuer, code, says string
	}{
		{"alg none", mint(oidctest.MintOptions{Alg: "none"}), is.URL, oidc.CodeAlgorithm, "not signed"},
		{"HMAC", mint(oidctest.MintOptions{Alg: "HS256", HMACSecret: []byte("public knowledge")}), is.URL, oidc.CodeAlgorithm, "HMAC"},
		{"wrong audience", mint(oidctest.MintOptions{Claims: ghRun.Claims("sigstore")}), is.URL, oidc.CodeAudience, `"sigstore"`},
		{"no audience", mint(oidctest.MintOptions{Claims: with(map[string]any{"aud": nil})}), is.URL, oidc.CodeAudience, "no audience"},
		{"expired", mint(oidctest.MintOptions{Claims: with(map[string]any{"exp": now.Add(-time.Minute).Unix()})}), is.URL, oidc.CodeExpired, "expired"},
		{"no expiry", mint(oidctest.MintOptions{Claims: with(map[string]any{"exp": nil})}), is.URL, oidc.CodeExpired, "no expiry"},
		{"not yet valid", mint(oidctest.MintOptions{Claims: with(map[string]any{"nbf": now.Add(10 * time.Minute).Unix()})}), is.URL, oidc.CodeNotYetValid, "nbf"},
		{"issued in the future", mint(oidctest.MintOptions{Claims: with(map[string]any{"iat": now.Add(10 * time.Minute).Unix()})}), is.URL, oidc.CodeNotYetValid, "iat"},
		{"unpublished key", mint(oidctest.MintOptions{Key: stranger, Kid: "not-published"}), is.URL, oidc.CodeUnknownKey, "does not publish"},
		{"published kid, other key", mint(oidctest.MintOptions{Key: stranger}), is.URL, oidc.CodeSignature, "does not verify"},
		{"altered claims", tampered, is.URL, oidc.CodeSignature, "does not verify"},
		{"other issuer", other.Mint(ghRun.Claims(aud)), is.URL, oidc.CodeIssuer, "issued by"},
		{"not a JWT", "hello", is.URL, oidc.CodeMalformed, "three base64url parts"},
		{"plain http issuer", mint(oidctest.MintOptions{Claims: with(map[string]any{"iss": "http://ci.example.org"})}), "http://ci.example.org", oidc.CodeInsecureURL, "https"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(&clock{})
			_, err := reg.Verify(context.Background(), tc.issuer, tc.token, aud)
			if err == nil {
				t.Fatal("accepted")
			}
			if code(err) != tc.code || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %s %q, want %s saying %q", code(err), err, tc.code, tc.says)
			}
			if strings.Contains(err.Error(), tc.token) && len(tc.token) > 8 {
				t.Fatal("the error repeats the token")
			}
		})
	}
}

// TestKeyRotation: a token signed with a key published after the keys
// were cached is accepted once the keys may be fetched again; forged kids
// do not make trel fetch the keys more than once per MinRefresh.
func TestKeyRotation(t *testing.T) {
	is := oidctest.New(t)
	c := &clock{}
	reg := newRegistry(c)
	ctx := context.Background()
	for _, alg := range []string{oidctest.ES256, oidctest.RS256} {
		tok, _ := is.MintWith(oidctest.MintOptions{Alg: alg, Claims: ghRun.Claims(aud)})
		if _, err := reg.Verify(ctx, is.URL, tok, aud); err != nil {
			t.Fatal(err)
		}
	}
	if n := is.JWKSRequests(); n != 1 {
		t.Fatalf("the keys were fetched %d times for two tokens, want once", n)
	}
	newKid, err := is.Rotate(oidctest.ES256)
	if err != nil {
		t.Fatal(err)
	}
	rotated := is.Mint(ghRun.Claims(aud))
	// Too soon after the first fetch: refused without asking the issuer.
	if _, err := reg.Verify(ctx, is.URL, rotated, aud); code(err) != oidc.CodeUnknownKey || !strings.Contains(err.Error(), "try again shortly") {
		t.Fatalf("a new kid right after a fetch: %v", err)
	}
	c.advance(11 * time.Second)
	if _, err := reg.Verify(ctx, is.URL, rotated, aud); err != nil {
		t.Fatalf("the rotated key %s was not picked up: %v", newKid, err)
	}
	if n := is.JWKSRequests(); n != 2 {
		t.Fatalf("keys fetched %d times, want 2", n)
	}
	// A flood of forged kids: at most one fetch per MinRefresh.
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for i := range 50 {
		tok, _ := is.MintWith(oidctest.MintOptions{Key: stranger, Kid: "forged-" + string(rune('a'+i%26)), Claims: ghRun.Claims(aud)})
		if _, err := reg.Verify(ctx, is.URL, tok, aud); err == nil {
			t.Fatal("a forged token was accepted")
		}
	}
	if n := is.JWKSRequests(); n != 2 {
		t.Fatalf("50 forged kids made %d fetches in total, want none beyond the 2 before", n)
	}
	// A retired key stops verifying once the cache expires.
	for _, kid := range is.KeyIDs() {
		if kid != newKid {
			is.Retire(kid)
		}
	}
	oldRSA, _ := is.MintWith(oidctest.MintOptions{Alg: oidctest.RS256, Claims: ghRun.Claims(aud)})
	c.advance(2 * time.Hour)
	if _, err := reg.Verify(ctx, is.URL, oldRSA, aud); code(err) != oidc.CodeUnknownKey {
		t.Fatalf("a token of a retired key: %v", err)
	}
}

func TestUnreachableIssuer(t *testing.T) {
	is := oidctest.New(t)
	tok := is.Mint(ghRun.Claims(aud))
	url := is.URL
	is.Close()
	_, err := newRegistry(&clock{}).Verify(context.Background(), url, tok, aud)
	if code(err) != oidc.CodeUnreachable {
		t.Fatalf("a stopped issuer: %v", err)
	}
}
