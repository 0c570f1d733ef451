package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"trel/internal/api"
	"trel/internal/blob"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/oidc"
	"trel/internal/store/sqlstore"
	"trel/internal/testutil/oidctest"
)

const trelURL = "https://trel.test"

// publishingServer is an API with trusted publishing on, a GitHub-kind
// and a GitLab-kind issuer on loopback (added through the API), project
// alpha-lib and its member's token.
type publishingServer struct {
	srv            *httptest.Server
	admin, member  string
	github, gitlab *oidctest.Issuer
}

func newPublishingServer(t testing.TB, perMinute int) *publishingServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "trel.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, _ := blob.NewDisk(filepath.Join(dir, "blobs"))
	svc := core.New(st, blobs, core.Options{})
	svc.SetTrustedPublishing(core.TrustedPublishing{Registry: oidc.NewRegistry(oidc.Options{}), Audience: trelURL, ExchangesPerMinute: perMinute})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = svc.Bootstrap(ctx, "admin", "admin@example.org")
	must(err)
	_, err = svc.CreateUser(ctx, core.SystemActor, core.NewUser{Username: "member", Email: "member@example.org"})
	must(err)
	_, err = svc.CreateCommittee(ctx, core.SystemActor, "alpha", "Alpha")
	must(err)
	_, err = svc.AddMember(ctx, core.SystemActor, "alpha", "member", domain.RoleMember)
	must(err)
	_, err = svc.CreateProject(ctx, core.SystemActor, "alpha-lib", "alpha", "Alpha Lib")
	must(err)
	ps := &publishingServer{github: oidctest.New(t), gitlab: oidctest.New(t)}
	ps.admin, _, err = svc.CreateToken(ctx, core.SystemActor, "admin", "t", core.DefaultTokenTTL)
	must(err)
	ps.member, _, err = svc.CreateToken(ctx, core.SystemActor, "member", "t", core.DefaultTokenTTL)
	must(err)
	ps.srv = httptest.NewServer(api.New(svc, slog.New(slog.NewTextHandler(io.Discard, nil)), nil))
	t.Cleanup(ps.srv.Close)
	for is, kind := range map[*oidctest.Issuer]string{ps.github: "github", ps.gitlab: "gitlab"} {
		if st, body := do(t, ps.srv, ps.admin, "POST", "/api/v1/oidc/issuers", fmt.Sprintf(`{"url":%q,"kind":%q}`, is.URL, kind)); st != 201 {
			t.Fatalf("adding issuer: %d %v", st, body)
		}
	}
	return ps
}

func (ps *publishingServer) addPublisher(t testing.TB, body string) int64 {
	t.Helper()
	st, out := do(t, ps.srv, ps.member, "POST", "/api/v1/projects/alpha-lib/publishers", body)
	if st != 201 {
		t.Fatalf("adding publisher: %d %v", st, out)
	}
	return int64(out["id"].(float64))
}

func (ps *publishingServer) exchange(t testing.TB, token string) (int, string, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"token": token})
	st, out := do(t, ps.srv, "", "POST", "/api/v1/oidc/exchange", string(b))
	msg := ""
	if e, ok := out["error"].(map[string]any); ok {
		msg, _ = e["message"].(string)
	}
	return st, msg, out
}

var (
	ghRelease = oidctest.GitHubRun{Repository: "apache/alpha", Workflow: ".github/workflows/release.yml", Ref: "refs/tags/v1.0", Environment: "release"}
	glRelease = oidctest.GitLabRun{ProjectPath: "apache/alpha-gl", ConfigPath: ".gitlab-ci.yml", Ref: "v1.0", RefType: "tag", Protected: true}
)

// TestExchangeRefusals: every refusal of the exchange, with its HTTP
// status and a message naming what is wrong.
func TestExchangeRefusals(t *testing.T) {
	ps := newPublishingServer(t, 1000)
	gh, gl := ps.github, ps.gitlab
	ps.addPublisher(t, fmt.Sprintf(`{"issuer":%q,"repository":"apache/alpha","workflow":".github/workflows/release.yml","ref":"refs/tags/v*","environment":"release","actions":["compose","vote-start","publish"]}`, gh.URL))
	ps.addPublisher(t, fmt.Sprintf(`{"issuer":%q,"repository":"apache/alpha-gl","workflow":".gitlab-ci.yml","ref":"refs/tags/v*","actions":["compose"]}`, gl.URL))

	claims := func(change func(map[string]any)) map[string]any {
		c := ghRelease.Claims(trelURL)
		if change != nil {
			change(c)
		}
		return c
	}
	mint := func(o oidctest.MintOptions) string {
		tok, err := gh.MintWith(o)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	run := func(r oidctest.GitHubRun) string { return gh.Mint(r.Claims(trelURL)) }
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	unknownIssuer := oidctest.New(t)
	now := time.Now()
	fork := ghRelease
	fork.Event = "pull_request_target"
	otherWorkflow := ghRelease
	otherWorkflow.Workflow = ".github/workflows/ci.yml"
	branch := ghRelease
	branch.Ref = "refs/heads/main"
	noEnv := ghRelease
	noEnv.Environment = ""
	otherRepo := ghRelease
	otherRepo.Repository = "mallory/alpha"
	unprotected := glRelease
	unprotected.Protected = false
	glRelease.Host = strings.TrimPrefix(gl.URL, "http://")
	unprotected.Host = glRelease.Host

	cases := []struct {
		name, token string
		status      int
		says        []string
	}{
		{"wrong audience", mint(oidctest.MintOptions{Claims: ghRelease.Claims("sigstore")}), 401, []string{`"sigstore"`, "not for this trel server (" + trelURL + ")"}},
		{"expired", mint(oidctest.MintOptions{Claims: claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() })}), 401, []string{"expired at"}},
		{"not yet valid", mint(oidctest.MintOptions{Claims: claims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })}), 401, []string{"not valid yet", "nbf"}},
		{"unknown issuer", unknownIssuer.Mint(ghRelease.Claims(trelURL)), 401, []string{unknownIssuer.URL, "does not accept", "trel issuer add"}},
		{"alg none", mint(oidctest.MintOptions{Alg: "none", Claims: claims(nil)}), 401, []string{"not signed"}},
		{"HMAC", mint(oidctest.MintOptions{Alg: "HS256", HMACSecret: []byte("k"), Claims: claims(nil)}), 401, []string{"HMAC"}},
		{"unpublished key", mint(oidctest.MintOptions{Key: stranger, Kid: "nope", Claims: claims(nil)}), 401, []string{"does not publish"}},
		{"other workflow", run(otherWorkflow), 403, []string{"workflow_ref names the workflow .github/workflows/ci.yml, not .github/workflows/release.yml"}},
		{"branch, not a tag", run(branch), 403, []string{"ref is refs/heads/main, which does not match refs/tags/v*"}},
		{"no environment", run(noEnv), 403, []string{"environment is not set, not release"}},
		{"no publisher for the repository", run(otherRepo), 403, []string{"no trusted publisher names repository mallory/alpha"}},
		{"pull request from a fork", run(fork), 403, []string{"pull-request event (pull_request_target)", "requires a protected ref"}},
		{"GitLab, unprotected ref", gl.Mint(unprotected.Claims(trelURL)), 403, []string{"ref_protected is false"}},
		{"not a token", "not-a-jwt", 401, []string{"not an ID token"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, msg, _ := ps.exchange(t, tc.token)
			if st != tc.status {
				t.Fatalf("status %d (%s), want %d", st, msg, tc.status)
			}
			for _, s := range tc.says {
				if !strings.Contains(msg, s) {
					t.Fatalf("the message does not say %q: %s", s, msg)
				}
			}
		})
	}

	t.Run("replayed token", func(t *testing.T) {
		tok := run(ghRelease)
		st, msg, out := ps.exchange(t, tok)
		if st != 200 {
			t.Fatalf("first exchange %d %s", st, msg)
		}
		exp, _ := time.Parse(time.RFC3339, out["expires_at"].(string))
		if d := time.Until(exp); d > core.CredentialTTL || d < core.CredentialTTL-time.Minute {
			t.Fatalf("the credential lives %s", d)
		}
		if !strings.HasPrefix(out["token"].(string), core.CredentialPrefix) || out["project"] != "alpha-lib" {
			t.Fatalf("answer %v", out)
		}
		if st, msg, _ := ps.exchange(t, tok); st != 401 || !strings.Contains(msg, "already exchanged") {
			t.Fatalf("replay: %d %s", st, msg)
		}
	})
	t.Run("racing replays", func(t *testing.T) {
		tok := run(ghRelease)
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, _, _ := ps.exchange(t, tok)
				mu.Lock()
				codes[st]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes[200] != 1 || codes[401] != 7 {
			t.Fatalf("8 racing exchanges of one token: %v, want one 200 and seven 401", codes)
		}
	})
	t.Run("GitLab", func(t *testing.T) {
		if st, msg, out := ps.exchange(t, gl.Mint(glRelease.Claims(trelURL))); st != 200 || out["run"].(map[string]any)["ref"] != "refs/tags/v1.0" {
			t.Fatalf("a protected GitLab tag: %d %s %v", st, msg, out)
		}
	})
	t.Run("malformed request", func(t *testing.T) {
		if st, _ := do(t, ps.srv, "", "POST", "/api/v1/oidc/exchange", `{"token":""}`); st != 400 {
			t.Fatalf("no token: %d", st)
		}
		if st, _ := do(t, ps.srv, "", "POST", "/api/v1/oidc/exchange", `{"tokn":"x"}`); st != 400 {
			t.Fatalf("unknown field: %d", st)
		}
	})
	t.Run("the credential is no user", func(t *testing.T) {
		_, _, out := ps.exchange(t, run(ghRelease))
		cred := out["token"].(string)
		if st, body := do(t, ps.srv, cred, "GET", "/api/v1/me", ""); st != 403 {
			t.Fatalf("/me with a CI credential: %d %v", st, body)
		}
		if st, body := do(t, ps.srv, cred, "POST", "/api/v1/tokens", `{"label":"escape"}`); st != 403 {
			t.Fatalf("a token made with a CI credential: %d %v", st, body)
		}
		if st, body := do(t, ps.srv, cred, "POST", "/api/v1/projects/alpha-lib/releases", `{"version":"1.0"}`); st != 201 {
			t.Fatalf("a release started with a CI credential: %d %v", st, body)
		}
		if st, body := do(t, ps.srv, cred+"x", "GET", "/api/v1/projects/alpha-lib/releases/1.0", ""); st != 401 {
			t.Fatalf("a mangled credential: %d %v", st, body)
		}
	})
}

// TestExchangeRateLimit: one repository's exchanges are counted in the
// database; over the limit they are refused with 429 and Retry-After.
func TestExchangeRateLimit(t *testing.T) {
	ps := newPublishingServer(t, 3)
	ps.addPublisher(t, fmt.Sprintf(`{"issuer":%q,"repository":"apache/alpha","workflow":".github/workflows/release.yml","actions":["compose"]}`, ps.github.URL))
	for i := range 3 {
		if st, msg, _ := ps.exchange(t, ps.github.Mint(ghRelease.Claims(trelURL))); st != 200 {
			t.Fatalf("exchange %d: %d %s", i+1, st, msg)
		}
	}
	b, _ := json.Marshal(map[string]string{"token": ps.github.Mint(ghRelease.Claims(trelURL))})
	resp, err := http.Post(ps.srv.URL+"/api/v1/oidc/exchange", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(raw), "apache/alpha exchanged more than 3") {
		t.Fatalf("the 4th exchange in a minute: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), raw)
	}
	// Another repository has its own count.
	other := oidctest.GitHubRun{Repository: "apache/beta", Workflow: ".github/workflows/release.yml", Ref: "refs/tags/v1"}
	if st, msg, _ := ps.exchange(t, ps.github.Mint(other.Claims(trelURL))); st != 403 {
		t.Fatalf("another repository: %d %s", st, msg)
	}
}

func TestIssuerAndPublisherEndpoints(t *testing.T) {
	ps := newPublishingServer(t, 100)
	if st, out := do(t, ps.srv, "", "GET", "/api/v1/oidc/audience", ""); st != 200 || out["audience"] != trelURL || len(out["issuers"].([]any)) != 4 {
		t.Fatalf("audience: %d %v", st, out)
	}
	if st, out := do(t, ps.srv, ps.member, "POST", "/api/v1/oidc/issuers", `{"url":"https://ci.example","kind":"github"}`); st != 403 {
		t.Fatalf("a member added an issuer: %d %v", st, out)
	}
	if st, out := do(t, ps.srv, ps.admin, "POST", "/api/v1/oidc/issuers", `{"url":"http://ci.example","kind":"github"}`); st != 400 || !strings.Contains(fmt.Sprint(out), "https") {
		t.Fatalf("a plain-http issuer: %d %v", st, out)
	}
	if st, out := do(t, ps.srv, ps.admin, "DELETE", "/api/v1/oidc/issuers?url=https%3A%2F%2Fgitlab.com", ""); st != 204 {
		t.Fatalf("removing GitLab.com: %d %v", st, out)
	}
	if st, out := do(t, ps.srv, ps.admin, "DELETE", "/api/v1/oidc/issuers?url=https%3A%2F%2Fgitlab.com", ""); st != 404 {
		t.Fatalf("removing it twice: %d %v", st, out)
	}
	id := ps.addPublisher(t, fmt.Sprintf(`{"issuer":%q,"repository":"apache/alpha","workflow":".github/workflows/release.yml","actions":["compose"]}`, ps.github.URL))
	if st, out := do(t, ps.srv, "", "GET", "/api/v1/projects/alpha-lib/publishers", ""); st != 200 || len(out["publishers"].([]any)) != 1 {
		t.Fatalf("list: %d %v", st, out)
	}
	if st, out := do(t, ps.srv, ps.member, "POST", "/api/v1/projects/alpha-lib/publishers", `{"issuer":"https://nowhere.example","repository":"a/b","workflow":"w.yml","actions":["compose"]}`); st != 400 || !strings.Contains(fmt.Sprint(out), "does not accept ID tokens of https://nowhere.example") {
		t.Fatalf("a publisher of an unknown issuer: %d %v", st, out)
	}
	if st, _ := do(t, ps.srv, ps.member, "DELETE", fmt.Sprintf("/api/v1/projects/alpha-lib/publishers/%d", id), ""); st != 204 {
		t.Fatalf("remove: %d", st)
	}
}

// BenchmarkExchange: one ID token exchanged over loopback HTTP (signature
// check with cached keys, the rate-limit count, the publisher match, the
// single-use jti insert, the credential and its audit event), SQLite.
func BenchmarkExchange(b *testing.B) {
	ps := newPublishingServer(b, 1<<30)
	ps.addPublisher(b, fmt.Sprintf(`{"issuer":%q,"repository":"apache/alpha","workflow":".github/workflows/release.yml","actions":["compose"]}`, ps.github.URL))
	run := oidctest.GitHubRun{Repository: "apache/alpha", Workflow: ".github/workflows/release.yml", Ref: "refs/tags/v1"}
	tokens := make([]string, b.N)
	for i := range tokens {
		tokens[i] = ps.github.Mint(run.Claims(trelURL))
	}
	b.ResetTimer()
	for i := range b.N {
		body, _ := json.Marshal(map[string]string{"token": tokens[i]})
		resp, err := http.Post(ps.srv.URL+"/api/v1/oidc/exchange", "application/json", strings.NewReader(string(body)))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("exchange %d: %s", i, resp.Status)
		}
	}
}
