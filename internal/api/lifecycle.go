package api

import (
	"net/http"

	"trel/internal/domain"
)

func (a *API) lifecycleRoutes() []route {
	pol := "/api/v1/projects/{project}/policy"
	return []route{
		{"GET", pol, "The project's release policy", "public", "", "Policy", 200, a.policy},
		{"PUT", pol, "Replace the project's release policy (committee members); a new version", "token", "Policy", "Policy", 200, a.setPolicy},
		{"GET", pol + "/history", "Every version of the project's policy, newest first", "public", "", "PolicyList", 200, a.policyHistory},
		{"GET", rel + "/managers", "The release's managers", "token", "", "ReleaseManagerList", 200, a.listManagers},
		{"POST", rel + "/managers", "Add a release manager: a member or committer of the committee (committee members)", "token", "ReleaseManager", "", 204, a.addManager},
		{"DELETE", rel + "/managers/{username}", "End a user's release-manager role (committee members)", "token", "", "", 204, a.removeManager},
		{"POST", rel + "/acks", "Acknowledge a concern of the latest revision (release managers)", "token", "AckRequest", "Ack", 201, a.ack},
		{"POST", rel + "/vote", "Start the vote on the latest revision (release managers); the body may ask to record your own +1", "token", "StartVote", "VoteRound", 201, a.startVote},
		{"GET", rel + "/vote", "The live tally of the current vote", "public", "", "Tally", 200, a.tally},
		{"POST", rel + "/vote/votes", "Cast (or change) your vote", "token", "VoteRequest", "Tally", 200, a.castVote},
		{"POST", rel + "/vote/resolve", "Close the vote after its minimum duration (release managers); refused while the voted revision is re-checked or holds a blocker", "token", "", "Tally", 200, a.resolveVote},
		{"POST", rel + "/vote/cancel", "Cancel the vote (candidate) or withdraw a passed one (preview): the release returns to draft (release managers)", "token", "CancelVote", "", 204, a.cancelVote},
		{"POST", rel + "/publish", "Publish a release whose vote passed (release managers)", "token", "", "Manifest", 200, a.publish},
	}
}

func (a *API) policy(w http.ResponseWriter, r *http.Request) {
	p, err := a.svc.Policy(r.Context(), actor(r), r.PathValue("project"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, p)
}

func (a *API) setPolicy(w http.ResponseWriter, r *http.Request) {
	var p domain.Policy
	if err := decode(r, &p); err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.svc.SetPolicy(r.Context(), actor(r), r.PathValue("project"), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, out)
}

func (a *API) policyHistory(w http.ResponseWriter, r *http.Request) {
	ps, err := a.svc.PolicyHistory(r.Context(), actor(r), r.PathValue("project"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"policies": nonNil(ps)})
}

// ReleaseManagerRequest names a user.
type ReleaseManagerRequest struct {
	Username string `json:"username"`
}

// ReleaseManagerList lists usernames.
type ReleaseManagerList struct {
	Managers []string `json:"managers"`
}

func (a *API) listManagers(w http.ResponseWriter, r *http.Request) {
	rms, err := a.svc.ReleaseManagers(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, ReleaseManagerList{Managers: rms})
}

func (a *API) removeManager(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.RemoveReleaseManager(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), r.PathValue("username")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}

// CancelVoteRequest says why a vote is cancelled.
type CancelVoteRequest struct {
	Reason string `json:"reason"`
}

func (a *API) cancelVote(w http.ResponseWriter, r *http.Request) {
	var req CancelVoteRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.svc.CancelVote(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), req.Reason); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}

func (a *API) addManager(w http.ResponseWriter, r *http.Request) {
	var req ReleaseManagerRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.svc.AddReleaseManager(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), req.Username); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}

// AckRequest names a concern.
type AckRequest struct {
	Checker string `json:"checker"`
	Path    string `json:"path"`
	Comment string `json:"comment"`
}

func (a *API) ack(w http.ResponseWriter, r *http.Request) {
	var req AckRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	ack, err := a.svc.AckConcern(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), req.Checker, req.Path, req.Comment)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, ack)
}

func (a *API) tally(w http.ResponseWriter, r *http.Request) {
	t, err := a.svc.Tally(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, t)
}

// VoteRequest is a vote.
type VoteRequest struct {
	Value   int    `json:"value"` // +1, 0 or -1
	Comment string `json:"comment,omitempty"`
}

func (a *API) castVote(w http.ResponseWriter, r *http.Request) {
	var req VoteRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := a.svc.CastVote(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), req.Value, req.Comment)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, t)
}

func (a *API) resolveVote(w http.ResponseWriter, r *http.Request) {
	t, err := a.svc.ResolveVote(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, t)
}

func (a *API) publish(w http.ResponseWriter, r *http.Request) {
	m, err := a.svc.Publish(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, m)
}
