package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
)

// route is one API endpoint. The OpenAPI document is generated from the
// same table, so the two cannot drift apart.
type route struct {
	Method   string
	Pattern  string // net/http pattern, relative to the server root
	Summary  string
	Auth     string // "public", "token" or "admin": who may call it
	Request  string // OpenAPI schema name of the JSON body, "binary" for a raw stream, "" for none
	Response string // OpenAPI schema name of the 2xx body, "binary" for a file
	Status   int    // success status
	Handler  http.HandlerFunc
}

const rel = "/api/v1/projects/{project}/releases/{version}"

func (a *API) routes() []route {
	return append([]route{
		{"GET", "/api/v1/openapi.json", "This OpenAPI document", "public", "", "", 200, a.openAPI},
		{"GET", "/api/v1/me", "The signed-in user", "token", "", "User", 200, a.me},
		{"GET", "/api/v1/users", "List users", "admin", "", "UserList", 200, a.listUsers},
		{"POST", "/api/v1/users", "Create a user", "admin", "NewUser", "User", 201, a.createUser},
		{"GET", "/api/v1/audit", "The audit log, newest first (?limit=N, ?offset=N, ?actor=USER, ?action=PREFIX, ?target=TEXT)", "admin", "", "AuditList", 200, a.audit},
		{"GET", "/api/v1/tokens", "List your API tokens", "token", "", "TokenList", 200, a.listTokens},
		{"POST", "/api/v1/tokens", "Create an API token (the secret is returned once)", "token", "NewToken", "CreatedToken", 201, a.createToken},
		{"DELETE", "/api/v1/tokens/{id}", "Revoke one of your tokens", "token", "", "", 204, a.revokeToken},
		{"GET", "/api/v1/committees", "List committees", "public", "", "CommitteeList", 200, a.listCommittees},
		{"POST", "/api/v1/committees", "Create a committee", "admin", "NewCommittee", "Committee", 201, a.createCommittee},
		{"GET", "/api/v1/committees/{committee}", "A committee with members and projects", "public", "", "CommitteeDetail", 200, a.committee},
		{"PUT", "/api/v1/committees/{committee}/incubating", "Mark a committee as incubating or not (its releases must carry a DISCLAIMER)", "admin", "Incubating", "Incubating", 200, a.setIncubating},
		{"PUT", "/api/v1/committees/{committee}/members/{username}", "Add a member or change their role", "token", "MemberRole", "Membership", 200, a.addMember},
		{"DELETE", "/api/v1/committees/{committee}/members/{username}", "Remove a member", "token", "", "", 204, a.removeMember},
		{"GET", "/api/v1/projects", "List projects", "public", "", "ProjectList", 200, a.listProjects},
		{"POST", "/api/v1/projects", "Create a project", "token", "NewProject", "Project", 201, a.createProject},
		{"GET", "/api/v1/projects/{project}", "A project", "public", "", "Project", 200, a.project},
		{"GET", "/api/v1/projects/{project}/releases", "List a project's releases you may see", "public", "", "ReleaseList", 200, a.listReleases},
		{"POST", "/api/v1/projects/{project}/releases", "Start a draft release", "token", "NewRelease", "Release", 201, a.startRelease},
		{"GET", rel, "A release", "token", "", "Release", 200, a.release},
		{"POST", rel + "/uploads", "Upload one file's content (raw body); reference it in a revision", "token", "binary", "Blob", 201, a.upload},
		{"POST", rel + "/revisions", "Create a revision from changes to the latest one", "token", "RevisionRequest", "RevisionResult", 201, a.createRevision},
		{"GET", rel + "/revisions", "List revisions", "token", "", "RevisionList", 200, a.listRevisions},
		{"GET", rel + "/revisions/{number}", "One revision with its files (number or \"latest\")", "token", "", "Revision", 200, a.revision},
		{"GET", rel + "/revisions/{number}/files/{path...}", "Download a file", "token", "", "binary", 200, a.download},
	}, slices.Concat(a.keyRoutes(), a.sigstoreRoutes(), a.lifecycleRoutes(), a.signingRoutes(), a.incidentRoutes(), a.oidcRoutes(), a.notifyRoutes(), a.uxRoutes(), a.uploadSessionRoutes())...)
}

// RouteInfo describes one API operation, for tools and tests.
type RouteInfo struct {
	Method  string
	Pattern string
	Auth    string
}

// Routes lists every API operation, from the table the router is built
// from (the authorisation matrix test walks it).
func Routes() []RouteInfo {
	var out []RouteInfo
	for _, r := range (&API{}).routes() {
		out = append(out, RouteInfo{Method: r.Method, Pattern: r.Pattern, Auth: r.Auth})
	}
	return out
}

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	act := actor(r)
	if act.User == nil {
		a.fail(w, r, signInFirst(act))
		return
	}
	writeJSON(w, 200, act.User)
}

// signInFirst is the refusal of an anonymous call (or a CI credential's)
// to an operation that needs a user, before anything else is looked at.
func signInFirst(act *core.Actor) error {
	if act.Workload != nil {
		return domain.Errorf(domain.KindForbidden, "a CI credential is not a person's account: this needs a user's API token")
	}
	return domain.Errorf(domain.KindUnauthenticated, "no token given: run `trel login --server URL` or set TREL_TOKEN")
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := a.svc.ListUsers(r.Context(), actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"users": nonNil(us)})
}

// NewUserRequest is the body of POST /api/v1/users.
type NewUserRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Name     string `json:"name,omitempty"`
	Admin    bool   `json:"admin,omitempty"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var req NewUserRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	u, err := a.svc.CreateUser(r.Context(), actor(r), core.NewUser(req))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, u)
}

func (a *API) audit(w http.ResponseWriter, r *http.Request) {
	n, err := intQuery(r, "limit")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	off, err := intQuery(r, "offset")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	evs, more, err := a.svc.AuditPage(r.Context(), actor(r), auditFilter(r), off, n)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"events": nonNil(evs), "more": more})
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := a.svc.ListTokens(r.Context(), actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"tokens": nonNil(ts)})
}

// NewTokenRequest is the body of POST /api/v1/tokens.
type NewTokenRequest struct {
	Label   string `json:"label"`
	Expires string `json:"expires,omitempty"` // e.g. "90d"
}

// CreatedToken is returned once, with the secret.
type CreatedToken struct {
	Token  domain.Token `json:"token"`
	Secret string       `json:"secret"`
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) {
	var req NewTokenRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	ttl, err := core.ParseTTL(req.Expires)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	secret, t, err := a.svc.CreateToken(r.Context(), actor(r), "", req.Label, ttl)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, CreatedToken{Token: *t, Secret: secret})
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.svc.RevokeToken(r.Context(), actor(r), int64(id)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}

func (a *API) listCommittees(w http.ResponseWriter, r *http.Request) {
	cs, err := a.svc.ListCommittees(r.Context(), actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"committees": nonNil(cs)})
}

// NewCommitteeRequest is the body of POST /api/v1/committees.
type NewCommitteeRequest struct {
	Key  string `json:"key"`
	Name string `json:"name"`
}

func (a *API) createCommittee(w http.ResponseWriter, r *http.Request) {
	var req NewCommitteeRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.svc.CreateCommittee(r.Context(), actor(r), req.Key, req.Name)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, c)
}

func (a *API) committee(w http.ResponseWriter, r *http.Request) {
	c, err := a.svc.Committee(r.Context(), actor(r), r.PathValue("committee"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	c.Members, c.Projects = nonNil(c.Members), nonNil(c.Projects)
	writeJSON(w, 200, c)
}

// MemberRoleRequest is the body of PUT .../members/{username}.
type MemberRoleRequest struct {
	Role string `json:"role"`
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request) {
	var req MemberRoleRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	role, err := domain.ParseRole(req.Role)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	m, err := a.svc.AddMember(r.Context(), actor(r), r.PathValue("committee"), r.PathValue("username"), role)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, m)
}

// IncubatingRequest is the body (and response) of PUT
// /api/v1/committees/{committee}/incubating.
type IncubatingRequest struct {
	Incubating bool `json:"incubating"`
}

func (a *API) setIncubating(w http.ResponseWriter, r *http.Request) {
	var req IncubatingRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.svc.SetIncubating(r.Context(), actor(r), r.PathValue("committee"), req.Incubating); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, req)
}

func (a *API) removeMember(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.RemoveMember(r.Context(), actor(r), r.PathValue("committee"), r.PathValue("username")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}

func (a *API) listProjects(w http.ResponseWriter, r *http.Request) {
	ps, err := a.svc.ListProjects(r.Context(), actor(r), r.URL.Query().Get("committee"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"projects": nonNil(ps)})
}

// NewProjectRequest is the body of POST /api/v1/projects.
type NewProjectRequest struct {
	Key       string `json:"key"`
	Committee string `json:"committee"`
	Name      string `json:"name"`
}

func (a *API) createProject(w http.ResponseWriter, r *http.Request) {
	var req NewProjectRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.svc.CreateProject(r.Context(), actor(r), req.Key, req.Committee, req.Name)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, p)
}

func (a *API) project(w http.ResponseWriter, r *http.Request) {
	p, err := a.svc.Project(r.Context(), actor(r), r.PathValue("project"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, p)
}

func (a *API) listReleases(w http.ResponseWriter, r *http.Request) {
	rs, err := a.svc.ListReleases(r.Context(), actor(r), r.PathValue("project"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"releases": nonNil(rs)})
}

// NewReleaseRequest is the body of POST .../releases.
type NewReleaseRequest struct {
	Version string `json:"version"`
	// Embargoed: a security release hidden from everyone but the
	// committee's participants until it is published.
	Embargoed bool `json:"embargoed,omitempty"`
}

func (a *API) startRelease(w http.ResponseWriter, r *http.Request) {
	var req NewReleaseRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	rl, err := a.svc.StartReleaseWith(r.Context(), actor(r), r.PathValue("project"), req.Version, core.StartReleaseOptions{Embargoed: req.Embargoed})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, rl)
}

func (a *API) release(w http.ResponseWriter, r *http.Request) {
	rl, err := a.svc.Release(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, rl)
}

// upload streams the raw request body into the blob store. Large files
// take long, so this handler lifts the server's read deadline for itself,
// but only once the caller is known to be allowed: a refused upload is
// answered at once and its connection closed, unread.
func (a *API) upload(w http.ResponseWriter, r *http.Request) {
	up, err := a.svc.PrepareUpload(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		DropBody(w)
		a.fail(w, r, err)
		return
	}
	defer up.Done()
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(6 * time.Hour))
	rc.SetWriteDeadline(time.Now().Add(6 * time.Hour))
	b, err := up.PutLast(r.Context(), r.Body, r.ContentLength)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, b)
}

func (a *API) createRevision(w http.ResponseWriter, r *http.Request) {
	var req core.RevisionRequest
	if err := decodeLimit(r, &req, maxRevisionBody); err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.svc.CreateRevision(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	status := 201
	if !res.Created {
		status = 200
	}
	writeJSON(w, status, res)
}

func (a *API) listRevisions(w http.ResponseWriter, r *http.Request) {
	revs, err := a.svc.ListRevisions(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"revisions": nonNil(revs)})
}

func revisionNumber(r *http.Request) (int, error) {
	if r.PathValue("number") == "latest" {
		return 0, nil
	}
	n, err := pathInt(r, "number")
	if err == nil && n == 0 {
		err = domain.Errorf(domain.KindInvalid, "revisions are numbered from 1; use \"latest\" for the newest")
	}
	return n, err
}

func (a *API) revision(w http.ResponseWriter, r *http.Request) {
	n, err := revisionNumber(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	_, rev, err := a.svc.Revision(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), n)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rev.Files = nonNil(rev.Files)
	writeJSON(w, 200, rev)
}

func (a *API) download(w http.ResponseWriter, r *http.Request) {
	n, err := revisionNumber(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f, rc, err := a.svc.OpenFile(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), n, r.PathValue("path"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	defer rc.Close()
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(6 * time.Hour))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Content-SHA256", f.SHA256)
	w.Header().Set("X-Content-SHA512", f.SHA512)
	w.Header().Set("Content-Disposition", "attachment")
	w.Header().Set("ETag", `"`+f.SHA256+`"`)
	http.ServeContent(w, r, "", time.Time{}, rc)
}

func pathInt(r *http.Request, name string) (int, error) {
	n, err := strconv.Atoi(r.PathValue(name))
	if err != nil || n < 0 {
		return 0, domain.Errorf(domain.KindInvalid, "%s must be a non-negative integer", name)
	}
	return n, nil
}

// nonNil makes empty lists render as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
