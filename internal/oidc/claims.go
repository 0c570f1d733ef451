package oidc

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"trel/internal/domain"
)

// Run reads the workflow run out of verified claims of an issuer of the
// given kind (domain.IssuerGitHub or domain.IssuerGitLab); webURL is where
// the issuer shows repositories (domain.DefaultWebURL when empty). Claims
// the kind always carries must be present.
func Run(kind, issuer, webURL string, claims map[string]any) (domain.WorkflowRun, error) {
	if webURL == "" {
		webURL = domain.DefaultWebURL(kind, issuer)
	}
	get := func(name string) string { return claim(claims, name) }
	run := domain.WorkflowRun{Issuer: issuer, Kind: kind, Subject: get("sub"), SHA: get("sha"),
		Environment: get("environment"), JTI: get("jti")}
	var missing []string
	need := func(name, v string) string {
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	switch kind {
	case domain.IssuerGitHub:
		run.Repository = need("repository", get("repository"))
		run.Ref = need("ref", get("ref"))
		run.RunID = need("run_id", get("run_id"))
		run.RunAttempt = get("run_attempt")
		run.EventName = get("event_name")
		run.Actor = get("actor")
		need("sha", run.SHA)
		wf := need("workflow_ref", get("workflow_ref"))
		run.Workflow = workflowPath(wf, run.Repository+"/")
		if jwf := get("job_workflow_ref"); jwf != "" && jwf != wf {
			run.JobWorkflow = jwf
		}
		run.RunURL = webURL + "/" + run.Repository + "/actions/runs/" + url.PathEscape(run.RunID)
		if run.RunAttempt != "" {
			run.RunURL += "/attempts/" + url.PathEscape(run.RunAttempt)
		}
	case domain.IssuerGitLab:
		run.Repository = need("project_path", get("project_path"))
		ref := need("ref", get("ref"))
		switch get("ref_type") {
		case "branch":
			run.Ref = "refs/heads/" + ref
		case "tag":
			run.Ref = "refs/tags/" + ref
		default:
			run.Ref = ref
		}
		run.RunID = need("pipeline_id", get("pipeline_id"))
		run.EventName = get("pipeline_source")
		run.RefProtected = get("ref_protected") == "true"
		run.Actor = get("user_login")
		need("sha", run.SHA)
		// ci_config_ref_uri: gitlab.example/group/project//.gitlab-ci.yml@refs/heads/main
		cfg := need("ci_config_ref_uri", get("ci_config_ref_uri"))
		if _, after, ok := strings.Cut(cfg, "//"); ok {
			run.Workflow = workflowPath(after, "")
		}
		run.RunURL = webURL + "/" + run.Repository + "/-/pipelines/" + url.PathEscape(run.RunID)
	default:
		return run, errorf(CodeClaims, "unknown issuer kind %q", kind)
	}
	need("jti", run.JTI)
	if len(missing) > 0 {
		return run, errorf(CodeClaims, "the ID token lacks the claims %s that a %s token carries: is the issuer's kind right?", strings.Join(missing, ", "), kind)
	}
	return run, nil
}

// claim is a claim's value as text ("" when absent or not a scalar).
func claim(claims map[string]any, name string) string {
	switch v := claims[name].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return fmt.Sprint(v)
	}
	return ""
}

// RepositoryIDs names a run's repository and its owner by the ids the
// issuer gives them (GitHub: repository_id and repository_owner_id;
// GitLab: project_id and namespace_id). Unlike the path, they do not pass
// to whoever creates a repository of the same name after the original was
// deleted or renamed. "" when the token carries none (another issuer).
func RepositoryIDs(kind string, claims map[string]any) string {
	keys := map[string][]string{domain.IssuerGitHub: {"repository_id", "repository_owner_id"}, domain.IssuerGitLab: {"project_id", "namespace_id"}}[kind]
	var parts []string
	for _, k := range keys {
		if v := claim(claims, k); v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// workflowPath cuts "OWNER/NAME/" in front and "@REF" behind a workflow
// reference, leaving the file's path in the repository.
func workflowPath(ref, prefix string) string {
	p, _, _ := strings.Cut(ref, "@")
	return strings.TrimPrefix(p, prefix)
}
