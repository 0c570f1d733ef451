package api

import (
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
	schemas["AuditList"] = obj([]string{"events"}, map[string]any{"events": map[string]any{"type": "array", "items": ref("AuditEvent")},
		"more": map[string]any{"type": "boolean", "description": "Older events match: ask again with a larger offset"}})
}
