package web

import (
	"net/http"
	"strconv"
	"strings"

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

type publishersView struct {
	P          *domain.Project
	Publishers []domain.TrustedPublisher
	Issuers    []domain.OIDCIssuer
	CanEdit    bool
	Actions    []string
	// DefaultIssuer is the issuer a fresh form proposes.
	DefaultIssuer string
}

func (w *Web) publishersPage(rw http.ResponseWriter, r *http.Request) {
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
	w.render(rw, r, http.StatusOK, "publishers", view{Title: "Trusted publishers of " + p.Name, D: publishersView{P: p, Publishers: ps, Issuers: is,
		CanEdit: w.isMember(r, p.CommitteeID), Actions: domain.AllActions, DefaultIssuer: domain.GitHubActionsIssuer}})
}

func (w *Web) addPublisher(rw http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		w.refill(rw, r, "pub", "", domain.Errorf(domain.KindInvalid, "the form could not be read"), w.publishersPage)
		return
	}
	p := domain.TrustedPublisher{Issuer: r.FormValue("issuer"), Repository: strings.TrimSpace(r.FormValue("repository")),
		Workflow: strings.TrimSpace(r.FormValue("workflow")), Ref: strings.TrimSpace(r.FormValue("ref")), Environment: strings.TrimSpace(r.FormValue("environment"))}
	acts, err := domain.ParseActions(strings.Join(r.Form["actions"], ","))
	if err == nil {
		p.Actions = acts
		var added *domain.TrustedPublisher
		if added, err = w.svc.AddPublisher(r.Context(), actor(r), r.PathValue("project"), p); err == nil {
			w.redirect(rw, r, "/projects/"+r.PathValue("project")+"/publishers", flash{Notice: "Publisher " + strconv.FormatInt(added.ID, 10) + " added (" + added.String() + "): a new policy version; the checks of open releases run again."})
			return
		}
	}
	w.refill(rw, r, "pub", "", err, w.publishersPage)
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
}

func (w *Web) issuersPage(rw http.ResponseWriter, r *http.Request) {
	if u := actor(r).User; u == nil || !u.Admin {
		w.renderError(rw, r, http.StatusForbidden, "Not allowed", "Only administrators manage the OIDC issuers of trusted publishing.")
		return
	}
	is, err := w.svc.OIDCIssuers(r.Context(), actor(r))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	w.render(rw, r, http.StatusOK, "issuers", view{Title: "OIDC issuers", D: issuersView{Issuers: is}})
}

func (w *Web) addIssuer(rw http.ResponseWriter, r *http.Request) {
	is := domain.OIDCIssuer{URL: strings.TrimSpace(r.FormValue("url")), Kind: r.FormValue("kind"), WebURL: strings.TrimSpace(r.FormValue("web_url"))}
	if err := is.Validate(); err != nil {
		field := "url"
		if is.Kind != domain.IssuerGitHub && is.Kind != domain.IssuerGitLab {
			field = "kind"
		} else if domain.ValidateIssuerURL(is.URL) == nil {
			field = "web_url"
		}
		w.refill(rw, r, "is", field, err, w.issuersPage)
		return
	}
	added, err := w.svc.AddOIDCIssuer(r.Context(), actor(r), is)
	if err != nil {
		w.refill(rw, r, "is", "url", err, w.issuersPage)
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
