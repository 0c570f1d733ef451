package web

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"trel/internal/api"
	"trel/internal/auth"
	"trel/internal/domain"
)

// maxCeremonyBody bounds the JSON a browser sends to finish a ceremony.
const maxCeremonyBody = 64 << 10

func (w *Web) loginPage(rw http.ResponseWriter, r *http.Request) {
	if actor(r).User != nil {
		http.Redirect(rw, r, "/", http.StatusSeeOther)
		return
	}
	w.render(rw, r, http.StatusOK, "login", view{Title: "Sign in", Scripts: []string{"webauthn.js"}})
}

// limited applies the per-IP rate limit of sign-in and enrollment attempts.
func (w *Web) limited(rw http.ResponseWriter, r *http.Request) bool {
	if w.auth.Allow(r.Context(), clientIP(r)) {
		return false
	}
	rw.Header().Set("Retry-After", "60")
	w.jsonError(rw, r, domain.Errorf(domain.KindRateLimited, "too many sign-in attempts from your address: wait a minute and try again"))
	return true
}

// startCeremony returns the options to the script and keeps the ceremony
// id in a short-lived cookie (never in the page or a URL).
func (w *Web) startCeremony(rw http.ResponseWriter, opts json.RawMessage, id string) {
	w.setCookie(rw, ceremonyCookie, id, 5*time.Minute, http.SameSiteStrictMode)
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	rw.Write(opts)
}

// ceremonyID takes the ceremony cookie; it is cleared whatever happens.
func (w *Web) ceremonyID(rw http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(ceremonyCookie)
	w.clearCookie(rw, ceremonyCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

func (w *Web) loginBegin(rw http.ResponseWriter, r *http.Request) {
	if w.limited(rw, r) {
		return
	}
	opts, id, err := w.auth.BeginLogin(r.Context())
	if err != nil {
		w.jsonError(rw, r, err)
		return
	}
	w.startCeremony(rw, opts, id)
}

func (w *Web) loginFinish(rw http.ResponseWriter, r *http.Request) {
	if w.limited(rw, r) {
		return
	}
	id := w.ceremonyID(rw, r)
	u, secret, err := w.auth.FinishLogin(r.Context(), id, http.MaxBytesReader(rw, r.Body, maxCeremonyBody), auth.Client{IP: clientIP(r), UserAgent: r.UserAgent()})
	if err != nil {
		w.jsonError(rw, r, err)
		return
	}
	w.setSession(rw, secret)
	w.setFlash(rw, flash{Notice: "Welcome back, " + u.Username + "."})
	writeJSON(rw, http.StatusOK, map[string]string{"redirect": w.takeNext(rw, r)})
}

func (w *Web) logout(rw http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(w.cookie); err == nil {
		if err := w.auth.SignOut(r.Context(), c.Value); err != nil {
			w.log.ErrorContext(r.Context(), "signing out", "err", err)
		}
	}
	w.clearCookie(rw, w.cookie)
	w.redirect(rw, r, "/login", flash{Notice: "You are signed out."})
}

func (w *Web) logoutEverywhere(rw http.ResponseWriter, r *http.Request) {
	n, err := w.auth.SignOutEverywhere(r.Context(), actor(r))
	if err != nil {
		w.fail(rw, r, "/account", err)
		return
	}
	w.clearCookie(rw, w.cookie)
	msg := "You are signed out everywhere."
	if n > 1 {
		msg = "You are signed out in all your browsers."
	}
	w.redirect(rw, r, "/login", flash{Notice: msg})
}

type enrollView struct {
	Username, BeginURL, Suggested string
	ExpiresAt                     time.Time
}

// enrollPage shows the enrollment form. It does not consume the link (mail
// scanners open links); registering a passkey does.
func (w *Web) enrollPage(rw http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	e, err := w.auth.Enrollment(r.Context(), token)
	if err != nil {
		kind := domain.KindOf(err)
		status := api.StatusOf(kind)
		if kind == domain.KindInvalid || kind == domain.KindConflict {
			status = http.StatusGone
		}
		w.renderError(rw, r, status, "Enrollment link not usable", domain.PublicMessage(err))
		return
	}
	w.render(rw, r, http.StatusOK, "enroll", view{Title: "Create your passkey", Scripts: []string{"webauthn.js"},
		D: enrollView{Username: e.Username, BeginURL: "/enroll/" + token + "/begin", Suggested: "first passkey", ExpiresAt: e.ExpiresAt}})
}

type beginRequest struct {
	Name string `json:"name"`
}

func readBegin(r *http.Request) (beginRequest, error) {
	var b beginRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err != nil {
		return b, domain.Errorf(domain.KindInvalid, "the request could not be read")
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &b); err != nil {
			return b, domain.Errorf(domain.KindInvalid, "the request is not valid JSON")
		}
	}
	return b, nil
}

func (w *Web) enrollBegin(rw http.ResponseWriter, r *http.Request) {
	if w.limited(rw, r) {
		return
	}
	b, err := readBegin(r)
	if err != nil {
		w.jsonError(rw, r, err)
		return
	}
	opts, id, err := w.auth.BeginEnrollment(r.Context(), r.PathValue("token"), b.Name)
	if err != nil {
		w.jsonError(rw, r, err)
		return
	}
	w.startCeremony(rw, opts, id)
}

func (w *Web) addPasskeyBegin(rw http.ResponseWriter, r *http.Request) {
	b, err := readBegin(r)
	if err != nil {
		w.jsonError(rw, r, err)
		return
	}
	opts, id, err := w.auth.BeginAddPasskey(r.Context(), actor(r), b.Name)
	if err != nil {
		w.jsonError(rw, r, err)
		return
	}
	w.startCeremony(rw, opts, id)
}

// registerFinish completes both an enrollment (which signs the user in) and
// adding a passkey to a signed-in account.
func (w *Web) registerFinish(rw http.ResponseWriter, r *http.Request) {
	if w.limited(rw, r) {
		return
	}
	id := w.ceremonyID(rw, r)
	u, secret, err := w.auth.FinishRegistration(r.Context(), id, http.MaxBytesReader(rw, r.Body, maxCeremonyBody), auth.Client{IP: clientIP(r), UserAgent: r.UserAgent()})
	if err != nil {
		w.jsonError(rw, r, err)
		return
	}
	if secret != "" {
		// A new session id at sign-in; any earlier cookie is replaced.
		w.setSession(rw, secret)
		w.setFlash(rw, flash{Notice: "Your passkey was created and you are signed in, " + u.Username + "."})
		writeJSON(rw, http.StatusOK, map[string]string{"redirect": "/"})
		return
	}
	w.setFlash(rw, flash{Notice: "The passkey was added."})
	writeJSON(rw, http.StatusOK, map[string]string{"redirect": "/account"})
}
