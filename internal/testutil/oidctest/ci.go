package oidctest

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Claim sets of CI providers' ID tokens, for tests of trusted publishing.

// GitHubRun describes a GitHub Actions job.
type GitHubRun struct {
	Repository  string // OWNER/NAME
	Workflow    string // .github/workflows/release.yml
	Ref         string // refs/tags/v1.0
	SHA         string
	RunID       string
	Event       string // push (default), pull_request_target...
	Environment string
	// JobWorkflowRef, when set, is a reusable workflow running the job.
	JobWorkflowRef string
}

// Claims returns the claims GitHub puts in a job's ID token (without iss,
// iat, exp, which Mint adds), for audience aud.
func (r GitHubRun) Claims(aud string) map[string]any {
	if r.SHA == "" {
		r.SHA = "0123456789abcdef0123456789abcdef01234567"
	}
	if r.RunID == "" {
		r.RunID = "4242"
	}
	if r.Event == "" {
		r.Event = "push"
	}
	owner, _, _ := strings.Cut(r.Repository, "/")
	wf := r.Repository + "/" + r.Workflow + "@" + r.Ref
	job := wf
	if r.JobWorkflowRef != "" {
		job = r.JobWorkflowRef
	}
	c := map[string]any{
		"aud": aud, "jti": randomHex(16), "sub": "repo:" + r.Repository + ":ref:" + r.Ref,
		"repository": r.Repository, "repository_owner": owner, "repository_id": "123456", "repository_owner_id": "654321",
		"repository_visibility": "public", "actor": "octocat", "actor_id": "1",
		"workflow": "Release", "workflow_ref": wf, "workflow_sha": r.SHA, "job_workflow_ref": job, "job_workflow_sha": r.SHA,
		"ref": r.Ref, "ref_type": refType(r.Ref), "sha": r.SHA, "run_id": r.RunID, "run_number": "7", "run_attempt": "1",
		"event_name": r.Event, "runner_environment": "github-hosted",
	}
	if r.Environment != "" {
		c["environment"] = r.Environment
		c["sub"] = "repo:" + r.Repository + ":environment:" + r.Environment
	}
	return c
}

// GitLabRun describes a GitLab CI job.
type GitLabRun struct {
	Host        string // gitlab.com
	ProjectPath string // group/project
	ConfigPath  string // .gitlab-ci.yml
	Ref         string // main, v1.0 (without refs/...)
	RefType     string // branch or tag
	Protected   bool
	PipelineID  string
	Source      string // push (default), merge_request_event...
	Environment string
	SHA         string
}

// Claims returns the claims GitLab puts in an id_tokens token for aud.
func (r GitLabRun) Claims(aud string) map[string]any {
	if r.Host == "" {
		r.Host = "gitlab.com"
	}
	if r.SHA == "" {
		r.SHA = "89abcdef0123456789abcdef0123456789abcdef"
	}
	if r.PipelineID == "" {
		r.PipelineID = "9001"
	}
	if r.Source == "" {
		r.Source = "push"
	}
	if r.RefType == "" {
		r.RefType = "branch"
	}
	full := "refs/heads/" + r.Ref
	if r.RefType == "tag" {
		full = "refs/tags/" + r.Ref
	}
	ns, _, _ := strings.Cut(r.ProjectPath, "/")
	c := map[string]any{
		"aud": aud, "jti": randomHex(16), "sub": "project_path:" + r.ProjectPath + ":ref_type:" + r.RefType + ":ref:" + r.Ref,
		"namespace_id": "1", "namespace_path": ns, "project_id": "2", "project_path": r.ProjectPath,
		"user_id": "3", "user_login": "gitlab-user", "user_email": "gitlab-user@example.org",
		"pipeline_id": r.PipelineID, "pipeline_source": r.Source, "job_id": "77",
		"ref": r.Ref, "ref_type": r.RefType, "ref_path": full, "ref_protected": fmt.Sprint(r.Protected),
		"sha": r.SHA, "runner_id": 5, "runner_environment": "gitlab-hosted",
		"ci_config_ref_uri": r.Host + "/" + r.ProjectPath + "//" + r.ConfigPath + "@" + full,
		"ci_config_sha":     r.SHA,
	}
	if r.Environment != "" {
		c["environment"] = r.Environment
	}
	return c
}

func refType(ref string) string {
	if strings.HasPrefix(ref, "refs/tags/") {
		return "tag"
	}
	return "branch"
}

// ActionsEndpoint is a loopback stand-in for GitHub Actions' ID token
// endpoint: a job GETs ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD with
// "Authorization: bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN" and receives
// {"value": JWT}, a token of the issuer with the run's claims and the
// audience asked for.
type ActionsEndpoint struct {
	// URL and RequestToken are what the job's environment holds.
	URL          string
	RequestToken string

	mu        sync.Mutex
	audiences []string
	srv       *http.Server
}

// NewActionsEndpoint serves tokens for run from the issuer until the test
// ends.
func (is *Issuer) NewActionsEndpoint(t testing.TB, run GitHubRun) *ActionsEndpoint {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &ActionsEndpoint{URL: "http://" + ln.Addr().String() + "/_apis/distributedtask/token?api-version=2.0", RequestToken: "ghs_" + randomHex(16)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_apis/distributedtask/token", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer "+e.RequestToken && r.Header.Get("Authorization") != "Bearer "+e.RequestToken {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "bad request token"})
			return
		}
		aud := r.URL.Query().Get("audience")
		e.mu.Lock()
		e.audiences = append(e.audiences, aud)
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]string{"value": is.Mint(run.Claims(aud))})
	})
	e.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go e.srv.Serve(ln)
	t.Cleanup(func() { e.srv.Close() })
	return e
}

// Audiences lists the audiences asked for so far.
func (e *ActionsEndpoint) Audiences() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.audiences...)
}

// Env is the environment variables a job sees.
func (e *ActionsEndpoint) Env() []string {
	return []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + e.URL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + e.RequestToken, "GITHUB_ACTIONS=true"}
}
