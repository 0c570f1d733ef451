package web

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"trel/internal/api"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/store"
)

func (w *Web) routes(mux *http.ServeMux) {
	static, _ := fsSub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	mux.HandleFunc("GET /{$}", w.home)
	mux.HandleFunc("GET /login", w.loginPage)
	mux.HandleFunc("POST /login/begin", w.loginBegin)
	mux.HandleFunc("POST /login/finish", w.loginFinish)
	mux.HandleFunc("POST /logout", w.logout)
	mux.HandleFunc("POST /logout/everywhere", w.requireUser(w.logoutEverywhere))
	mux.HandleFunc("GET /enroll/{token}", w.enrollPage)
	mux.HandleFunc("POST /enroll/{token}/begin", w.enrollBegin)
	mux.HandleFunc("POST /passkeys/finish", w.registerFinish)
	mux.HandleFunc("GET /account", w.requireUser(w.account))
	mux.HandleFunc("POST /account/passkeys/begin", w.addPasskeyBegin)
	mux.HandleFunc("POST /account/passkeys/{id}/remove", w.requireUser(w.removePasskey))

	mux.HandleFunc("GET /tokens", w.requireUser(w.tokens))
	mux.HandleFunc("POST /tokens", w.requireUser(w.createToken))
	mux.HandleFunc("POST /tokens/{id}/revoke", w.requireUser(w.revokeToken))

	mux.HandleFunc("GET /committees/{committee}", w.committee)
	mux.HandleFunc("POST /committees/{committee}/members", w.requireUser(w.addMember))
	mux.HandleFunc("POST /committees/{committee}/members/{username}/remove", w.requireUser(w.removeMember))
	mux.HandleFunc("POST /committees/{committee}/projects", w.requireUser(w.createProject))
	mux.HandleFunc("POST /committees/{committee}/incubating", w.requireUser(w.setIncubating))
	mux.HandleFunc("GET /projects/{project}", w.project)
	mux.HandleFunc("POST /projects/{project}/releases", w.requireUser(w.startRelease))
	const rel = "/projects/{project}/releases/{version}"
	// Participants get the working page, everyone else the public page
	// of published releases and candidates (the core hides drafts and
	// embargoed releases): yanks and where archived files are included.
	mux.HandleFunc("GET "+rel, w.releasePage)
	mux.HandleFunc("GET "+rel+"/files/{path...}", w.publicFile)
	mux.HandleFunc("GET /transparency-log", w.transparencyLog)
	mux.HandleFunc("GET /transparency-log/{index}", w.logEntryPage)
	mux.HandleFunc("GET "+rel+"/diff", w.requireUser(w.diff))
	mux.HandleFunc("POST "+rel+"/upload", w.requireUser(w.upload))
	mux.HandleFunc("GET "+rel+"/revisions/{number}/files/{path...}", w.requireUser(w.download))

	mux.HandleFunc("GET /admin", w.requireUser(w.admin))
	mux.HandleFunc("POST /admin/users", w.requireUser(w.adminCreateUser))
	mux.HandleFunc("POST /admin/users/{username}/enroll", w.requireUser(w.adminEnroll))
	mux.HandleFunc("POST /admin/committees", w.requireUser(w.adminCreateCommittee))
	mux.HandleFunc("POST /admin/projects", w.requireUser(w.adminCreateProject))
	mux.HandleFunc("POST /admin/members", w.requireUser(w.adminAddMember))

	w.optionalRoutes(mux)

	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		w.renderError(rw, r, http.StatusNotFound, "Not found", "There is no page at this address.")
	})
}

// cacheStatic lets browsers keep the CSS and scripts for an hour.
func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(rw, r)
	})
}

// ---- dashboard

type myCommittee struct {
	Key, Name string
	Role      domain.Role
}

type dashboardView struct {
	Mine   []myCommittee
	Others []domain.Committee
	Drafts []domain.Release
	// Votes are the open votes, each with the user's own vote if cast.
	Votes []openVote
	// Admin and Empty: an administrator of an installation without any
	// committee, who is led to create the first one.
	Admin, Empty bool
}

// openVote is a candidate on the dashboard with its one-click vote form.
type openVote struct {
	R       domain.Release
	Tally   *domain.Tally
	Mine    *domain.Vote // the user's vote so far
	Binding bool         // the user's vote would be binding
}

func (w *Web) home(rw http.ResponseWriter, r *http.Request) {
	act := actor(r)
	if act.User == nil {
		w.publicHome(rw, r)
		return
	}
	ctx := r.Context()
	st := w.svc.Store()
	roles, err := st.Roles(ctx, act.User.ID)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	all, err := w.svc.ListCommittees(ctx, act)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	var d dashboardView
	for _, c := range all {
		role, mine := roles[c.ID]
		if !mine {
			d.Others = append(d.Others, c)
			continue
		}
		d.Mine = append(d.Mine, myCommittee{Key: c.Key, Name: c.Name, Role: role})
	}
	// Releases in progress: drafts of the projects of my committees (all
	// committees for an administrator).
	for _, c := range all {
		if _, mine := roles[c.ID]; !mine && !act.User.Admin {
			continue
		}
		projects, err := w.svc.ListProjects(ctx, act, c.Key)
		if err != nil {
			w.pageError(rw, r, err)
			return
		}
		for _, p := range projects {
			rels, err := w.svc.ListReleases(ctx, act, p.Key)
			if err != nil {
				w.pageError(rw, r, err)
				return
			}
			for _, rl := range rels {
				if rl.Phase == domain.PhaseDraft {
					d.Drafts = append(d.Drafts, rl)
				}
			}
		}
	}
	sort.Slice(d.Drafts, func(i, j int) bool { return d.Drafts[i].CreatedAt.After(d.Drafts[j].CreatedAt) })
	// Every signed-in user may vote (binding for the committee's members).
	cands, err := w.svc.PublicReleases(ctx, act, "", domain.PhaseCandidate, 100)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	for _, rl := range cands {
		t, err := w.svc.Tally(ctx, act, rl.ProjectKey, rl.Version)
		if err != nil {
			continue
		}
		ov := openVote{R: rl, Tally: t, Binding: roles[rl.CommitteeID] == domain.RoleMember}
		for i := range t.Votes {
			if t.Votes[i].User == act.User.Username {
				ov.Mine = &t.Votes[i]
			}
		}
		d.Votes = append(d.Votes, ov)
	}
	d.Admin, d.Empty = act.User.Admin, len(all) == 0
	w.render(rw, r, http.StatusOK, "dashboard", view{Title: "Dashboard", D: d})
}

// ---- account

type accountView struct {
	Passkeys       any
	Sessions       int
	SessionList    []domain.Session
	Idle, Absolute string
	Current        int64 // this browser's session
}

func (w *Web) account(rw http.ResponseWriter, r *http.Request) {
	act := actor(r)
	keys, err := w.auth.Passkeys(r.Context(), act)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	sessions, err := w.svc.Store().UserSessions(r.Context(), act.User.ID)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	d := accountView{Passkeys: keys, Sessions: len(sessions), SessionList: sessions, Idle: duration(w.auth.IdleTimeout()), Absolute: duration(w.auth.AbsoluteTimeout())}
	if c, err := r.Cookie(w.cookie); err == nil {
		d.Current = w.auth.SessionID(r.Context(), c.Value)
	}
	w.render(rw, r, http.StatusOK, "account", view{Title: "Your account", Scripts: []string{"webauthn.js"}, D: d})
}

func duration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "1 day"
		}
		return strconv.Itoa(n) + " days"
	}
	if d%time.Hour == 0 {
		return strconv.Itoa(int(d/time.Hour)) + " hours"
	}
	return d.String()
}

func (w *Web) removePasskey(rw http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		w.fail(rw, r, "/account", domain.Errorf(domain.KindInvalid, "no such passkey"))
		return
	}
	if err := confirmed(r, "remove the passkey"); err != nil {
		w.fail(rw, r, "/account", err)
		return
	}
	if err := w.auth.RemovePasskey(r.Context(), actor(r), id); err != nil {
		w.fail(rw, r, "/account", err)
		return
	}
	w.redirect(rw, r, "/account", flash{Notice: "The passkey was removed."})
}

// ---- tokens

type tokensView struct {
	Tokens              []domain.Token
	Secret, SecretLabel string
	Server              string
}

func (w *Web) tokens(rw http.ResponseWriter, r *http.Request) {
	w.renderTokens(rw, r, "", "")
}

func (w *Web) renderTokens(rw http.ResponseWriter, r *http.Request, secret, label string) {
	ts, err := w.svc.ListTokens(r.Context(), actor(r))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].ID > ts[j].ID })
	w.render(rw, r, http.StatusOK, "tokens", view{Title: "API tokens", D: tokensView{Tokens: ts, Secret: secret, SecretLabel: label, Server: w.auth.Origin()}})
}

// createToken answers with the page itself, not a redirect: the secret is
// shown once in this response and never travels in a URL or a cookie.
func (w *Web) createToken(rw http.ResponseWriter, r *http.Request) {
	ttl, err := core.ParseTTL(r.FormValue("expires"))
	if err != nil {
		w.refill(rw, r, "create-token", "expires", err, w.tokens)
		return
	}
	secret, t, err := w.svc.CreateToken(r.Context(), actor(r), "", r.FormValue("label"), ttl)
	if err != nil {
		w.refill(rw, r, "create-token", "label", err, w.tokens)
		return
	}
	w.renderTokens(rw, r, secret, t.Label)
}

func (w *Web) revokeToken(rw http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		w.fail(rw, r, "/tokens", domain.Errorf(domain.KindInvalid, "no such token"))
		return
	}
	if err := confirmed(r, "revoke the token"); err != nil {
		w.fail(rw, r, "/tokens", err)
		return
	}
	if err := w.svc.RevokeToken(r.Context(), actor(r), id); err != nil {
		w.fail(rw, r, "/tokens", err)
		return
	}
	w.redirect(rw, r, "/tokens", flash{Notice: "The token was revoked: it no longer works."})
}

// ---- committees and projects

type committeeView struct {
	C         *core.CommitteeDetail
	CanManage bool
	Keys      []domain.Key
	// Admin may mark the committee as incubating.
	Admin    bool
	Releases releaseList
}

func (w *Web) committee(rw http.ResponseWriter, r *http.Request) {
	act := actor(r)
	c, err := w.svc.Committee(r.Context(), act, r.PathValue("committee"))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	d := committeeView{C: c, CanManage: w.isMember(r, c.ID), Admin: act.User != nil && act.User.Admin}
	d.Keys = w.committeeKeys(r, c.Key)
	if d.Releases, err = w.publicReleases(r, c.Key, 100); err != nil {
		w.pageError(rw, r, err)
		return
	}
	w.render(rw, r, http.StatusOK, "committee", view{Title: c.Name, D: d})
}

// isMember reports whether the actor may manage the committee. It only
// decides which forms to show; the core authorises every action anyway.
func (w *Web) isMember(r *http.Request, committeeID int64) bool {
	admin, role := w.roleIn(r, committeeID)
	return admin || role == domain.RoleMember
}

// isParticipant reports whether the actor is an administrator, a member or
// a committer of the committee (who see its drafts). Like isMember, it
// only decides what to show.
func (w *Web) isParticipant(r *http.Request, committeeID int64) bool {
	admin, role := w.roleIn(r, committeeID)
	return admin || role != ""
}

// roleIn returns whether the actor is an administrator, and their role in
// the committee ("" for none).
func (w *Web) roleIn(r *http.Request, committeeID int64) (admin bool, role domain.Role) {
	act := actor(r)
	if act.User == nil {
		return false, ""
	}
	if act.User.Admin {
		return true, ""
	}
	roles, err := w.svc.Store().Roles(r.Context(), act.User.ID)
	if err != nil {
		return false, ""
	}
	return false, roles[committeeID]
}

func (w *Web) addMember(rw http.ResponseWriter, r *http.Request) {
	key := r.PathValue("committee")
	back := "/committees/" + key
	m, err := w.svc.AddMember(r.Context(), actor(r), key, strings.TrimSpace(r.FormValue("username")), domain.Role(r.FormValue("role")))
	if err != nil {
		w.refill(rw, r, "add-member", "username", err, w.committee)
		return
	}
	w.redirect(rw, r, back, flash{Notice: m.Username + " is now a " + string(m.Role) + " of " + m.CommitteeKey + "."})
}

func (w *Web) removeMember(rw http.ResponseWriter, r *http.Request) {
	key := r.PathValue("committee")
	back := "/committees/" + key
	if err := confirmed(r, "remove "+r.PathValue("username")+" from the committee"); err != nil {
		w.fail(rw, r, back, err)
		return
	}
	if err := w.svc.RemoveMember(r.Context(), actor(r), key, r.PathValue("username")); err != nil {
		w.fail(rw, r, back, err)
		return
	}
	w.redirect(rw, r, back, flash{Notice: r.PathValue("username") + " was removed from " + key + "."})
}

func (w *Web) createProject(rw http.ResponseWriter, r *http.Request) {
	key := r.PathValue("committee")
	p, err := w.svc.CreateProject(r.Context(), actor(r), strings.TrimSpace(r.FormValue("key")), key, strings.TrimSpace(r.FormValue("name")))
	if err != nil {
		w.refill(rw, r, "create-project", "key", err, w.committee)
		return
	}
	w.redirect(rw, r, "/projects/"+p.Key, flash{Notice: "Project " + p.Key + " was created."})
}

type projectView struct {
	P        *domain.Project
	Releases []domain.Release
	// Published, Voting and Drafts split Releases (drafts only for the
	// committee's participants).
	Published, Voting, Drafts []domain.Release
	CanStart                  bool
	// Mail says whether this server sends mail (the page says when not).
	Mail core.MailStatus
}

func (w *Web) project(rw http.ResponseWriter, r *http.Request) {
	act := actor(r)
	p, err := w.svc.Project(r.Context(), act, r.PathValue("project"))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	rels, err := w.svc.ListReleases(r.Context(), act, p.Key)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	d := projectView{P: p, Releases: rels, CanStart: w.isMember(r, p.CommitteeID), Mail: w.svc.MailStatus()}
	for i := len(rels) - 1; i >= 0; i-- { // newest first
		switch rels[i].Phase {
		case domain.PhaseReleased:
			d.Published = append(d.Published, rels[i])
		case domain.PhaseDraft:
			d.Drafts = append(d.Drafts, rels[i])
		default:
			d.Voting = append(d.Voting, rels[i])
		}
	}
	w.render(rw, r, http.StatusOK, "project", view{Title: p.Name, D: d})
}

func (w *Web) startRelease(rw http.ResponseWriter, r *http.Request) {
	key := r.PathValue("project")
	rl, err := w.svc.StartReleaseWith(r.Context(), actor(r), key, strings.TrimSpace(r.FormValue("version")), core.StartReleaseOptions{Embargoed: r.FormValue("embargoed") == "yes"})
	if err != nil {
		w.refill(rw, r, "start-release", "version", err, w.project)
		return
	}
	w.redirect(rw, r, releaseURL(rl), flash{Notice: "Release " + rl.Version + " was started as a draft. Upload its files below."})
}

func releaseURL(rl *domain.Release) string {
	return "/projects/" + rl.ProjectKey + "/releases/" + rl.Version
}

// ---- releases

type diffEntry struct {
	Kind          string // added, removed, changed
	Path          string
	Before, After *domain.File
}

type diffView struct {
	R         *domain.Release
	From, To  int
	Entries   []diffEntry
	Unchanged int
}

func (w *Web) diff(rw http.ResponseWriter, r *http.Request) {
	act := actor(r)
	ctx := r.Context()
	from, err1 := strconv.Atoi(r.URL.Query().Get("from"))
	to, err2 := strconv.Atoi(r.URL.Query().Get("to"))
	if err1 != nil || err2 != nil || from < 1 || to < 1 {
		w.pageError(rw, r, domain.Errorf(domain.KindInvalid, "choose two revisions to compare"))
		return
	}
	rl, a, err := w.svc.Revision(ctx, act, r.PathValue("project"), r.PathValue("version"), from)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	_, b, err := w.svc.Revision(ctx, act, rl.ProjectKey, rl.Version, to)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	w.render(rw, r, http.StatusOK, "diff", view{Title: "Differences", D: diffRevisions(rl, a, b)})
}

// diffRevisions lists what changed from revision a to revision b, by path.
func diffRevisions(rl *domain.Release, a, b *domain.Revision) diffView {
	d := diffView{R: rl, From: a.Number, To: b.Number}
	before := map[string]*domain.File{}
	for i := range a.Files {
		before[a.Files[i].Path] = &a.Files[i]
	}
	seen := map[string]bool{}
	for i := range b.Files {
		f := &b.Files[i]
		seen[f.Path] = true
		old, ok := before[f.Path]
		switch {
		case !ok:
			d.Entries = append(d.Entries, diffEntry{Kind: "added", Path: f.Path, After: f})
		case old.SHA256 != f.SHA256:
			d.Entries = append(d.Entries, diffEntry{Kind: "changed", Path: f.Path, Before: old, After: f})
		default:
			d.Unchanged++
		}
	}
	for i := range a.Files {
		if f := &a.Files[i]; !seen[f.Path] {
			d.Entries = append(d.Entries, diffEntry{Kind: "removed", Path: f.Path, Before: f})
		}
	}
	sort.Slice(d.Entries, func(i, j int) bool { return d.Entries[i].Path < d.Entries[j].Path })
	return d
}

// upload streams a multipart form: every file part goes straight into the
// blob store (never whole in memory), then one revision references them
// all. The form's text fields come before the files in the form, so they
// arrive first. The same handler serves the script, which asks for JSON.
func (w *Web) upload(rw http.ResponseWriter, r *http.Request) {
	act := actor(r)
	ctx := r.Context()
	project, version := r.PathValue("project"), r.PathValue("version")
	back := "/projects/" + project + "/releases/" + version
	wantJSON := r.Header.Get("Accept") == "application/json"
	typed := url.Values{}
	failed := func(err error) {
		if wantJSON {
			w.jsonError(rw, r, err)
			return
		}
		if typed.Get("path") != "" { // a file's Replace form
			w.fail(rw, r, back+"#results", err)
			return
		}
		// The page again, with the folder and description as typed (the
		// browser cannot refill the files).
		r.PostForm = typed
		w.refill(rw, r, "upload-form", "files", err, w.release)
	}
	// Authorise before reading the body, and only then lift the server's
	// deadlines for this (possibly long) request.
	up, err := w.svc.PrepareUpload(ctx, act, project, version)
	if err != nil {
		api.DropBody(rw)
		failed(err)
		return
	}
	defer up.Done()
	rc := http.NewResponseController(rw)
	rc.SetReadDeadline(time.Now().Add(6 * time.Hour))
	rc.SetWriteDeadline(time.Now().Add(6 * time.Hour))

	mr, err := r.MultipartReader()
	if err != nil {
		failed(domain.Errorf(domain.KindInvalid, "the upload must be a multipart form"))
		return
	}
	req := core.RevisionRequest{}
	dir := ""
	exact := "" // the path a Replace form puts its one file at
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			failed(domain.Errorf(domain.KindInvalid, "the upload was interrupted: try again"))
			return
		}
		switch part.FormName() {
		case "description", "dir", "expect_revision", "path":
			v, err := io.ReadAll(io.LimitReader(part, 4096))
			if err != nil {
				failed(domain.Errorf(domain.KindInvalid, "the upload was interrupted: try again"))
				return
			}
			s := strings.TrimSpace(string(v))
			typed.Set(part.FormName(), s)
			switch part.FormName() {
			case "description":
				req.Description = s
			case "dir":
				dir = strings.Trim(s, "/")
			case "path":
				exact = s
			case "expect_revision":
				if n, err := strconv.Atoi(s); err == nil && s != "" {
					req.ExpectRevision = &n
				}
			}
		case "files":
			if part.FileName() == "" {
				continue // the browser sends an empty part when no file is chosen
			}
			// Browsers send a base name; old ones sent a Windows path.
			name := path.Base(strings.ReplaceAll(part.FileName(), "\\", "/"))
			if len(req.Changes) >= domain.MaxFilesPerRev {
				failed(domain.Errorf(domain.KindInvalid, "too many files in one upload (at most %d)", domain.MaxFilesPerRev))
				return
			}
			p := name
			if dir != "" {
				p = dir + "/" + name
			}
			if exact != "" {
				if len(req.Changes) > 0 {
					failed(domain.Errorf(domain.KindInvalid, "replace one file at a time"))
					return
				}
				p = exact
			}
			p = norm.NFC.String(p) // macOS browsers send decomposed names
			if err := domain.ValidateNewPath(p); err != nil {
				failed(err)
				return
			}
			b, err := up.Put(ctx, part, -1)
			if err != nil {
				failed(err)
				return
			}
			req.Changes = append(req.Changes, core.Change{Op: "put", Path: p, SHA256: b.SHA256})
		default:
			io.Copy(io.Discard, io.LimitReader(part, 1<<20))
		}
	}
	if len(req.Changes) == 0 {
		failed(domain.Errorf(domain.KindInvalid, "choose at least one file to upload"))
		return
	}
	if req.Description == "" {
		req.Description = "Uploaded " + strconv.Itoa(len(req.Changes)) + " file(s) in the browser"
		if exact != "" {
			req.Description = "Replaced " + exact + " in the browser"
		}
	}
	res, err := w.svc.CreateRevision(ctx, act, project, version, req)
	if err != nil {
		failed(err)
		return
	}
	msg := "The files were identical to the current ones: no new revision."
	if res.Created {
		msg = "Revision " + strconv.Itoa(res.Revision.Number) + " was created with " + strconv.Itoa(len(req.Changes)) + " uploaded file(s)."
	}
	w.setFlash(rw, flash{Notice: msg})
	if wantJSON {
		writeJSON(rw, http.StatusOK, map[string]string{"redirect": back})
		return
	}
	http.Redirect(rw, r, back, http.StatusSeeOther)
}

// openRevisionFile opens the file the path names ({project}, {version},
// {number}, {path}); on failure it has answered with the error page.
func (w *Web) openRevisionFile(rw http.ResponseWriter, r *http.Request) (number int, f *domain.File, rc io.ReadSeekCloser, ok bool) {
	number, err := strconv.Atoi(r.PathValue("number"))
	if err != nil || number < 1 {
		w.pageError(rw, r, domain.Errorf(domain.KindNotFound, "no such revision"))
		return 0, nil, nil, false
	}
	f, rc, err = w.svc.OpenFile(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), number, r.PathValue("path"))
	if err != nil {
		w.pageError(rw, r, err)
		return 0, nil, nil, false
	}
	return number, f, rc, true
}

// download serves a file as an attachment with a neutral type: uploaded
// content must never run as a page of this site.
func (w *Web) download(rw http.ResponseWriter, r *http.Request) {
	_, f, rc, ok := w.openRevisionFile(rw, r)
	if !ok {
		return
	}
	defer rc.Close()
	h := rw.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(f.Path)}))
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("X-Checksum-SHA256", f.SHA256)
	http.ServeContent(rw, r, "", time.Time{}, rc)
}

// ---- administration

type adminView struct {
	Users       []domain.User
	Committees  []domain.Committee
	Projects    map[string][]domain.Project
	Audit       []domain.AuditEvent
	Enrollments any
	Link        string
	LinkUser    string
	LinkExpires time.Time
	// LinkPasskeys is how many passkeys LinkUser already had: a
	// re-enrollment is never silent.
	LinkPasskeys int
	// The audit log page: filters, and links to newer and older events.
	Filter store.AuditFilter
	Pager  pager
}

func (w *Web) admin(rw http.ResponseWriter, r *http.Request) {
	w.renderAdmin(rw, r, "", "", "", time.Time{}, 0)
}

func (w *Web) renderAdmin(rw http.ResponseWriter, r *http.Request, notice, link, linkUser string, exp time.Time, linkPasskeys int) {
	act := actor(r)
	ctx := r.Context()
	users, err := w.svc.ListUsers(ctx, act)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	d := adminView{Users: users, Link: link, LinkUser: linkUser, LinkExpires: exp, LinkPasskeys: linkPasskeys, Projects: map[string][]domain.Project{}}
	if d.Committees, err = w.svc.ListCommittees(ctx, act); err != nil {
		w.pageError(rw, r, err)
		return
	}
	projects, err := w.svc.ListProjects(ctx, act, "")
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	for _, p := range projects {
		d.Projects[p.CommitteeKey] = append(d.Projects[p.CommitteeKey], p)
	}
	q := r.URL.Query()
	d.Filter = store.AuditFilter{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")), Target: strings.TrimSpace(q.Get("target"))}
	offset, _ := strconv.Atoi(q.Get("offset"))
	offset = max(offset, 0)
	var more bool
	if d.Audit, more, err = w.svc.AuditPage(ctx, act, d.Filter, offset, auditPageSize); err != nil {
		w.pageError(rw, r, err)
		return
	}
	keep := url.Values{}
	for k, v := range map[string]string{"actor": d.Filter.Actor, "action": d.Filter.Action, "target": d.Filter.Target} {
		if v != "" {
			keep.Set(k, v)
		}
	}
	d.Pager = newPager("/admin", keep, offset, len(d.Audit), more)
	d.Pager.Prev, d.Pager.Next = withFragment(d.Pager.Prev), withFragment(d.Pager.Next)
	if d.Enrollments, err = w.auth.OpenEnrollments(ctx, act); err != nil {
		w.pageError(rw, r, err)
		return
	}
	w.render(rw, r, http.StatusOK, "admin", view{Title: "Administration", Flash: notice, D: d})
}

// auditPageSize is how many audit events the administration page shows.
const auditPageSize = 50

func withFragment(link string) string {
	if link == "" {
		return ""
	}
	return link + "#audit"
}

func (w *Web) adminCreateUser(rw http.ResponseWriter, r *http.Request) {
	act := actor(r)
	u, err := w.svc.CreateUser(r.Context(), act, core.NewUser{
		Username: strings.TrimSpace(r.FormValue("username")), Email: strings.TrimSpace(r.FormValue("email")),
		Name: strings.TrimSpace(r.FormValue("name")), Admin: r.FormValue("admin") == "1"})
	if err != nil {
		w.refill(rw, r, "new-user", fieldByWord(err, "username", "email", "name"), err, w.admin)
		return
	}
	w.enrollAndShow(rw, r, u.Username, "User "+u.Username+" was created.")
}

func (w *Web) adminEnroll(rw http.ResponseWriter, r *http.Request) {
	w.enrollAndShow(rw, r, r.PathValue("username"), "")
}

// enrollAndShow creates an enrollment link and shows it once, in the
// response to the POST (never in a redirect URL).
func (w *Web) enrollAndShow(rw http.ResponseWriter, r *http.Request, username, notice string) {
	keys, err := w.svc.UserPasskeys(r.Context(), actor(r), username)
	if err != nil {
		w.fail(rw, r, "/admin", err)
		return
	}
	link, exp, err := w.auth.CreateEnrollment(r.Context(), actor(r), username)
	if err != nil {
		w.fail(rw, r, "/admin", err)
		return
	}
	w.renderAdmin(rw, r, notice, link, username, exp, len(keys))
}

func (w *Web) adminCreateCommittee(rw http.ResponseWriter, r *http.Request) {
	c, err := w.svc.CreateCommittee(r.Context(), actor(r), strings.TrimSpace(r.FormValue("key")), strings.TrimSpace(r.FormValue("name")))
	if err != nil {
		w.refill(rw, r, "new-committee", fieldByWord(err, "key", "name"), err, w.admin)
		return
	}
	w.redirect(rw, r, "/admin", flash{Notice: "Committee " + c.Key + " was created."})
}

func (w *Web) adminCreateProject(rw http.ResponseWriter, r *http.Request) {
	p, err := w.svc.CreateProject(r.Context(), actor(r), strings.TrimSpace(r.FormValue("key")), r.FormValue("committee"), strings.TrimSpace(r.FormValue("name")))
	if err != nil {
		w.refill(rw, r, "new-project", fieldByWord(err, "committee", "key", "name"), err, w.admin)
		return
	}
	w.redirect(rw, r, "/admin", flash{Notice: "Project " + p.Key + " was created in " + p.CommitteeKey + "."})
}

func (w *Web) adminAddMember(rw http.ResponseWriter, r *http.Request) {
	m, err := w.svc.AddMember(r.Context(), actor(r), r.FormValue("committee"), strings.TrimSpace(r.FormValue("username")), domain.Role(r.FormValue("role")))
	if err != nil {
		w.refill(rw, r, "new-member", fieldByWord(err, "committee", "role", "username"), err, w.admin)
		return
	}
	w.redirect(rw, r, "/admin", flash{Notice: m.Username + " is now a " + string(m.Role) + " of " + m.CommitteeKey + "."})
}

// fieldByWord guesses the field an error is about from the first field
// name its message mentions (its own field, when it names one, wins),
// else the last candidate.
func fieldByWord(err error, fields ...string) string {
	if f := domain.FieldOf(err); f != "" {
		return f
	}
	msg := strings.ToLower(domain.PublicMessage(err))
	for _, f := range fields {
		word := f
		switch f {
		case "email":
			word = "e-mail"
		case "username":
			word = "user"
		}
		if strings.Contains(msg, word) {
			return f
		}
	}
	return fields[len(fields)-1]
}
