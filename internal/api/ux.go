package api

import (
	"bytes"
	"io"
	"net/http"

	"trel/internal/domain"
	"trel/internal/store"
)

// uxRoutes: the calls behind the pages of issue 16 (public release pages,
// draft controls, the public release lists).
func (a *API) uxRoutes() []route {
	return []route{
		{"GET", rel + "/summary", "The public summary of a candidate or published release: files, SHA-512, signers, vote, policy versions, log entry", "public", "", "ReleaseSummary", 200, a.summary},
		{"GET", "/api/v1/releases", "Releases everyone may see, newest first (?committee=C, ?phase=candidate|preview|released, ?limit=N)", "public", "", "ReleaseList", 200, a.publicReleases},
		{"POST", rel + "/abandon", "Abandon (delete) a draft release (committee members); its content is collected later by the storage sweep", "token", "Abandon", "", 204, a.abandon},
		{"POST", rel + "/revisions/{number}/restore", "Make a new revision of a draft with the files of an earlier revision", "token", "Restore", "RevisionResult", 201, a.restore},
		{"GET", rel + "/vote/history", "Every vote round of the release, newest first, with its ballots (cancelled rounds keep theirs, with the reason)", "public", "", "VoteHistory", 200, a.voteHistory},
		{"GET", "/api/v1/me/sessions", "Your browser sessions (device, address, sign-in and last-seen times)", "token", "", "SessionList", 200, a.mySessions},
		{"DELETE", "/api/v1/me/sessions/{id}", "End one of your browser sessions", "token", "", "", 204, a.byID(a.svc.EndMySession)},
		{"GET", "/api/v1/me/passkeys", "Your passkeys", "token", "", "PasskeyList", 200, a.myPasskeys},
		{"PUT", "/api/v1/me/passkeys/{id}/name", "Rename one of your passkeys", "token", "PasskeyName", "", 204, a.renamePasskey},
		{"POST", "/api/v1/signing-keys/{fingerprint}/check-password", "Check a held key's password before asking for a passkey approval (counts as an attempt)", "token", "PasswordCheck", "", 204, a.checkKeyPassword},
	}
}

func (a *API) summary(w http.ResponseWriter, r *http.Request) {
	s, err := a.svc.Summary(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, s)
}

func (a *API) publicReleases(w http.ResponseWriter, r *http.Request) {
	n, err := intQuery(r, "limit")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	phase := domain.Phase(q.Get("phase"))
	switch phase {
	case "", domain.PhaseCandidate, domain.PhasePreview, domain.PhaseReleased:
	default:
		a.fail(w, r, domain.Errorf(domain.KindInvalid, "phase must be candidate, preview or released").On("phase"))
		return
	}
	rs, err := a.svc.PublicReleases(r.Context(), actor(r), q.Get("committee"), phase, n)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"releases": nonNil(rs)})
}

// auditFilter reads the audit log's filters from the query.
func auditFilter(r *http.Request) store.AuditFilter {
	q := r.URL.Query()
	return store.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target")}
}

// The schemas of the calls above (kept here, beside them).
func init() {
	signer := obj([]string{"kind", "file"}, map[string]any{"kind": map[string]any{"type": "string", "enum": []any{"openpgp", "sigstore"}},
		"file": str, "fingerprint": str, "owner": str, "held": map[string]any{"type": "boolean", "description": "trel holds the key (it signed after the owner's passkey approval)"},
		"identity": str, "issuer": str, "key_name": str})
	schemas["ReleaseSummary"] = obj([]string{"release", "revision", "files"}, map[string]any{"release": ref("Release"), "revision": integer,
		"files": map[string]any{"type": "array", "items": obj([]string{"path", "size", "sha512", "artifact"}, map[string]any{"path": str, "size": integer, "sha512": str,
			"artifact": boolean, "signers": map[string]any{"type": "array", "items": signer}})},
		"vote": ref("Tally"), "policy_version": integer, "checks_policy_version": integer, "published_at": optTime, "published_by": str,
		"log_index": map[string]any{"type": "integer", "description": "The public-log entry of the published manifest"}})
	schemas["StartVote"] = obj(nil, map[string]any{"plus_one": map[string]any{"type": "boolean", "description": "Record your own +1 as the vote starts"}, "comment": str})
	schemas["Abandon"] = obj(nil, map[string]any{"reason": map[string]any{"type": "string", "description": "Why; kept in the audit log"}})
	schemas["Restore"] = obj(nil, map[string]any{"expect_revision": map[string]any{"type": "integer", "description": "The latest revision you saw: a conflict if another landed since"}})
	schemas["PasswordCheck"] = obj([]string{"password"}, map[string]any{"password": str})
	schemas["PasskeyName"] = obj([]string{"name"}, map[string]any{"name": str})
	schemas["AuditList"] = obj([]string{"events"}, map[string]any{"events": map[string]any{"type": "array", "items": ref("AuditEvent")},
		"more": map[string]any{"type": "boolean", "description": "Older events match: ask again with a larger offset"}})
}

// StartVoteRequest is the optional body of POST .../vote.
type StartVoteRequest struct {
	// PlusOne records the release manager's own +1 with Comment.
	PlusOne bool   `json:"plus_one"`
	Comment string `json:"comment,omitempty"`
}

func (a *API) startVote(w http.ResponseWriter, r *http.Request) {
	var req StartVoteRequest
	if err := decodeOptional(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	project, version := r.PathValue("project"), r.PathValue("version")
	if req.PlusOne {
		v, _, err := a.svc.StartVoteWithPlusOne(r.Context(), actor(r), project, version, req.Comment)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, 201, v)
		return
	}
	v, err := a.svc.StartVote(r.Context(), actor(r), project, version)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, v)
}

// decodeOptional reads a JSON body into v when there is one: an empty
// body leaves v as it is.
func decodeOptional(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return domain.Errorf(domain.KindInvalid, "the request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return decode(r, v)
}

// AbandonRequest is the body of POST .../abandon.
type AbandonRequest struct {
	Reason string `json:"reason"`
}

func (a *API) abandon(w http.ResponseWriter, r *http.Request) {
	var req AbandonRequest
	if err := decodeOptional(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.svc.AbandonRelease(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), req.Reason); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}

// RestoreRequest is the optional body of POST .../restore.
type RestoreRequest struct {
	ExpectRevision *int `json:"expect_revision,omitempty"`
}

func (a *API) restore(w http.ResponseWriter, r *http.Request) {
	var req RestoreRequest
	if err := decodeOptional(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	n, err := pathInt(r, "number")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.svc.RestoreRevision(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), n, req.ExpectRevision)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, res)
}

func (a *API) voteHistory(w http.ResponseWriter, r *http.Request) {
	h, err := a.svc.VoteHistory(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"rounds": h})
}

func (a *API) mySessions(w http.ResponseWriter, r *http.Request) {
	ss, err := a.svc.MySessions(r.Context(), actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"sessions": nonNil(ss)})
}

func (a *API) myPasskeys(w http.ResponseWriter, r *http.Request) {
	pks, err := a.svc.MyPasskeys(r.Context(), actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"passkeys": nonNil(pks)})
}

// PasskeyNameRequest is the body of PUT /api/v1/me/passkeys/{id}/name.
type PasskeyNameRequest struct {
	Name string `json:"name"`
}

func (a *API) renamePasskey(w http.ResponseWriter, r *http.Request) {
	var req PasskeyNameRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	id, err := pathInt(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.svc.RenamePasskey(r.Context(), actor(r), int64(id), req.Name); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}

// PasswordCheckRequest is the body of POST .../check-password.
type PasswordCheckRequest struct {
	Password string `json:"password"`
}

func (a *API) checkKeyPassword(w http.ResponseWriter, r *http.Request) {
	var req PasswordCheckRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.svc.CheckServerKeyPassword(r.Context(), actor(r), r.PathValue("fingerprint"), req.Password); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}
