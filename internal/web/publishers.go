package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"trel/internal/api"
	"trel/internal/domain"
)

// Trusted publishing pages: a project's trusted publishers (committee
// members change them) and the OIDC issuers (administrators).

func (w *Web) publishingRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /projects/{project}/publishers", w.publishersPage)
	mux.HandleFunc("POST /projects/{project}/publishers", w.requireUser(w.addPublisher))
	mux.HandleFunc("POST /projects/{project}/publishers/{id}/remove", w.requireUser(w.removePublisher))
	mux.HandleFunc("GET /admin/issuers", w.requireUser(w.issuersPage))
	mux.HandleFunc("POST /admin/issuers", w.requireUser(w.addIssuer))
	mux.HandleFunc("POST /admin/issuers/remove", w.requireUser(w.removeIssuer))
}

// form is what a visitor typed into a form, and the error of one field
// (or of the form, Field ""), to show the form again next to the error.
type form struct {
	Values map[string]string
	Field  string
	Error  string
}

// FieldError returns the error to show next to the field name.
func (f *form) FieldError(name string) string {
	if f != nil && f.Field == name {
		return f.Error
	}
	return ""
}

// Value returns what was typed into the field.
func (f *form) Value(name string) string {
	if f == nil {
		return ""
	}
	return f.Values[name]
}

// Has reports whether a checkbox of the field had the value.
func (f *form) Has(name, value string) bool {
	return f != nil && slices.Contains(strings.Split(f.Values[name], ","), value)
}

func formOf(r *http.Request, names ...string) *form {
	f := &form{Values: map[string]string{}}
	for _, n := range names {
		f.Values[n] = strings.Join(r.Form[n], ",")
	}
	return f
}

// failed records err on the form: next to its field when the core named
// one, else above the form.
func (f *form) failed(err error) *form {
	f.Field, f.Error = domain.FieldOf(err), domain.PublicMessage(err)
	return f
}

type publishersView struct {
	P          *domain.Project
	Publishers []domain.TrustedPublisher
	Issuers    []domain.OIDCIssuer
	CanEdit    bool
	Actions    []string
	Form       *form
}

func (w *Web) publishersPage(rw http.ResponseWriter, r *http.Request) {
	w.renderPublishers(rw, r, http.StatusOK, nil)
}

func (w *Web) renderPublishers(rw http.ResponseWriter, r *http.Request, status int, f *form) {
	act := actor(r)
	p, err := w.svc.Project(r.Context(), act, r.PathValue("project"))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	ps, err := w.svc.Publishers(r.Context(), act, p.Key)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	is, err := w.svc.OIDCIssuers(r.Context(), act)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	if f == nil { // a fresh form: GitHub Actions, compose
		f = &form{Values: map[string]string{"issuer": domain.GitHubActionsIssuer, "actions": domain.ActionCompose}}
	}
	w.render(rw, r, status, "publishers", view{Title: "Trusted publishers of " + p.Name, D: publishersView{P: p, Publishers: ps, Issuers: is,
		CanEdit: w.isMember(r, p.CommitteeID), Actions: domain.AllActions, Form: f}})
}

func (w *Web) addPublisher(rw http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		w.renderPublishers(rw, r, http.StatusBadRequest, &form{Error: "the form could not be read"})
		return
	}
	f := formOf(r, "issuer", "repository", "workflow", "ref", "environment", "actions")
	p := domain.TrustedPublisher{Issuer: f.Value("issuer"), Repository: strings.TrimSpace(f.Value("repository")),
		Workflow: strings.TrimSpace(f.Value("workflow")), Ref: strings.TrimSpace(f.Value("ref")), Environment: strings.TrimSpace(f.Value("environment"))}
	acts, err := domain.ParseActions(f.Value("actions"))
	if err == nil {
		p.Actions = acts
		var added *domain.TrustedPublisher
		if added, err = w.svc.AddPublisher(r.Context(), actor(r), r.PathValue("project"), p); err == nil {
			w.redirect(rw, r, "/projects/"+r.PathValue("project")+"/publishers", flash{Notice: "Publisher " + strconv.FormatInt(added.ID, 10) + " added (" + added.String() + "): a new policy version; the checks of open releases run again."})
			return
		}
	}
	w.logServerError(r, err)
	w.renderPublishers(rw, r, api.StatusOf(domain.KindOf(err)), f.failed(err))
}

func (w *Web) removePublisher(rw http.ResponseWriter, r *http.Request) {
	key := r.PathValue("project")
	back := "/projects/" + key + "/publishers"
	if err := confirmed(r, "remove the publisher"); err != nil {
		w.fail(rw, r, back, err)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		w.fail(rw, r, back, domain.Errorf(domain.KindInvalid, "no such publisher"))
		return
	}
	if err := w.svc.RemovePublisher(r.Context(), actor(r), key, id); err != nil {
		w.fail(rw, r, back, err)
		return
	}
	w.redirect(rw, r, back, flash{Notice: "Publisher " + r.PathValue("id") + " removed: credentials of its runs no longer work."})
}

type issuersView struct {
	Issuers []domain.OIDCIssuer
	Form    *form
}

func (w *Web) issuersPage(rw http.ResponseWriter, r *http.Request) {
	w.renderIssuers(rw, r, http.StatusOK, nil)
}

func (w *Web) renderIssuers(rw http.ResponseWriter, r *http.Request, status int, f *form) {
	if u := actor(r).User; u == nil || !u.Admin {
		w.renderError(rw, r, http.StatusForbidden, "Not allowed", "Only administrators manage the OIDC issuers of trusted publishing.")
		return
	}
	is, err := w.svc.OIDCIssuers(r.Context(), actor(r))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	if f == nil {
		f = &form{Values: map[string]string{"kind": domain.IssuerGitHub}}
	}
	w.render(rw, r, status, "issuers", view{Title: "OIDC issuers", D: issuersView{Issuers: is, Form: f}})
}

func (w *Web) addIssuer(rw http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		w.renderIssuers(rw, r, http.StatusBadRequest, &form{Error: "the form could not be read"})
		return
	}
	f := formOf(r, "url", "kind", "web_url")
	is := domain.OIDCIssuer{URL: strings.TrimSpace(f.Value("url")), Kind: f.Value("kind"), WebURL: strings.TrimSpace(f.Value("web_url"))}
	if err := is.Validate(); err != nil {
		field := "url"
		if is.Kind != domain.IssuerGitHub && is.Kind != domain.IssuerGitLab {
			field = "kind"
		} else if domain.ValidateIssuerURL(is.URL) == nil {
			field = "web_url"
		}
		w.renderIssuers(rw, r, http.StatusBadRequest, &form{Values: f.Values, Field: field, Error: domain.PublicMessage(err)})
		return
	}
	added, err := w.svc.AddOIDCIssuer(r.Context(), actor(r), is)
	if err != nil {
		w.logServerError(r, err)
		f.Field, f.Error = "url", domain.PublicMessage(err)
		w.renderIssuers(rw, r, api.StatusOf(domain.KindOf(err)), f)
		return
	}
	w.redirect(rw, r, "/admin/issuers", flash{Notice: "trel now accepts ID tokens of " + added.URL + "."})
}

func (w *Web) removeIssuer(rw http.ResponseWriter, r *http.Request) {
	url := r.FormValue("url")
	if err := confirmed(r, "remove the issuer"); err != nil {
		w.fail(rw, r, "/admin/issuers", err)
		return
	}
	if err := w.svc.RemoveOIDCIssuer(r.Context(), actor(r), url); err != nil {
		w.fail(rw, r, "/admin/issuers", err)
		return
	}
	w.redirect(rw, r, "/admin/issuers", flash{Notice: "trel no longer accepts ID tokens of " + url + "; credentials of its runs stopped working."})
}
