package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"trel/internal/checks/rules"
	"trel/internal/core"
	"trel/internal/domain"
)

func (w *Web) signingRoutes(mux *http.ServeMux) {
	rel := "/projects/{project}/releases/{version}"
	mux.HandleFunc("GET "+rel+"/sign", w.requireUser(w.signPage))
	mux.HandleFunc("POST "+rel+"/sign/begin", w.requireUser(w.signBegin))
	mux.HandleFunc("POST "+rel+"/sign/complete", w.requireUser(w.signComplete))
	mux.HandleFunc("POST "+rel+"/sign/check-password", w.requireUser(w.signCheckPassword))
	mux.HandleFunc("POST /signing-keys", w.requireUser(w.createServerKey))
}

type signView struct {
	Release  *domain.Release
	Revision *domain.Revision
	Keys     []domain.ServerKey
	Files    []signableFile // artifacts that can be signed
	Other    []domain.File
	// Warnings say why signatures made here would not count.
	Warnings []string
}

// signPage shows the files of the latest revision with their digests, the
// user's keys held by trel, and the approval button (passkey + password).
func (w *Web) signPage(rw http.ResponseWriter, r *http.Request) {
	act := actor(r)
	rel, rev, err := w.svc.Revision(r.Context(), act, r.PathValue("project"), r.PathValue("version"), 0)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	keys, err := w.svc.ServerKeys(r.Context(), act)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	d := signView{Release: rel, Revision: rev}
	for _, k := range keys {
		if k.RevokedAt == nil && k.RetiredAt == nil {
			d.Keys = append(d.Keys, k)
		}
	}
	pol, err := w.svc.Policy(r.Context(), act, rel.ProjectKey)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	d.Warnings = w.signWarnings(r, rel, pol, d.Keys)
	have := map[string]bool{}
	for _, f := range rev.Files {
		have[f.Path] = true
	}
	for _, f := range rev.Files {
		sf := signableFile{File: f, HasASC: have[f.Path+".asc"], HasBundle: have[f.Path+".sigstore.json"]}
		if rules.NeedsSignature(f.Path, pol.Unsigned) && !(sf.HasASC && sf.HasBundle) {
			d.Files = append(d.Files, sf)
		}
	}
	w.render(rw, r, http.StatusOK, "sign", view{Title: "Sign " + rel.ProjectKey + " " + rel.Version, Scripts: []string{"sign.js"}, D: d})
}

// signableFile is an artifact and the signatures it already has: the
// page pre-selects the files that lack the kind being made.
type signableFile struct {
	domain.File
	HasASC, HasBundle bool
}

type signBeginRequest struct {
	Key   string   `json:"key"`
	Paths []string `json:"paths"`
	Kind  string   `json:"kind"`
}

func (w *Web) signBegin(rw http.ResponseWriter, r *http.Request) {
	var req signBeginRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		w.jsonError(rw, r, domain.Errorf(domain.KindInvalid, "bad request: %v", err))
		return
	}
	act := actor(r)
	plan, err := w.svc.BeginSigning(r.Context(), act, r.PathValue("project"), r.PathValue("version"), req.Key, req.Paths, core.SignKind(req.Kind))
	if err != nil {
		w.jsonError(rw, r, err)
		return
	}
	opts, id, err := w.auth.BeginApproval(r.Context(), act, plan.Challenge)
	if err != nil {
		w.jsonError(rw, r, err)
		return
	}
	w.setCookie(rw, ceremonyCookie, id, core.ApprovalTTL, http.SameSiteStrictMode)
	writeJSON(rw, http.StatusOK, map[string]any{"request": plan.Request.ID, "files": plan.Transaction.Files,
		"key": plan.Transaction.KeyFingerprint, "revision": plan.Transaction.Revision, "options": json.RawMessage(opts)})
}

type signCompleteRequest struct {
	Request   int64           `json:"request"`
	Password  string          `json:"password"`
	Assertion json.RawMessage `json:"assertion"`
}

func (w *Web) signComplete(rw http.ResponseWriter, r *http.Request) {
	var req signCompleteRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxCeremonyBody)).Decode(&req); err != nil {
		w.jsonError(rw, r, domain.Errorf(domain.KindInvalid, "bad request: %v", err))
		return
	}
	act := actor(r)
	// Busy or rate limited: refused before the approval is spent.
	slot, err := w.svc.PrepareSigning(r.Context(), act, req.Request)
	if err != nil {
		w.jsonError(rw, r, err)
		return
	}
	defer slot.Release()
	id := w.ceremonyID(rw, r)
	ap, err := w.auth.FinishApproval(r.Context(), act, id, req.Assertion)
	if err != nil {
		w.jsonError(rw, r, w.svc.RefuseSigning(r.Context(), act, req.Request, err))
		return
	}
	res, err := w.svc.CompleteSigning(r.Context(), act, slot, ap, []byte(req.Password))
	if err != nil {
		w.jsonError(rw, r, err)
		return
	}
	var names []string
	for _, f := range res.Files {
		names = append(names, f.Path)
	}
	w.setFlash(rw, flash{Notice: fmt.Sprintf("Signed %d file(s) (%s): revision %d was created; the signatures are in the public log.",
		len(res.Files), strings.Join(names, ", "), res.Revision.Number)})
	writeJSON(rw, http.StatusOK, map[string]string{"redirect": "/projects/" + r.PathValue("project") + "/releases/" + r.PathValue("version")})
}

func (w *Web) createServerKey(rw http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		w.fail(rw, r, "/keys", domain.Errorf(domain.KindInvalid, "the form could not be read"))
		return
	}
	if r.FormValue("password") != r.FormValue("password2") {
		w.refill(rw, r, "create-held", "password2", domain.Errorf(domain.KindInvalid, "the two passwords differ: type the same password twice"), w.keys)
		return
	}
	days, _ := strconv.Atoi(r.FormValue("expiry_days"))
	k, err := w.svc.CreateServerKey(r.Context(), actor(r), core.NewServerKey{Password: r.FormValue("password"),
		Algorithm: r.FormValue("algorithm"), ExpiryDays: days, Committees: r.Form["committee"]})
	if err != nil {
		field := ""
		if strings.Contains(domain.PublicMessage(err), "password") {
			field = "password"
		}
		w.refill(rw, r, "create-held", field, err, w.keys)
		return
	}
	w.redirect(rw, r, "/keys#held", flash{Notice: "Created key " + k.Fingerprint + ", held by trel. It signs only after your passkey approval and with your password."})
}

// signWarnings says when the project's policy would not count what this
// page makes.
func (w *Web) signWarnings(r *http.Request, rel *domain.Release, pol *domain.Policy, keys []domain.ServerKey) []string {
	var out []string
	policy := "the project's policy"
	if !pol.AcceptServerSigned {
		out = append(out, policy+" does not accept signatures made by keys trel holds: they would not count. A committee member can change that on the policy page.")
	}
	if !pol.AcceptOpenPGP {
		out = append(out, policy+" does not accept OpenPGP signatures: make Sigstore bundles.")
	}
	if !pol.AcceptSigstore {
		out = append(out, policy+" does not accept Sigstore bundles: make OpenPGP signatures.")
	}
	if pol.Signers == domain.SignersReleaseManagers {
		if rms, err := w.svc.ReleaseManagers(r.Context(), actor(r), rel.ProjectKey, rel.Version); err == nil && !slices.Contains(rms, actor(r).User.Username) {
			out = append(out, "only the release's managers may sign under "+policy+", and you are not one: ask a committee member to add you.")
		}
	}
	for _, k := range keys {
		pub, err := w.svc.Key(r.Context(), actor(r), k.Fingerprint)
		if err != nil {
			continue
		}
		if !slices.ContainsFunc(pub.Committees, func(l domain.CommitteeKey) bool { return l.CommitteeKey == rel.CommitteeKey }) {
			out = append(out, "key "+k.Fingerprint+" is not in the KEYS of committee "+rel.CommitteeKey+": its OpenPGP signatures would not count. Add it to the committee on the keys page.")
		}
	}
	return out
}

type checkPasswordRequest struct {
	Key      string `json:"key"`
	Password string `json:"password"`
}

// signCheckPassword checks the signing password before the passkey
// ceremony (the script calls it first).
func (w *Web) signCheckPassword(rw http.ResponseWriter, r *http.Request) {
	var req checkPasswordRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		w.jsonError(rw, r, domain.Errorf(domain.KindInvalid, "bad request: %v", err))
		return
	}
	if err := w.svc.CheckServerKeyPassword(r.Context(), actor(r), req.Key, req.Password); err != nil {
		w.jsonError(rw, r, err)
		return
	}
	writeJSON(rw, http.StatusOK, map[string]bool{"ok": true})
}
