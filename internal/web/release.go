package web

import (
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"trel/internal/checks/rules"
	"trel/internal/core"
	"trel/internal/domain"
)

// The working page of a release, for the committee: a checklist in the
// order of the work (upload, checks, signatures, vote, publish), the files
// and check results grouped per artifact with the fixes, and the actions
// of the current step.

type workView struct {
	R         *domain.Release
	Rev       *domain.Revision // the revision shown
	Old       bool             // Rev is not the latest: nothing can be done from it
	Revisions []domain.Revision
	DiffFrom  int
	DiffTo    int

	Run       string // the checks of Rev: queued, running, done ("" before any)
	Running   bool
	Groups    []artifactGroup
	Whole     []resultRow // results about the whole release
	Ready     int         // artifacts that meet the policy
	Total     int         // artifacts
	Problems  int         // blockers, exceptions and concerns waiting for an acknowledgement
	Summary   string      // "3 of 6 artifacts ready; 4 problems"
	Steps     []step
	NextStep  string
	Vote      *domain.Tally
	VoteBlock string // why the vote cannot start, "" when it can
	Managers  []string
	Earlier   []core.VoteRecord       // vote rounds before the one shown, newest first
	Workflows []domain.WorkflowAction // what CI workflow runs did
	After     *afterlifeView          // mail, yank and archive

	CanUpload  bool // participant, draft, latest revision
	CanManage  bool // committee member: managers, abandon
	IsRM       bool // release manager (or administrator)
	CanAbandon bool
	// Sessions are the signed-in user's resumable uploads to this draft.
	Sessions  []domain.UploadSession
	SignURL   string
	PolicyURL string
	PublicURL string // the public page (candidates and later)
}

// artifactGroup is one artifact with its signatures and checksums, or the
// other files of the release (Path "").
type artifactGroup struct {
	Path     string
	ID       string
	Files    []fileRow
	Results  []resultRow
	Ready    bool
	Problems int
}

type fileRow struct {
	domain.File
	ID       string
	URL      string // download
	ViewURL  string // inline view of small text files, "" otherwise
	Artifact bool
}

type resultRow struct {
	domain.CheckResult
	Problem  bool
	NeedsAck bool
	Fixes    []fixLink
}

type fixLink struct{ Text, URL string }

// maxInlineView is the largest file shown inline.
const maxInlineView = 256 << 10

// inlineSuffixes are the text files the page shows inline.
var inlineSuffixes = []string{".asc", ".sha256", ".sha512", ".sha1", ".json", ".txt", ".md"}

func (w *Web) release(rw http.ResponseWriter, r *http.Request) {
	act := actor(r)
	ctx := r.Context()
	number, _ := strconv.Atoi(r.URL.Query().Get("rev"))
	rl, rev, err := w.svc.Revision(ctx, act, r.PathValue("project"), r.PathValue("version"), number)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	revs, err := w.svc.ListRevisions(ctx, act, rl.ProjectKey, rl.Version)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i].Number > revs[j].Number })
	base := releaseURL(rl)
	d := workView{R: rl, Rev: rev, Revisions: revs, Old: rev.Number > 0 && rev.Number < rl.LatestRevision,
		SignURL: base + "/sign", PolicyURL: "/projects/" + rl.ProjectKey + "/policy"}
	if rl.Phase != domain.PhaseDraft {
		d.PublicURL = base + "?view=public"
	}
	if len(revs) > 1 {
		d.DiffTo, d.DiffFrom = revs[0].Number, revs[1].Number
	}
	if d.Managers, err = w.svc.ReleaseManagers(ctx, act, rl.ProjectKey, rl.Version); err != nil {
		w.pageError(rw, r, err)
		return
	}
	admin, role := w.roleIn(r, rl.CommitteeID)
	// Committee members manage the release managers, also of a published
	// release (who may yank or archive it).
	d.CanManage = admin || role == domain.RoleMember
	d.IsRM = admin || slices.Contains(d.Managers, act.User.Username)
	d.CanUpload = rl.Phase == domain.PhaseDraft && !d.Old
	d.CanAbandon = rl.Phase == domain.PhaseDraft && (admin || role == domain.RoleMember)
	if d.CanUpload {
		// Only an uploader has sessions; for anyone else the list is empty.
		d.Sessions, _ = w.svc.UploadSessions(ctx, act, rl.ProjectKey, rl.Version)
	}
	if t, err := w.svc.Tally(ctx, act, rl.ProjectKey, rl.Version); err == nil {
		d.Vote = t
	}
	if hist, err := w.svc.VoteHistory(ctx, act, rl.ProjectKey, rl.Version); err == nil && len(hist) > 1 {
		d.Earlier = hist[1:]
	}
	if d.Workflows, err = w.svc.WorkflowActions(ctx, act, rl.ProjectKey, rl.Version); err != nil {
		w.pageError(rw, r, err)
		return
	}
	d.After = w.afterlife(r, rl)
	pol, err := w.svc.Policy(ctx, act, rl.ProjectKey)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	w.fillChecks(r, &d, pol)
	d.Steps, d.NextStep = workSteps(&d)
	v := view{Title: rl.ProjectKey + " " + rl.Version, Scripts: []string{"upload.js"}, D: d}
	if d.Running {
		v.Refresh = 3
	}
	w.render(rw, r, http.StatusOK, "release", v)
}

// fillChecks groups the shown revision's files and check results per
// artifact and counts what is ready and what is wrong.
func (w *Web) fillChecks(r *http.Request, d *workView, pol *domain.Policy) {
	rl, rev := d.R, d.Rev
	if rev.Number == 0 {
		return
	}
	groups := map[string]*artifactGroup{}
	other := &artifactGroup{ID: "other-files"}
	have := map[string]bool{}
	for _, f := range rev.Files {
		have[f.Path] = true
	}
	groupOf := func(p string) *artifactGroup {
		if g, ok := groups[p]; ok {
			return g
		}
		if a, _, ok := rules.ArtifactOf(p); ok && groups[a] != nil {
			return groups[a]
		}
		return other
	}
	for _, f := range rev.Files {
		if rules.NeedsSignature(f.Path, pol.Unsigned) {
			groups[f.Path] = &artifactGroup{Path: f.Path, ID: "artifact-" + strconv.Itoa(len(groups)+1)}
		}
	}
	base := releaseURL(rl) + "/revisions/" + strconv.Itoa(rev.Number)
	for i, f := range rev.Files {
		fr := fileRow{File: f, ID: "file-" + strconv.Itoa(i+1), URL: base + "/files/" + f.Path, Artifact: groups[f.Path] != nil}
		if f.Size <= maxInlineView && slices.ContainsFunc(inlineSuffixes, func(s string) bool { return strings.HasSuffix(strings.ToLower(f.Path), s) }) {
			fr.ViewURL = base + "/view/" + f.Path
		}
		g := groupOf(f.Path)
		g.Files = append(g.Files, fr)
	}
	rep, err := w.svc.Checks(r.Context(), actor(r), rl.ProjectKey, rl.Version, rev.Number)
	if err != nil {
		w.log.WarnContext(r.Context(), "loading check results", "release", rl.ProjectKey+"/"+rl.Version, "err", err)
	} else {
		if rep.Run != nil {
			d.Run = rep.Run.State
		}
		d.Running = !rep.Finished
		for _, res := range rep.Results {
			row := resultRow{CheckResult: res}
			switch {
			case res.Ignored != "":
			case res.Status == domain.StatusBlocker || res.Status == domain.StatusException:
				row.Problem = true
			case res.Status == domain.StatusConcern && res.Ack == nil:
				row.Problem, row.NeedsAck = true, true
			}
			row.Fixes = w.fixes(d, res)
			if row.Problem {
				d.Problems++
			}
			if res.Path == "" {
				d.Whole = append(d.Whole, row)
				continue
			}
			g := groupOf(res.Path)
			g.Results = append(g.Results, row)
			if row.Problem {
				g.Problems++
			}
			if res.Checker == "policy" && res.Status == domain.StatusNote && groups[res.Path] != nil {
				groups[res.Path].Ready = true
			}
		}
	}
	for _, g := range groups {
		d.Total++
		if g.Ready {
			d.Ready++
		}
	}
	var keys []string
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g := groups[k]
		sortResults(g.Results)
		d.Groups = append(d.Groups, *g)
	}
	if len(other.Files) > 0 || len(other.Results) > 0 {
		sortResults(other.Results)
		d.Groups = append(d.Groups, *other)
	}
	sortResults(d.Whole)
	switch {
	case d.Running:
		d.Summary = fmt.Sprintf("%d %s; the checks are %s…", len(rev.Files), plural(len(rev.Files), "file", "files"), orWord(d.Run, "queued"))
	default:
		d.Summary = fmt.Sprintf("%d of %d %s ready; %d %s", d.Ready, d.Total, plural(d.Total, "artifact", "artifacts"), d.Problems, plural(d.Problems, "problem", "problems"))
	}
}

// sortResults puts the worst results first, then by path.
func sortResults(rs []resultRow) {
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Problem != rs[j].Problem {
			return rs[i].Problem
		}
		if a, b := rs[i].Status.Severity(), rs[j].Status.Severity(); a != b {
			return a > b
		}
		return rs[i].Path < rs[j].Path
	})
}

// fixes are the pages where a result is dealt with.
func (w *Web) fixes(d *workView, res domain.CheckResult) []fixLink {
	if res.Status == domain.StatusNote || res.Status == domain.StatusSuggestion || res.Ignored != "" || (res.Ack != nil && res.Status == domain.StatusConcern) {
		return nil
	}
	msg := strings.ToLower(res.Message)
	upload := fixLink{"Upload the missing file", "#upload"}
	var out []fixLink
	switch res.Checker {
	case "signature":
		switch {
		case strings.Contains(msg, "proven") || strings.Contains(msg, "challenge"):
			out = append(out, fixLink{"Prove you hold the key", "/keys#your-keys"})
		case strings.Contains(msg, "not linked") || strings.Contains(msg, "not in") || strings.Contains(msg, "unknown key") || strings.Contains(msg, "no key"):
			out = append(out, fixLink{"Add the signing key", "/keys#add"})
		default:
			out = append(out, fixLink{"Your keys", "/keys"})
		}
	case "sigstore":
		out = append(out, fixLink{"Trusted Sigstore signers", "/projects/" + d.R.ProjectKey + "/identities"})
	case "policy", "paths":
		if strings.Contains(msg, "signature") {
			out = append(out, fixLink{"Sign with a key held by trel", d.SignURL}, fixLink{"Upload a signature", "#upload"})
		} else if strings.Contains(msg, "checksum") {
			out = append(out, upload)
		}
		if strings.Contains(msg, "unsigned") || strings.Contains(msg, "policy") {
			out = append(out, fixLink{"Release policy", d.PolicyURL})
		}
	case "checksum":
		out = append(out, fixLink{"Replace the checksum file", "#upload"})
	case "archive", "license", "headers", "third-party", "source":
		out = append(out, fixLink{"Archive and licence policy", d.PolicyURL + "#archive"})
	}
	if res.Status == domain.StatusException {
		out = append(out, fixLink{"Run the checks again", "#results"})
	}
	return out
}

// workSteps is the checklist of the release and the id of its next step.
func workSteps(d *workView) ([]step, string) {
	rl := d.R
	files := 0
	if d.Rev != nil {
		files = len(d.Rev.Files)
	}
	phaseAtLeast := func(p domain.Phase) bool {
		order := map[domain.Phase]int{domain.PhaseDraft: 0, domain.PhaseCandidate: 1, domain.PhasePreview: 2, domain.PhaseReleased: 3}
		return order[rl.Phase] >= order[p]
	}
	type s struct {
		step
		done, problem bool
	}
	steps := []s{
		{step: step{Title: "Upload the files", Link: "#upload", LinkText: "Upload", Detail: fmt.Sprintf("%d %s, %d %s", files, plural(files, "file", "files"), d.Total, plural(d.Total, "artifact", "artifacts"))},
			done: files > 0 || phaseAtLeast(domain.PhaseCandidate)},
	}
	chk := s{step: step{Title: "Checks", Link: "#results", LinkText: "See the results"}}
	switch {
	case files == 0:
		chk.StateText = "after the upload"
	case d.Running:
		chk.StateText = "running…"
	case d.Problems > 0:
		chk.problem, chk.StateText = true, fmt.Sprintf("%d %s", d.Problems, plural(d.Problems, "problem", "problems"))
	default:
		chk.done, chk.StateText = true, "no problem"
	}
	steps = append(steps, chk)
	sig := s{step: step{Title: "Signatures and checksums", Link: d.SignURL, LinkText: "Sign with a key held by trel",
		Detail: fmt.Sprintf("%d of %d %s meet the policy", d.Ready, d.Total, plural(d.Total, "artifact", "artifacts"))}}
	switch {
	case phaseAtLeast(domain.PhaseCandidate):
		sig.done = true
	case d.Total == 0:
		sig.StateText = "no artifact yet"
	case d.Running:
		sig.StateText = "waiting for the checks"
	case d.Ready == d.Total:
		sig.done = true
	default:
		sig.problem, sig.StateText = true, fmt.Sprintf("%d %s lack what the policy requires", d.Total-d.Ready, plural(d.Total-d.Ready, "artifact", "artifacts"))
	}
	steps = append(steps, sig)
	vote := s{step: step{Title: "Vote", Link: "#vote", LinkText: "Vote"}}
	switch rl.Phase {
	case domain.PhaseDraft:
		vote.StateText = "not started"
		if d.VoteBlock == "" {
			d.VoteBlock = voteBlock(d)
		}
		vote.Detail = d.VoteBlock
		vote.LinkText = "Start the vote"
	case domain.PhaseCandidate:
		vote.StateText = "open"
		if t := d.Vote; t != nil {
			if t.Passing {
				vote.StateText = "passing"
			} else {
				vote.StateText = "open: " + t.Missing
			}
			if !t.MayClose {
				vote.Detail = "may be resolved from " + t.ClosesAt.UTC().Format("2006-01-02 15:04 UTC")
			}
		}
	default:
		vote.done, vote.StateText = true, "passed"
	}
	steps = append(steps, vote)
	pub := s{step: step{Title: "Publish", Link: "#vote", LinkText: "Publish"}}
	switch rl.Phase {
	case domain.PhaseReleased:
		pub.done, pub.Link, pub.LinkText = true, d.PublicURL, "Public page"
	case domain.PhasePreview:
		pub.StateText = "ready"
	}
	steps = append(steps, pub)

	var out []step
	next := ""
	for i, st := range steps {
		switch {
		case st.done:
			st.State = "done"
			if st.StateText == "" {
				st.StateText = "done"
			}
		case next == "":
			next = st.Title
			st.State = "current"
			if st.problem {
				st.State = "blocked"
			}
		default:
			st.State = "todo"
		}
		_ = i
		out = append(out, st.step)
	}
	return out, next
}

// voteBlock says why the vote cannot start yet, or "".
func voteBlock(d *workView) string {
	switch {
	case d.Rev == nil || len(d.Rev.Files) == 0:
		return "Upload the release's files first."
	case d.Running:
		return "The checks are still running."
	case d.Total == 0:
		return "The release has no artifact: upload the files to release with their signatures and checksums."
	case d.Problems > 0:
		return fmt.Sprintf("%d %s must be fixed or acknowledged first.", d.Problems, plural(d.Problems, "problem", "problems"))
	case d.Ready == 0:
		return "No artifact meets the policy yet."
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func orWord(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ---- viewing a small text file inline

type fileView struct {
	R       *domain.Release
	Rev     int
	File    *domain.File
	Text    string
	Binary  bool
	TooLong bool
	URL     string
}

// viewFile shows a small text file of a revision inside the page, escaped
// like every value; anything that is not UTF-8 text is offered as a
// download instead.
func (w *Web) viewFile(rw http.ResponseWriter, r *http.Request) {
	number, f, rc, ok := w.openRevisionFile(rw, r)
	if !ok {
		return
	}
	defer rc.Close()
	rl, err := w.svc.Release(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	d := fileView{R: rl, Rev: number, File: f, URL: releaseURL(rl) + "/revisions/" + strconv.Itoa(number) + "/files/" + f.Path}
	if f.Size > maxInlineView {
		d.TooLong = true
	} else {
		buf := make([]byte, f.Size)
		if _, err := ioReadFull(rc, buf); err != nil {
			w.pageError(rw, r, domain.Internal("reading a file", err))
			return
		}
		if text, ok := printableText(buf); ok {
			d.Text = text
		} else {
			d.Binary = true
		}
	}
	w.render(rw, r, http.StatusOK, "file", view{Title: path.Base(f.Path), D: d})
}

func ioReadFull(r io.Reader, buf []byte) (int, error) { return io.ReadFull(r, buf) }

// printableText returns the file as text when it is UTF-8 without control
// characters (but tab, newline and carriage return), with invisible format
// and bidi controls shown as \uXXXX escapes so that they cannot reorder
// what is shown.
func printableText(b []byte) (string, bool) {
	if !utf8.Valid(b) {
		return "", false
	}
	var sb strings.Builder
	for _, c := range string(b) {
		switch {
		case c == '\n' || c == '\t' || c == '\r':
			sb.WriteRune(c)
		case unicode.IsControl(c):
			return "", false
		case domain.IsFormatChar(c):
			fmt.Fprintf(&sb, "\\u%04x", c)
		default:
			sb.WriteRune(c)
		}
	}
	return sb.String(), true
}

// ---- changing the files of a draft: each change is one new revision,
// refused when someone else changed the release since the page was shown.

func (w *Web) releaseFileRoutes(mux *http.ServeMux) {
	rel := "/projects/{project}/releases/{version}"
	mux.HandleFunc("GET "+rel+"/revisions/{number}/view/{path...}", w.requireUser(w.viewFile))
	mux.HandleFunc("POST "+rel+"/files/remove", w.requireUser(w.removeFile))
	mux.HandleFunc("POST "+rel+"/files/move", w.requireUser(w.moveFile))
	mux.HandleFunc("POST "+rel+"/revisions/{number}/restore", w.requireUser(w.restoreRevision))
	mux.HandleFunc("POST "+rel+"/abandon", w.requireUser(w.abandon))
	mux.HandleFunc("POST "+rel+"/upload-sessions/{id}/abort", w.requireUser(w.abortUploadSession))
}

// abortUploadSession aborts one of the user's resumable uploads.
func (w *Web) abortUploadSession(rw http.ResponseWriter, r *http.Request) {
	path := r.FormValue("path")
	if err := confirmed(r, "abort the upload of "+path); err != nil {
		w.fail(rw, r, relBack(r)+"#resumable", err)
		return
	}
	if err := w.svc.AbortUploadSession(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), r.PathValue("id")); err != nil {
		w.fail(rw, r, relBack(r)+"#resumable", err)
		return
	}
	w.redirect(rw, r, relBack(r)+"#upload", flash{Notice: "The upload of " + path + " was aborted; what it sent is deleted."})
}

// expected reads the expect_revision field of a form.
func expected(r *http.Request) *int {
	n, err := strconv.Atoi(r.FormValue("expect_revision"))
	if err != nil {
		return nil
	}
	return &n
}

// change makes one revision of a single change and says so.
func (w *Web) change(rw http.ResponseWriter, r *http.Request, c core.Change, done string) {
	res, err := w.svc.CreateRevision(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"),
		core.RevisionRequest{ExpectRevision: expected(r), Description: done + " in the browser", Changes: []core.Change{c}})
	if err != nil {
		w.fail(rw, r, relBack(r)+"#results", err)
		return
	}
	w.redirect(rw, r, relBack(r)+"#results", flash{Notice: fmt.Sprintf("%s: revision %d.", done, res.Revision.Number)})
}

func (w *Web) removeFile(rw http.ResponseWriter, r *http.Request) {
	p := r.FormValue("path")
	if err := confirmed(r, "remove "+p); err != nil {
		w.fail(rw, r, relBack(r), err)
		return
	}
	w.change(rw, r, core.Change{Op: "delete", Path: p}, "Removed "+p)
}

func (w *Web) moveFile(rw http.ResponseWriter, r *http.Request) {
	from, to := r.FormValue("from"), strings.Trim(strings.TrimSpace(r.FormValue("to")), "/")
	if from == to {
		w.fail(rw, r, relBack(r), domain.Errorf(domain.KindInvalid, "give %s a new path to rename or move it", from))
		return
	}
	w.change(rw, r, core.Change{Op: "move", From: from, To: norm.NFC.String(to)}, "Moved "+from+" to "+to)
}

func (w *Web) restoreRevision(rw http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("number"))
	if err := confirmed(r, fmt.Sprintf("restore revision %d", n)); err != nil {
		w.fail(rw, r, relBack(r), err)
		return
	}
	res, err := w.svc.RestoreRevision(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), n, expected(r))
	if err != nil {
		w.fail(rw, r, relBack(r), err)
		return
	}
	w.redirect(rw, r, relBack(r), flash{Notice: fmt.Sprintf("Revision %d holds the files of revision %d.", res.Revision.Number, n)})
}

func (w *Web) abandon(rw http.ResponseWriter, r *http.Request) {
	project, version := r.PathValue("project"), r.PathValue("version")
	if err := confirmed(r, "abandon the draft"); err != nil {
		w.fail(rw, r, relBack(r)+"#abandon", err)
		return
	}
	if err := w.svc.AbandonRelease(r.Context(), actor(r), project, version, r.FormValue("reason")); err != nil {
		w.fail(rw, r, relBack(r)+"#abandon", err)
		return
	}
	w.redirect(rw, r, "/projects/"+project, flash{Notice: "The draft " + project + " " + version + " is deleted."})
}

// ---- the account: passkey names and the user's own sessions

func (w *Web) accountRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /account/passkeys/{id}/rename", w.requireUser(w.renamePasskey))
	mux.HandleFunc("POST /account/sessions/{id}/end", w.requireUser(w.endMySession))
}

func (w *Web) renamePasskey(rw http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err := w.svc.RenamePasskey(r.Context(), actor(r), id, r.FormValue("name")); err != nil {
		w.refill(rw, r, "rename-"+r.PathValue("id"), "name", err, w.account)
		return
	}
	w.redirect(rw, r, "/account", flash{Notice: "The passkey is now called " + strings.TrimSpace(r.FormValue("name")) + "."})
}

func (w *Web) endMySession(rw http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err := w.svc.EndMySession(r.Context(), actor(r), id); err != nil {
		w.fail(rw, r, "/account#sessions", err)
		return
	}
	w.redirect(rw, r, "/account#sessions", flash{Notice: "That browser is signed out."})
}
