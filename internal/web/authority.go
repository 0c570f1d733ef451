package web

import (
	"fmt"
	"net/http"
	"strings"

	"trel/internal/domain"
)

// Release managers, cancelling a vote and restoring keys: the web side of
// the release-authority rules (every form has an API call and a CLI
// command).
func (w *Web) authorityRoutes(mux *http.ServeMux) {
	rel := "/projects/{project}/releases/{version}"
	mux.HandleFunc("POST "+rel+"/managers", w.requireUser(w.addManager))
	mux.HandleFunc("POST "+rel+"/managers/{username}/remove", w.requireUser(w.removeManager))
	mux.HandleFunc("POST "+rel+"/vote/cancel", w.requireUser(w.cancelVote))
	mux.HandleFunc("POST /admin/keys/restore", w.requireUser(w.adminRestoreKey))
}

// confirmed refuses a destructive form sent without its confirmation
// (the confirmation's button, or its ticked box).
func confirmed(r *http.Request, what string) error {
	if r.FormValue("confirm") != "yes" {
		return domain.Errorf(domain.KindInvalid, "confirm first that you want to %s: nothing was done", what)
	}
	return nil
}

func (w *Web) addManager(rw http.ResponseWriter, r *http.Request) {
	user := strings.TrimSpace(r.FormValue("username"))
	if err := w.svc.AddReleaseManager(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), user); err != nil {
		w.refill(rw, r, "add-manager", "username", err, w.release)
		return
	}
	w.redirect(rw, r, relBack(r)+"#managers", flash{Notice: user + " is now a release manager."})
}

func (w *Web) removeManager(rw http.ResponseWriter, r *http.Request) {
	user := r.PathValue("username")
	if err := confirmed(r, "end "+user+"'s release-manager role"); err != nil {
		w.fail(rw, r, relBack(r)+"#managers", err)
		return
	}
	if err := w.svc.RemoveReleaseManager(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), user); err != nil {
		w.fail(rw, r, relBack(r)+"#managers", err)
		return
	}
	w.redirect(rw, r, relBack(r)+"#managers", flash{Notice: user + " is no longer a release manager."})
}

func (w *Web) cancelVote(rw http.ResponseWriter, r *http.Request) {
	if err := confirmed(r, "cancel the vote"); err != nil {
		w.fail(rw, r, relBack(r)+"#vote", err)
		return
	}
	if err := w.svc.CancelVote(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), r.FormValue("reason")); err != nil {
		w.fail(rw, r, relBack(r)+"#vote", err)
		return
	}
	w.redirect(rw, r, relBack(r), flash{Notice: "The vote is cancelled; the release is a draft again."})
}

func (w *Web) adminRestoreKey(rw http.ResponseWriter, r *http.Request) {
	k, err := w.svc.RestoreKey(r.Context(), actor(r), r.FormValue("fingerprint"))
	if err != nil {
		w.fail(rw, r, "/admin#restore-key", err)
		return
	}
	w.redirect(rw, r, "/admin", flash{Notice: fmt.Sprintf("Key %s is restored, with its owner and committees.", k.Fingerprint)})
}
