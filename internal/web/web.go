// Package web serves trel's browser interface: server-rendered HTML pages
// (html/template, so every value is escaped) with embedded CSS and small
// scripts: app.js on every page (copy buttons, live updates, focus in
// confirmations), and one per passkey ceremony or upload progress.
// Everything but passkeys works without JavaScript. Browser routes use a
// session cookie and http.CrossOriginProtection; the JSON API under /api/
// stays bearer-only and is served elsewhere.
//
// # Writing a page
//
// A page is templates/NAME.html defining "content"; it is parsed with
// layout.html and components.html (read the comment at the top of that
// file for the components and their arguments). The rules every page
// follows, and the helpers that make them easy:
//
//   - Forms keep what was typed and show errors next to the field: a POST
//     handler that the core refuses calls w.refill(rw, r, FORM-ID, FIELD,
//     err, w.thePageHandler), which renders the page again (same request,
//     as a GET) with the typed values. In the template every input uses
//     fval/fchecked for its value, fattrs for its error state and the
//     "fielderror" component below it; the form starts with "formerror".
//     A domain.Error made with .On("field") lands on that field. Password
//     inputs are never refilled. Actions without typed input (a button)
//     may instead redirect with a flash message (w.fail, w.redirect).
//   - Destructive or irreversible actions use the "confirm" component; the
//     handler refuses a request without confirm=yes (confirmed()).
//   - Names from users go inside <bdi>; enum values are shown with words
//     (phase, policy choices, roles).
//   - Tables go in <div class="scroll"> (each scrolls in its own box at
//     400 px); every input is styled by style.css; labels name every input.
//   - A page that shows something still running sets view.Refresh: a
//     <noscript> meta refresh, and app.js updates the elements marked
//     data-live (with an id) in place. Always also offer a reload link.
//   - Empty lists and selects say what to create first ("select"
//     component, class "empty").
//   - Every route has an API call and a CLI command, and a row in
//     internal/api's authorisation matrix when it is an API route.
package web

import (
	"context"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"trel/internal/api"
	"trel/internal/auth"
	"trel/internal/core"
	"trel/internal/domain"
)

//go:embed templates/*.html templates/partials/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// CSP is the Content-Security-Policy of every browser response: scripts and
// styles only from trel itself, never inline.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// Cookie names. The session cookie gets the __Host- prefix over https,
// which pins it to this host and path / with Secure.
const (
	ceremonyCookie = "trel_ceremony"
	flashCookie    = "trel_flash"
	nextCookie     = "trel_next" // where to go after signing in
)

// Web is the browser interface.
type Web struct {
	svc    *core.Service
	auth   *auth.Auth
	log    *slog.Logger
	pages  map[string]*template.Template
	cookie string // session cookie name
	tlog   LogReader
}

// New builds the browser handler, to be mounted at "/".
func New(svc *core.Service, a *auth.Auth, log *slog.Logger, opts ...Option) (http.Handler, error) {
	if log == nil {
		log = slog.Default()
	}
	w := &Web{svc: svc, auth: a, log: log, pages: map[string]*template.Template{}, cookie: "trel_session"}
	for _, o := range opts {
		o(w)
	}
	if a.Secure() {
		w.cookie = "__Host-trel_session"
	}
	if err := w.parseTemplates(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	w.routes(mux)

	cop := http.NewCrossOriginProtection()
	if err := cop.AddTrustedOrigin(a.Origin()); err != nil {
		return nil, fmt.Errorf("trusting origin %s: %w", a.Origin(), err)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.renderError(rw, r, http.StatusForbidden, "Request refused", "This request came from another site and was refused. Use trel's own pages.")
	}))
	return w.headers(cop.Handler(w.session(mux))), nil
}

var funcs = template.FuncMap{
	"fmtTime": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"fmtTimePtr": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"size": domain.HumanSize,
	"short": func(s string) string {
		if len(s) > 16 {
			return s[:16]
		}
		return s
	},
	"active": func(t domain.Token) bool { return t.Active(time.Now()) },
	"list":   func(v ...string) []string { return v },
	"deref":  func(b *bool) bool { return b != nil && *b },
	"has":    func(l []string, v string) bool { return slices.Contains(l, v) },
	"join":   func(l []string) string { return strings.Join(l, ", ") },
	"words":  words,
	"add":    func(a, b int) int { return a + b },
	"device": domain.DeviceName,
	// emptyLink is where an empty list's "create one" link goes: only
	// administrators may follow it.
	"emptyLink": func(u *domain.User, link string) string {
		if u != nil && u.Admin {
			return link
		}
		return ""
	},
	"options": options,
	"json": func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return "?"
		}
		return string(b)
	},
}

func (w *Web) parseTemplates() error {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		if base == "components" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).Funcs(formFuncs).ParseFS(templateFS, "templates/layout.html", "templates/components.html", "templates/partials/*.html", n)
		if err != nil {
			return fmt.Errorf("parsing template %s: %w", n, err)
		}
		w.pages[base] = t
	}
	return nil
}

// headers sets the browser security headers on every web response.
func (w *Web) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		h := rw.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if w.auth.Secure() {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(rw, r)
	})
}

type ctxKey struct{}

// actor is who is making the request (set by session).
func actor(r *http.Request) *core.Actor {
	if a, ok := r.Context().Value(ctxKey{}).(*core.Actor); ok {
		return a
	}
	return &core.Actor{ClientIP: clientIP(r)}
}

func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// session resolves the session cookie into the request's actor. An ended
// session just makes the visitor anonymous (and clears the cookie).
func (w *Web) session(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		act := &core.Actor{ClientIP: clientIP(r)}
		// Static files are the same for everyone: no session lookup.
		if strings.HasPrefix(r.URL.Path, "/static/") {
			next.ServeHTTP(rw, r)
			return
		}
		if c, err := r.Cookie(w.cookie); err == nil && c.Value != "" {
			u, err := w.auth.Session(r.Context(), c.Value)
			switch {
			case err == nil:
				act.User = u
				api.SetUser(r.Context(), u.Username)
			case domain.IsKind(err, domain.KindUnauthenticated):
				w.clearCookie(rw, w.cookie)
			default:
				w.log.ErrorContext(r.Context(), "reading session", "err", err)
			}
		}
		next.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, act)))
	})
}

func (w *Web) setCookie(rw http.ResponseWriter, name, value string, maxAge time.Duration, sameSite http.SameSite) {
	http.SetCookie(rw, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: w.auth.Secure(), SameSite: sameSite})
}

func (w *Web) clearCookie(rw http.ResponseWriter, name string) {
	http.SetCookie(rw, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: w.auth.Secure(), SameSite: http.SameSiteLaxMode})
}

func (w *Web) setSession(rw http.ResponseWriter, secret string) {
	w.setCookie(rw, w.cookie, secret, w.auth.AbsoluteTimeout(), http.SameSiteLaxMode)
}

// ---- flash messages: one notice or error carried across a redirect.

type flash struct {
	Notice string `json:"n,omitempty"`
	Error  string `json:"e,omitempty"`
}

func (w *Web) setFlash(rw http.ResponseWriter, f flash) {
	b, _ := json.Marshal(f)
	w.setCookie(rw, flashCookie, base64.RawURLEncoding.EncodeToString(b), time.Minute, http.SameSiteLaxMode)
}

func (w *Web) takeFlash(rw http.ResponseWriter, r *http.Request) flash {
	var f flash
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return f
	}
	w.clearCookie(rw, flashCookie)
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err == nil {
		json.Unmarshal(b, &f)
	}
	return f
}

// redirect answers a form POST with 303 See Other, with a flash message.
func (w *Web) redirect(rw http.ResponseWriter, r *http.Request, to string, f flash) {
	if f != (flash{}) {
		w.setFlash(rw, f)
	}
	http.Redirect(rw, r, to, http.StatusSeeOther)
}

// fail answers a form POST that the core refused: back to the page with
// the public message.
func (w *Web) fail(rw http.ResponseWriter, r *http.Request, back string, err error) {
	w.logServerError(r, err)
	w.redirect(rw, r, back, flash{Error: domain.PublicMessage(err)})
}

// ---- rendering

// view is what every page template receives.
type view struct {
	Title   string
	User    *domain.User
	Flash   string
	Error   string
	Scripts []string
	D       any
	// Notices are the signed-in user's open notices (shown on every page
	// until dismissed) and Path the page they are on, to come back to.
	Notices []domain.Notice
	Path    string
	// Form is the refused form the page shows again (see refill), or nil.
	Form *failedForm
	// Refresh, when above 0, reloads the page every Refresh seconds while
	// something runs (checks): a meta refresh without JavaScript, and
	// app.js updating the [data-live] parts of the page with it.
	Refresh int
	// Unread counts the user's unread notifications (the bell).
	Unread int
}

func (w *Web) render(rw http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := w.pages[page]
	if !ok {
		panic("web: no template " + page)
	}
	v.User = actor(r).User
	if v.User != nil {
		ns, err := w.svc.Notices(r.Context(), actor(r))
		if err != nil {
			w.log.ErrorContext(r.Context(), "reading notices", "err", err)
		}
		v.Notices, v.Unread = splitNotices(ns)
		v.Path = r.URL.Path
	}
	if ff := failedFormOf(r); ff != nil {
		v.Form, status = ff, ff.Status
	}
	f := w.takeFlash(rw, r)
	if v.Flash == "" {
		v.Flash = f.Notice
	}
	if v.Error == "" {
		v.Error = f.Error
	}
	h := rw.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Pages show private data and one-time secrets: never cache them.
	h.Set("Cache-Control", "no-store")
	rw.WriteHeader(status)
	if err := t.ExecuteTemplate(rw, "layout", v); err != nil {
		w.log.ErrorContext(r.Context(), "rendering page", "page", page, "err", err)
	}
}

type errorView struct{ Heading, Message string }

func (w *Web) renderError(rw http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	w.render(rw, r, status, "error", view{Title: heading, D: errorView{heading, msg}})
}

// pageError renders a GET page that failed. Anonymous visitors asked to
// sign in are sent to the sign-in page.
func (w *Web) pageError(rw http.ResponseWriter, r *http.Request, err error) {
	kind := domain.KindOf(err)
	if kind == domain.KindUnauthenticated && actor(r).User == nil {
		http.Redirect(rw, r, "/login", http.StatusSeeOther)
		return
	}
	w.logServerError(r, err)
	heading := map[domain.Kind]string{
		domain.KindNotFound: "Not found", domain.KindForbidden: "Not allowed", domain.KindUnauthenticated: "Sign-in needed",
	}[kind]
	if heading == "" {
		heading = "Something went wrong"
	}
	w.renderError(rw, r, api.StatusOf(kind), heading, domain.PublicMessage(err))
}

// writeJSON answers the scripts' requests.
func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	rw.WriteHeader(status)
	json.NewEncoder(rw).Encode(v)
}

func (w *Web) jsonError(rw http.ResponseWriter, r *http.Request, err error) {
	kind := domain.KindOf(err)
	w.logServerError(r, err)
	if kind == domain.KindUnauthenticated {
		w.log.WarnContext(r.Context(), "request refused", "path", LogPath(r.URL.Path), "err", err)
	}
	api.SetRetryAfter(rw, err)
	writeJSON(rw, api.StatusOf(kind), map[string]string{"error": domain.PublicMessage(err)})
}

// logServerError logs, at ERROR with its cause, an error that becomes a
// 5xx answer (the request log line carries the same request id).
func (w *Web) logServerError(r *http.Request, err error) {
	if status := api.StatusOf(domain.KindOf(err)); status >= 500 {
		w.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", LogPath(r.URL.Path), "status", status, "err", err)
	}
}

// requireUser wraps handlers of pages that need a signed-in user.
func (w *Web) requireUser(next http.HandlerFunc) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		if actor(r).User == nil {
			if r.Method == http.MethodGet {
				w.setCookie(rw, nextCookie, url.QueryEscape(r.URL.RequestURI()), 10*time.Minute, http.SameSiteLaxMode)
				http.Redirect(rw, r, "/login", http.StatusSeeOther)
				return
			}
			// The body (perhaps a long upload) is not read: close the
			// connection rather than drain it.
			api.DropBody(rw)
			w.renderError(rw, r, http.StatusUnauthorized, "Sign-in needed", "Your session has ended: sign in again.")
			return
		}
		next(rw, r)
	}
}

// takeNext returns the page that sent the visitor to sign in, if it is a
// path on this site (never another site: no open redirect), or "/".
func (w *Web) takeNext(rw http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(nextCookie)
	if err != nil {
		return "/"
	}
	w.clearCookie(rw, nextCookie)
	p, err := url.QueryUnescape(c.Value)
	if err != nil {
		return "/"
	}
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}

// LogPath is the request path as it may be logged: the one-time token of an
// enrollment link is a secret, so it is cut out.
func LogPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "/enroll/"); ok && rest != "" {
		if _, tail, found := strings.Cut(rest, "/"); found {
			return "/enroll/REDACTED/" + tail
		}
		return "/enroll/REDACTED"
	}
	return p
}
