package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
)

// Approver is the passkey side of the API (package auth implements it):
// the WebAuthn ceremony that approves a server-side signature, and
// enrollment links.
type Approver interface {
	BeginApproval(ctx context.Context, act *core.Actor, challenge []byte) (json.RawMessage, string, error)
	FinishApproval(ctx context.Context, act *core.Actor, ceremonyID string, body []byte) (*core.Approval, error)
	CreateEnrollment(ctx context.Context, act *core.Actor, username string) (string, time.Time, error)
}

func (a *API) signingRoutes() []route {
	return []route{
		{"GET", "/api/v1/signing-keys", "Your keys held by trel", "token", "", "ServerKeyList", 200, a.listServerKeys},
		{"POST", "/api/v1/signing-keys", "Create a key held by trel (sealed under the master key and your password)", "token", "NewServerKey", "Key", 201, a.createServerKey},
		{"POST", "/api/v1/signing-keys/{fingerprint}/password", "Change a held key's password", "token", "PasswordChange", "", 204, a.changeServerKeyPassword},
		{"POST", "/api/v1/signing-keys/{fingerprint}/revoke", "Revoke a held key (published in KEYS)", "token", "RevokeServerKey", "", 204, a.revokeServerKey},
		{"POST", "/api/v1/signing-keys/{fingerprint}/retire", "Retire a held key (it signs no more)", "token", "", "", 204, a.retireServerKey},
		{"GET", "/api/v1/signing-keys/sigstore", "The Sigstore (ECDSA P-256) public keys of your held keys, known once each signed a bundle", "token", "", "HeldSigstoreKeyList", 200, a.listHeldSigstoreKeys},
		{"GET", "/api/v1/signing-keys/{fingerprint}/events", "Every signing attempt with this key", "token", "", "SigningEventList", 200, a.signingEvents},
		{"POST", "/api/v1/signing/requests", "Start signing: the transaction and the passkey challenge that must approve it", "token", "SignRequest", "SignPlan", 201, a.beginSigning},
		{"POST", "/api/v1/users/{username}/enrollment", "Create a one-time passkey enrollment link for a user (administrators)", "admin", "", "Enrollment", 201, a.createEnrollment},
		{"POST", "/api/v1/signing/requests/{id}/complete", "Finish signing with the passkey assertion and the key's password", "token", "SignCompletion", "SigningResult", 201, a.completeSigning},
	}
}

// Enrollment is a one-time passkey enrollment link.
type Enrollment struct {
	Link      string    `json:"link"`
	ExpiresAt time.Time `json:"expires_at"`
	// ExistingPasskeys > 0 makes this a re-enrollment: audited, and the
	// user is notified.
	ExistingPasskeys int `json:"existing_passkeys"`
}

func (a *API) createEnrollment(w http.ResponseWriter, r *http.Request) {
	if a.approver == nil {
		a.fail(w, r, domain.Errorf(domain.KindUnavailable, "passkeys are not configured on this server"))
		return
	}
	if actor(r).User == nil {
		a.fail(w, r, signInFirst(actor(r)))
		return
	}
	link, exp, err := a.approver.CreateEnrollment(r.Context(), actor(r), r.PathValue("username"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	keys, err := a.svc.UserPasskeys(r.Context(), actor(r), r.PathValue("username"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, Enrollment{Link: link, ExpiresAt: exp, ExistingPasskeys: len(keys)})
}

func (a *API) listServerKeys(w http.ResponseWriter, r *http.Request) {
	ks, err := a.svc.ServerKeys(r.Context(), actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"keys": nonNil(ks)})
}

func (a *API) createServerKey(w http.ResponseWriter, r *http.Request) {
	var req core.NewServerKey
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	k, err := a.svc.CreateServerKey(r.Context(), actor(r), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, k)
}

// PasswordChange is the body of .../password.
type PasswordChange struct {
	Old string `json:"old_password"`
	New string `json:"new_password"`
}

func (a *API) changeServerKeyPassword(w http.ResponseWriter, r *http.Request) {
	var req PasswordChange
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.svc.ChangeServerKeyPassword(r.Context(), actor(r), r.PathValue("fingerprint"), req.Old, req.New); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}

// RevokeRequest is the body of .../revoke.
type RevokeRequest struct {
	Password string `json:"password"`
	Reason   string `json:"reason,omitempty"` // retired (default), superseded, compromised
}

func (a *API) revokeServerKey(w http.ResponseWriter, r *http.Request) {
	var req RevokeRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.svc.RevokeServerKey(r.Context(), actor(r), r.PathValue("fingerprint"), req.Password, req.Reason); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}

func (a *API) retireServerKey(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.RetireServerKey(r.Context(), actor(r), r.PathValue("fingerprint")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}

func (a *API) signingEvents(w http.ResponseWriter, r *http.Request) {
	evs, err := a.svc.SigningEvents(r.Context(), actor(r), r.PathValue("fingerprint"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"events": nonNil(evs)})
}

// SignRequest names what to sign.
type SignRequest struct {
	Project string   `json:"project"`
	Version string   `json:"version"`
	Key     string   `json:"key"`
	Paths   []string `json:"paths,omitempty"` // default: every artifact of the latest revision
	// Kind is "openpgp" (default: .asc signatures) or "sigstore"
	// (key-based .sigstore.json bundles).
	Kind string `json:"kind,omitempty"`
}

// SignPlan is the transaction to approve and the WebAuthn request options.
type SignPlan struct {
	Plan        *core.SigningPlan `json:"plan"`
	Ceremony    string            `json:"ceremony"` // single use; present it when completing
	PublicKey   json.RawMessage   `json:"public_key"`
	RequestID   int64             `json:"request_id"`
	ExpiresAt   string            `json:"expires_at"`
	Transaction json.RawMessage   `json:"transaction"`
}

func (a *API) beginSigning(w http.ResponseWriter, r *http.Request) {
	var req SignRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if a.approver == nil {
		a.fail(w, r, domain.Errorf(domain.KindUnavailable, "passkey approval is not configured on this server"))
		return
	}
	act := actor(r)
	plan, err := a.svc.BeginSigning(r.Context(), act, req.Project, req.Version, req.Key, req.Paths, core.SignKind(req.Kind))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	opts, ceremony, err := a.approver.BeginApproval(r.Context(), act, plan.Challenge)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, SignPlan{Plan: plan, Ceremony: ceremony, PublicKey: opts, RequestID: plan.Request.ID,
		ExpiresAt: plan.Request.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"), Transaction: plan.Request.Tx})
}

// SignCompletion carries the approval and the password.
type SignCompletion struct {
	Ceremony  string          `json:"ceremony"`
	Assertion json.RawMessage `json:"assertion"` // PublicKeyCredential.toJSON()
	Password  string          `json:"password"`
}

func (a *API) completeSigning(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req SignCompletion
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if a.approver == nil {
		a.fail(w, r, domain.Errorf(domain.KindUnavailable, "passkey approval is not configured on this server"))
		return
	}
	act := actor(r)
	if act.User == nil {
		a.fail(w, r, signInFirst(act))
		return
	}
	// Busy or rate limited: refused before the approval is spent.
	slot, err := a.svc.PrepareSigning(r.Context(), act, int64(id))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	defer slot.Release()
	ap, aerr := a.approver.FinishApproval(r.Context(), act, req.Ceremony, req.Assertion)
	if aerr != nil {
		// The core audits the refused attempt and burns the request.
		a.fail(w, r, a.svc.RefuseSigning(r.Context(), act, int64(id), aerr))
		return
	}
	res, err := a.svc.CompleteSigning(r.Context(), act, slot, ap, []byte(req.Password))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, res)
}

func (a *API) listHeldSigstoreKeys(w http.ResponseWriter, r *http.Request) {
	ks, err := a.svc.HeldSigstoreKeys(r.Context(), actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"keys": nonNil(ks)})
}
