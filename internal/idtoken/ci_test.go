package idtoken_test

import (
	"context"
	"strings"
	"testing"

	"trel/internal/idtoken"
	"trel/internal/testutil/oidctest"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

// TestCITokens: the token a CI job gets for trel's audience, the GitHub
// Actions way (request URL and token, asked for the audience) and the
// GitLab way (a variable declared under id_tokens).
func TestCITokens(t *testing.T) {
	ctx := context.Background()
	is := oidctest.New(t)
	run := oidctest.GitHubRun{Repository: "apache/widget", Workflow: ".github/workflows/release.yml", Ref: "refs/tags/v1"}
	ep := is.NewActionsEndpoint(t, run)

	tok, err := idtoken.CI(ctx, idtoken.Options{Audience: "https://trel.example", Getenv: envOf(ep.Env()...)})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := idtoken.Inspect(tok)
	if len(info.Audience) != 1 || info.Audience[0] != "https://trel.example" || strings.Join(ep.Audiences(), ",") != "https://trel.example" {
		t.Fatalf("GitHub token for %v, endpoint asked for %v", info.Audience, ep.Audiences())
	}
	// A wrong request token: GitHub refuses, and the error does not leak it.
	bad := envOf("ACTIONS_ID_TOKEN_REQUEST_URL="+ep.URL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN=wrong-request-token")
	if _, err := idtoken.CI(ctx, idtoken.Options{Audience: "https://trel.example", Getenv: bad}); err == nil || !strings.Contains(err.Error(), "id-token: write") || strings.Contains(err.Error(), "wrong-request-token") {
		t.Fatalf("refused request: %v", err)
	}

	gl := oidctest.GitLabRun{ProjectPath: "group/widget", ConfigPath: ".gitlab-ci.yml", Ref: "main"}
	glTok := is.Mint(gl.Claims("https://trel.example"))
	if got, err := idtoken.CI(ctx, idtoken.Options{Audience: "https://trel.example", TokenEnv: "TREL_ID_TOKEN", Getenv: envOf("TREL_ID_TOKEN=" + glTok)}); err != nil || got != glTok {
		t.Fatalf("GitLab token: %v", err)
	}
	other := is.Mint(gl.Claims("sigstore"))
	if _, err := idtoken.CI(ctx, idtoken.Options{Audience: "https://trel.example", TokenEnv: "TREL_ID_TOKEN", Getenv: envOf("TREL_ID_TOKEN=" + other)}); err == nil || !strings.Contains(err.Error(), "aud: https://trel.example") {
		t.Fatalf("a token for another audience: %v", err)
	}
	if _, err := idtoken.CI(ctx, idtoken.Options{Audience: "https://trel.example", TokenEnv: "TREL_ID_TOKEN", Getenv: envOf()}); err == nil || !strings.Contains(err.Error(), "TREL_ID_TOKEN is not set") {
		t.Fatalf("an unset variable: %v", err)
	}
	if _, err := idtoken.CI(ctx, idtoken.Options{Audience: "https://trel.example", Getenv: envOf()}); err == nil || !strings.Contains(err.Error(), "no CI ID token") {
		t.Fatalf("outside CI: %v", err)
	}
}
