package api

import (
	"net/http"

	"trel/internal/domain"
)

// Trusted publishing: the audience and the exchange (public), OIDC issuers
// (administrators), a project's trusted publishers (committee members),
// and what CI workflow runs did to a release.

func (a *API) oidcRoutes() []route {
	return []route{
		{"GET", "/api/v1/oidc/audience", "The audience ID tokens must be issued for, and the issuers trel accepts", "public", "", "Audience", 200, a.audience},
		{"POST", "/api/v1/oidc/exchange", "Exchange a CI job's OIDC ID token for a credential of at most 15 minutes, scoped to one project and its trusted publisher's actions", "public", "Exchange", "Exchanged", 200, a.exchange},
		{"GET", "/api/v1/oidc/issuers", "OIDC issuers whose ID tokens trel accepts", "public", "", "IssuerList", 200, a.listIssuers},
		{"POST", "/api/v1/oidc/issuers", "Accept the ID tokens of another issuer", "admin", "Issuer", "Issuer", 201, a.addIssuer},
		{"DELETE", "/api/v1/oidc/issuers", "Stop accepting an issuer's ID tokens (?url=ISSUER)", "admin", "", "", 204, a.removeIssuer},
		{"GET", "/api/v1/projects/{project}/publishers", "The project's trusted publishers (CI workflows)", "public", "", "PublisherList", 200, a.listPublishers},
		{"POST", "/api/v1/projects/{project}/publishers", "Trust a CI workflow to act for the project (committee members; a new policy version)", "token", "Publisher", "Publisher", 201, a.addPublisher},
		{"DELETE", "/api/v1/projects/{project}/publishers/{id}", "Stop trusting a publisher; its credentials stop working at once", "token", "", "", 204, a.removePublisher},
		{"GET", rel + "/workflow-runs", "What CI workflow runs did to the release", "token", "", "WorkflowActionList", 200, a.workflowRuns},
	}
}

func (a *API) audience(w http.ResponseWriter, r *http.Request) {
	is, err := a.svc.OIDCIssuers(r.Context(), actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	aud := a.svc.Audience()
	if aud == "" {
		a.fail(w, r, domain.Errorf(domain.KindUnavailable, "trusted publishing is not configured on this server"))
		return
	}
	writeJSON(w, 200, map[string]any{"audience": aud, "issuers": nonNil(is)})
}

// ExchangeRequest is the body of POST /api/v1/oidc/exchange.
type ExchangeRequest struct {
	Token string `json:"token"`
	// Project picks the project when the token matches publishers of
	// several.
	Project string `json:"project,omitempty"`
}

func (a *API) exchange(w http.ResponseWriter, r *http.Request) {
	var req ExchangeRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.Token == "" {
		a.fail(w, r, domain.Errorf(domain.KindInvalid, `give the CI job's ID token: {"token": "eyJ..."}`))
		return
	}
	out, err := a.svc.ExchangeIDToken(r.Context(), actor(r), req.Token, req.Project)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, out)
}

func (a *API) listIssuers(w http.ResponseWriter, r *http.Request) {
	is, err := a.svc.OIDCIssuers(r.Context(), actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"issuers": nonNil(is)})
}

func (a *API) addIssuer(w http.ResponseWriter, r *http.Request) {
	var req domain.OIDCIssuer
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.svc.AddOIDCIssuer(r.Context(), actor(r), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, out)
}

func (a *API) removeIssuer(w http.ResponseWriter, r *http.Request) {
	url := r.URL.Query().Get("url")
	if url == "" {
		a.fail(w, r, domain.Errorf(domain.KindInvalid, "name the issuer: ?url=ISSUER"))
		return
	}
	if err := a.svc.RemoveOIDCIssuer(r.Context(), actor(r), url); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}

func (a *API) listPublishers(w http.ResponseWriter, r *http.Request) {
	ps, err := a.svc.Publishers(r.Context(), actor(r), r.PathValue("project"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"publishers": nonNil(ps)})
}

// PublisherRequest is the body of POST .../publishers.
type PublisherRequest struct {
	Issuer      string   `json:"issuer"`
	Repository  string   `json:"repository"`
	Workflow    string   `json:"workflow"`
	Ref         string   `json:"ref,omitempty"`
	Environment string   `json:"environment,omitempty"`
	Actions     []string `json:"actions"`
}

func (a *API) addPublisher(w http.ResponseWriter, r *http.Request) {
	var req PublisherRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.svc.AddPublisher(r.Context(), actor(r), r.PathValue("project"), publisherOf(req))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, out)
}

// publisherOf turns the request into a publisher (the core assigns the
// rest).
func publisherOf(req PublisherRequest) domain.TrustedPublisher {
	return domain.TrustedPublisher{Issuer: req.Issuer, Repository: req.Repository, Workflow: req.Workflow,
		Ref: req.Ref, Environment: req.Environment, Actions: req.Actions}
}

func (a *API) removePublisher(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.svc.RemovePublisher(r.Context(), actor(r), r.PathValue("project"), int64(id)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}

func (a *API) workflowRuns(w http.ResponseWriter, r *http.Request) {
	acts, err := a.svc.WorkflowActions(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"workflow_runs": nonNil(acts)})
}

func init() {
	run := obj([]string{"issuer", "repository", "workflow", "ref", "sha", "run_id", "run_url"}, map[string]any{"issuer": str, "kind": str, "subject": str,
		"repository": str, "workflow": str, "job_workflow": str, "ref": str, "sha": str, "run_id": str, "run_attempt": str, "run_url": str,
		"environment": str, "event_name": str, "ref_protected": boolean, "actor": str})
	actions := map[string]any{"type": "array", "items": map[string]any{"type": "string", "enum": []any{"compose", "vote-start", "publish"}}}
	schemas["WorkflowRun"] = run
	schemas["Issuer"] = obj([]string{"url", "kind"}, map[string]any{"url": map[string]any{"type": "string", "description": "Exactly the iss of its tokens; https (http only on loopback)"},
		"kind":     map[string]any{"type": "string", "enum": []any{"github", "gitlab"}, "description": "Which claim set the issuer issues"},
		"web_url":  map[string]any{"type": "string", "description": "Where its repositories are shown (default https://github.com for github, the issuer for gitlab)"},
		"added_by": str, "added_at": datetime})
	schemas["IssuerList"] = list("issuers", "Issuer")
	schemas["Audience"] = obj([]string{"audience", "issuers"}, map[string]any{"audience": str, "issuers": map[string]any{"type": "array", "items": ref("Issuer")}})
	schemas["Exchange"] = obj([]string{"token"}, map[string]any{"token": map[string]any{"type": "string", "description": "The CI job's ID token, issued for the audience of /api/v1/oidc/audience"},
		"project": map[string]any{"type": "string", "description": "The project, when the token matches publishers of several"}})
	schemas["Exchanged"] = obj([]string{"token", "expires_at"}, map[string]any{"token": map[string]any{"type": "string", "description": "The credential (trelci_...), shown once"},
		"expires_at": datetime, "project": str, "publisher": integer, "actions": actions, "run": ref("WorkflowRun")})
	schemas["Publisher"] = obj([]string{"issuer", "repository", "workflow", "actions"}, map[string]any{"id": integer, "issuer": str,
		"repository":  map[string]any{"type": "string", "description": "OWNER/NAME (GitHub) or the project path (GitLab)"},
		"workflow":    map[string]any{"type": "string", "description": "The workflow file (.github/workflows/release.yml) or CI config path (.gitlab-ci.yml)"},
		"ref":         map[string]any{"type": "string", "description": "Optional glob on the full ref (refs/tags/v*); requires a protected ref: pull-request events are refused"},
		"environment": str, "actions": actions, "account": str, "added_by": str, "added_at": datetime})
	schemas["PublisherList"] = list("publishers", "Publisher")
	schemas["WorkflowAction"] = obj([]string{"action", "run"}, map[string]any{"action": map[string]any{"type": "string", "enum": []any{"release.start", "revision", "vote.start", "vote.resolve", "publish"}},
		"number": integer, "at": datetime, "run": ref("WorkflowRun")})
	schemas["WorkflowActionList"] = list("workflow_runs", "WorkflowAction")
	props := func(name string) map[string]any { return schemas[name].(map[string]any)["properties"].(map[string]any) }
	props("Revision")["workflow"] = ref("WorkflowRun")
	props("Policy")["publishers"] = map[string]any{"type": "array", "items": ref("Publisher"), "description": "Changed only by the publishers endpoints"}
	props("Manifest")["policy"] = ref("Policy")
	props("Manifest")["keys"] = map[string]any{"type": "array", "description": "The committee's KEYS at publication", "items": obj([]string{"fingerprint"},
		map[string]any{"fingerprint": str, "owner": str, "historic": boolean})}
	props("Manifest")["workflow_runs"] = map[string]any{"type": "array", "items": ref("WorkflowAction")}
}
