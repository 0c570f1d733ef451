package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"trel/internal/domain"
	"trel/internal/store"
)

// Incident response in the browser: an administrator's page for one user
// (suspend, tokens, sessions, passkeys), and the notices users find at the
// top of every page. Destructive actions need a ticked confirmation box,
// which works without JavaScript.

func (w *Web) incidentRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /notices/{id}/dismiss", w.requireUser(w.dismissNotice))
	mux.HandleFunc("GET /admin/users/{username}", w.requireUser(w.adminUser))
	mux.HandleFunc("POST /admin/users/{username}/suspend", w.requireUser(w.adminUserAction(func(w *Web, r *http.Request, u string) (string, error) {
		return u + " is suspended: their tokens, sessions, enrollment links and server-side signing are refused.", w.svc.SuspendUser(r.Context(), actor(r), u)
	})))
	mux.HandleFunc("POST /admin/users/{username}/reactivate", w.requireUser(w.adminUserAction(func(w *Web, r *http.Request, u string) (string, error) {
		return u + " is active again.", w.svc.ReactivateUser(r.Context(), actor(r), u)
	})))
	mux.HandleFunc("POST /admin/users/{username}/tokens/{id}/revoke", w.requireUser(w.adminUserAction(func(w *Web, r *http.Request, _ string) (string, error) {
		id, err := formID(r)
		if err != nil {
			return "", err
		}
		return "The token was revoked.", w.svc.RevokeAnyToken(r.Context(), actor(r), id)
	})))
	mux.HandleFunc("POST /admin/users/{username}/sessions/{id}/end", w.requireUser(w.adminUserAction(func(w *Web, r *http.Request, _ string) (string, error) {
		id, err := formID(r)
		if err != nil {
			return "", err
		}
		return "The session was ended.", w.svc.EndSession(r.Context(), actor(r), id)
	})))
	mux.HandleFunc("POST /admin/users/{username}/passkeys/{id}/remove", w.requireUser(w.adminUserAction(func(w *Web, r *http.Request, _ string) (string, error) {
		id, err := formID(r)
		if err != nil {
			return "", err
		}
		n, err := w.svc.RemoveAnyPasskey(r.Context(), actor(r), id)
		return "The passkey was removed; " + strconv.Itoa(n) + " session(s) opened with it were ended.", err
	})))
}

func formID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, domain.Errorf(domain.KindInvalid, "no such item")
	}
	return id, nil
}

// adminUserAction runs a confirmed action from a user's admin page and
// goes back to it with the outcome.
func (w *Web) adminUserAction(do func(w *Web, r *http.Request, username string) (string, error)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		username := r.PathValue("username")
		back := "/admin/users/" + url.PathEscape(username)
		if r.FormValue("confirm") != "yes" {
			w.fail(rw, r, back, domain.Errorf(domain.KindInvalid, "tick the confirmation box to do this"))
			return
		}
		msg, err := do(w, r, username)
		if err != nil {
			w.fail(rw, r, back, err)
			return
		}
		w.redirect(rw, r, back, flash{Notice: msg})
	}
}

type adminUserView struct {
	U        *domain.User
	Tokens   []domain.Token
	Sessions []domain.Session
	Passkeys []store.Passkey
}

func (w *Web) adminUser(rw http.ResponseWriter, r *http.Request) {
	act, ctx, name := actor(r), r.Context(), r.PathValue("username")
	var d adminUserView
	var err error
	if d.Tokens, err = w.svc.UserTokens(ctx, act, name); err != nil {
		w.pageError(rw, r, err)
		return
	}
	if d.U, err = w.svc.Store().UserByUsername(ctx, name); err != nil {
		w.pageError(rw, r, err)
		return
	}
	if d.Sessions, err = w.svc.UserSessions(ctx, act, name); err != nil {
		w.pageError(rw, r, err)
		return
	}
	if d.Passkeys, err = w.svc.UserPasskeys(ctx, act, name); err != nil {
		w.pageError(rw, r, err)
		return
	}
	w.render(rw, r, http.StatusOK, "admin_user", view{Title: "User " + name, D: d})
}

// dismissNotice marks a notice read and goes back to the page it was on.
func (w *Web) dismissNotice(rw http.ResponseWriter, r *http.Request) {
	back := r.FormValue("back")
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") || strings.HasPrefix(back, "/\\") {
		back = "/"
	}
	id, err := formID(r)
	if err == nil {
		err = w.svc.DismissNotice(r.Context(), actor(r), id)
	}
	if err != nil {
		w.fail(rw, r, back, err)
		return
	}
	w.redirect(rw, r, back, flash{})
}
