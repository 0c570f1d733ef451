package web

import (
	"net/http"
	"strconv"
	"strings"

	"trel/internal/domain"
)

// Managing keys held by trel and Sigstore identities in the browser (each
// form has its API call and CLI command: trel signing-key, trel sigstore
// identity).

func (w *Web) keyManagementRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /signing-keys/{fpr}/password", w.requireUser(w.changeKeyPassword))
	mux.HandleFunc("POST /signing-keys/{fpr}/retire", w.requireUser(w.retireKey))
	mux.HandleFunc("POST /signing-keys/{fpr}/revoke", w.requireUser(w.revokeKey))
	mux.HandleFunc("GET /signing-keys/{fpr}", w.requireUser(w.heldKeyPage))
	mux.HandleFunc("POST /me/sigstore/identities", w.requireUser(w.addPersonalIdentity))
	mux.HandleFunc("POST /me/sigstore/identities/{id}/remove", w.requireUser(w.removePersonalIdentity))
	mux.HandleFunc("GET /projects/{project}/identities", w.identitiesPage)
	mux.HandleFunc("POST /projects/{project}/identities", w.requireUser(w.addIdentity))
	mux.HandleFunc("POST /projects/{project}/identities/{id}/remove", w.requireUser(w.removeIdentity))
}

// heldForm is the id of a held key's form (the template's short id).
func heldForm(kind, fpr string) string {
	if len(fpr) > 16 {
		fpr = fpr[:16]
	}
	return kind + "-" + fpr
}

// passwordField says which field a password error is about.
func passwordField(err error, wrong, weak string) string {
	msg := domain.PublicMessage(err)
	switch {
	case strings.Contains(msg, "wrong"), strings.Contains(msg, "locked"):
		return wrong
	case strings.Contains(msg, "password"):
		return weak
	}
	return ""
}

func (w *Web) changeKeyPassword(rw http.ResponseWriter, r *http.Request) {
	fpr := r.PathValue("fpr")
	form := heldForm("password", fpr)
	if r.FormValue("new_password") != r.FormValue("new_password2") {
		w.refill(rw, r, form, "new_password", domain.Errorf(domain.KindInvalid, "the two new passwords differ: type the same password twice"), w.keys)
		return
	}
	if err := w.svc.ChangeServerKeyPassword(r.Context(), actor(r), fpr, r.FormValue("old_password"), r.FormValue("new_password")); err != nil {
		w.refill(rw, r, form, passwordField(err, "old_password", "new_password"), err, w.keys)
		return
	}
	w.redirect(rw, r, "/keys#held", flash{Notice: "The password of key " + fpr + " is changed."})
}

func (w *Web) retireKey(rw http.ResponseWriter, r *http.Request) {
	fpr := r.PathValue("fpr")
	if err := confirmed(r, "retire the key"); err != nil {
		w.fail(rw, r, "/keys#held", err)
		return
	}
	if err := w.svc.RetireServerKey(r.Context(), actor(r), fpr); err != nil {
		w.fail(rw, r, "/keys#held", err)
		return
	}
	w.redirect(rw, r, "/keys#held", flash{Notice: "Key " + fpr + " is retired: it signs nothing more."})
}

func (w *Web) revokeKey(rw http.ResponseWriter, r *http.Request) {
	fpr := r.PathValue("fpr")
	form := heldForm("revoke", fpr)
	if err := confirmed(r, "revoke the key"); err != nil {
		w.refill(rw, r, form, "", err, w.keys)
		return
	}
	if err := w.svc.RevokeServerKey(r.Context(), actor(r), fpr, r.FormValue("password"), r.FormValue("reason")); err != nil {
		w.refill(rw, r, form, passwordField(err, "password", "password"), err, w.keys)
		return
	}
	w.redirect(rw, r, "/keys#held", flash{Notice: "Key " + fpr + " is revoked; the KEYS files publish the revocation."})
}

type heldKeyView struct {
	Key    *domain.ServerKey
	Events []domain.SigningEvent
}

// heldKeyPage lists every signing attempt of a held key, each signature
// with its public-log entry: a signature the owner did not ask for stands
// out.
func (w *Web) heldKeyPage(rw http.ResponseWriter, r *http.Request) {
	act := actor(r)
	fpr := r.PathValue("fpr")
	keys, err := w.svc.ServerKeys(r.Context(), act)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	d := heldKeyView{}
	for i := range keys {
		if keys[i].Fingerprint == fpr {
			d.Key = &keys[i]
		}
	}
	if d.Key == nil {
		w.pageError(rw, r, domain.Errorf(domain.KindNotFound, "you hold no key %s with trel", fpr))
		return
	}
	if d.Events, err = w.svc.SigningEvents(r.Context(), act, fpr); err != nil {
		w.pageError(rw, r, err)
		return
	}
	w.render(rw, r, http.StatusOK, "heldkey", view{Title: "Key " + fpr, D: d})
}

func (w *Web) addPersonalIdentity(rw http.ResponseWriter, r *http.Request) {
	if _, err := w.svc.AddPersonalIdentity(r.Context(), actor(r), r.FormValue("issuer"), ""); err != nil {
		w.refill(rw, r, "add-personal", "issuer", err, w.keys)
		return
	}
	w.redirect(rw, r, "/keys#sigstore", flash{Notice: "Your Sigstore identity is registered."})
}

func (w *Web) removePersonalIdentity(rw http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err := confirmed(r, "remove the identity"); err != nil {
		w.fail(rw, r, "/keys#sigstore", err)
		return
	}
	if err := w.svc.RemoveSigstoreIdentity(r.Context(), actor(r), "", id); err != nil {
		w.fail(rw, r, "/keys#sigstore", err)
		return
	}
	w.redirect(rw, r, "/keys#sigstore", flash{Notice: "The identity is removed."})
}

type identitiesView struct {
	P          *domain.Project
	Identities []domain.SigstoreIdentity
	Keys       []domain.SigstoreKey
	CanEdit    bool
}

// identitiesPage lists the Sigstore signers a project trusts (public), with
// the forms to add and remove them (committee members).
func (w *Web) identitiesPage(rw http.ResponseWriter, r *http.Request) {
	act := actor(r)
	p, err := w.svc.Project(r.Context(), act, r.PathValue("project"))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	d := identitiesView{P: p, CanEdit: w.isMember(r, p.CommitteeID)}
	if d.Identities, err = w.svc.SigstoreIdentities(r.Context(), act, p.Key); err != nil {
		w.pageError(rw, r, err)
		return
	}
	if d.Keys, err = w.svc.SigstoreKeys(r.Context(), act, p.Key); err != nil {
		w.pageError(rw, r, err)
		return
	}
	w.render(rw, r, http.StatusOK, "identities", view{Title: "Sigstore signers of " + p.Name, D: d})
}

func (w *Web) addIdentity(rw http.ResponseWriter, r *http.Request) {
	key := r.PathValue("project")
	tf := func(name string) string { return strings.TrimSpace(r.FormValue(name)) }
	id := domain.SigstoreIdentity{Issuer: tf("issuer"), Subject: tf("subject"), SubjectRegexp: tf("subject_regexp"),
		SourceRepository: tf("source_repository"), Ref: tf("ref"), RefRegexp: tf("ref_regexp"), Workflow: tf("workflow")}
	if _, err := w.svc.AddSigstoreIdentity(r.Context(), actor(r), key, id); err != nil {
		field := ""
		msg := domain.PublicMessage(err)
		for _, f := range []string{"subject_regexp", "source_repository", "ref_regexp", "workflow", "issuer", "subject", "ref"} {
			if strings.Contains(msg, strings.ReplaceAll(f, "_", " ")) || strings.Contains(msg, f) {
				field = f
				break
			}
		}
		w.refill(rw, r, "add-identity", field, err, w.identitiesPage)
		return
	}
	w.redirect(rw, r, "/projects/"+key+"/identities", flash{Notice: "The project trusts this signer now; the checks of its open releases run again."})
}

func (w *Web) removeIdentity(rw http.ResponseWriter, r *http.Request) {
	key := r.PathValue("project")
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err := confirmed(r, "stop trusting the signer"); err != nil {
		w.fail(rw, r, "/projects/"+key+"/identities", err)
		return
	}
	if err := w.svc.RemoveSigstoreIdentity(r.Context(), actor(r), key, id); err != nil {
		w.fail(rw, r, "/projects/"+key+"/identities", err)
		return
	}
	w.redirect(rw, r, "/projects/"+key+"/identities", flash{Notice: "The project no longer trusts this signer; the checks of its open releases run again."})
}
