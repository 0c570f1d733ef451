package api

import (
	"net/http"

	"trel/internal/domain"
)

const sig = "/api/v1/projects/{project}/sigstore"

func (a *API) sigstoreRoutes() []route {
	return []route{
		{"GET", sig + "/identities", "Sigstore identities the project trusts", "public", "", "IdentityList", 200, a.listIdentities},
		{"POST", sig + "/identities", "Trust a Sigstore identity for the project (committee members)", "token", "Identity", "Identity", 201, a.addIdentity},
		{"DELETE", sig + "/identities/{id}", "Stop trusting an identity", "token", "", "", 204, a.removeIdentity},
		{"GET", sig + "/keys", "Public keys the project trusts for key-based bundles", "public", "", "SigstoreKeyList", 200, a.listSigstoreKeys},
		{"POST", sig + "/keys", "Register a PEM public key for key-based bundles", "token", "NewSigstoreKey", "SigstoreKey", 201, a.addSigstoreKey},
		{"DELETE", sig + "/keys/{id}", "Unregister a key", "token", "", "", 204, a.removeSigstoreKey},
		{"GET", "/api/v1/me/sigstore/identities", "Your personal Sigstore identities", "token", "", "IdentityList", 200, a.listPersonal},
		{"POST", "/api/v1/me/sigstore/identities", "Register your personal Sigstore identity (issuer + your e-mail)", "token", "PersonalIdentity", "Identity", 201, a.addPersonal},
		{"DELETE", "/api/v1/me/sigstore/identities/{id}", "Remove one of your personal identities", "token", "", "", 204, a.removePersonal},
	}
}

func (a *API) listIdentities(w http.ResponseWriter, r *http.Request) {
	ids, err := a.svc.SigstoreIdentities(r.Context(), actor(r), r.PathValue("project"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"identities": nonNil(ids)})
}

func (a *API) addIdentity(w http.ResponseWriter, r *http.Request) {
	var id domain.SigstoreIdentity
	if err := decode(r, &id); err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.svc.AddSigstoreIdentity(r.Context(), actor(r), r.PathValue("project"), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, out)
}

func (a *API) removeIdentity(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.svc.RemoveSigstoreIdentity(r.Context(), actor(r), r.PathValue("project"), int64(id)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}

func (a *API) listSigstoreKeys(w http.ResponseWriter, r *http.Request) {
	ks, err := a.svc.SigstoreKeys(r.Context(), actor(r), r.PathValue("project"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"keys": nonNil(ks)})
}

// NewSigstoreKeyRequest is the body of POST .../sigstore/keys.
type NewSigstoreKeyRequest struct {
	Name string `json:"name"`
	PEM  string `json:"pem"`
}

func (a *API) addSigstoreKey(w http.ResponseWriter, r *http.Request) {
	var req NewSigstoreKeyRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	k, err := a.svc.AddSigstoreKey(r.Context(), actor(r), r.PathValue("project"), req.Name, []byte(req.PEM))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, k)
}

func (a *API) removeSigstoreKey(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.svc.RemoveSigstoreKey(r.Context(), actor(r), r.PathValue("project"), int64(id)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}

func (a *API) listPersonal(w http.ResponseWriter, r *http.Request) {
	ids, err := a.svc.SigstoreIdentities(r.Context(), actor(r), "")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"identities": nonNil(ids)})
}

// PersonalIdentityRequest is the body of POST /api/v1/me/sigstore/identities.
type PersonalIdentityRequest struct {
	Issuer string `json:"issuer"`
	Email  string `json:"email,omitempty"` // default: the account's address
}

func (a *API) addPersonal(w http.ResponseWriter, r *http.Request) {
	var req PersonalIdentityRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	id, err := a.svc.AddPersonalIdentity(r.Context(), actor(r), req.Issuer, req.Email)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, id)
}

func (a *API) removePersonal(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.svc.RemoveSigstoreIdentity(r.Context(), actor(r), "", int64(id)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}
