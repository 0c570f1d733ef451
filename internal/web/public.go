package web

import (
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/downloads"
)

// Pages for downloaders: the public page of a candidate or released
// release, and the public releases of a committee, a project or the whole
// site. None needs a sign-in.

// releasePage serves /projects/P/releases/V: the working page (the
// checklist) for the committee's participants, the public page for
// everyone else and for ?view=public.
func (w *Web) releasePage(rw http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("view") != "public" && actor(r).User != nil {
		p, err := w.svc.Project(r.Context(), actor(r), r.PathValue("project"))
		if err == nil && w.isParticipant(r, p.CommitteeID) {
			w.release(rw, r)
			return
		}
	}
	w.publicRelease(rw, r)
}

type publicView struct {
	S        *core.ReleaseSummary
	P        *domain.Project
	Base     string // absolute URL of the release's files (downloads or archive tree)
	KEYS     string // absolute URL of the committee's KEYS
	Manifest string // absolute URL of the manifest (published releases)
	Origin   string // the server's public URL
	Example  *pubFile
	Arts     []pubFile // the artifacts, with their signers
	Others   []pubFile // signatures, checksums, bundles, SBOMs, files allowed unsigned
	Cmd      verifyCommands
	CanWork  bool // the viewer is a participant: link to the working page
}

type pubFile struct {
	core.SummaryFile
	URL string
}

func (w *Web) publicRelease(rw http.ResponseWriter, r *http.Request) {
	act := actor(r)
	sum, err := w.svc.Summary(r.Context(), act, r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	p, err := w.svc.Project(r.Context(), act, sum.Release.ProjectKey)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	rl := sum.Release
	origin := w.auth.Origin()
	d := publicView{S: sum, P: p, Origin: origin, KEYS: origin + "/downloads/" + rl.CommitteeKey + "/KEYS",
		CanWork: w.isParticipant(r, rl.CommitteeID)}
	if rl.Phase == domain.PhaseReleased {
		d.Base = origin + rl.FilesPath() // /downloads/... or, once archived, /archive/...
		d.Manifest = d.Base + downloads.ManifestName
	}
	for _, f := range sum.Files {
		pf := pubFile{SummaryFile: f, URL: fileURL(d, f.Path)}
		if f.Artifact {
			d.Arts = append(d.Arts, pf)
		} else {
			d.Others = append(d.Others, pf)
		}
	}
	// The example of the verify block: the first artifact with an OpenPGP
	// signature, or else the first artifact.
	for i := range d.Arts {
		if d.Example == nil {
			d.Example = &d.Arts[i]
		}
		if hasKind(d.Arts[i].Signers, "openpgp") {
			d.Example = &d.Arts[i]
			break
		}
	}
	d.Cmd = commandsFor(d)
	w.render(rw, r, http.StatusOK, "public_release", view{Title: p.Name + " " + rl.Version, D: d})
}

func hasKind(ss []core.Signer, kind string) bool {
	for _, s := range ss {
		if s.Kind == kind {
			return true
		}
	}
	return false
}

// fileURL is a file's URL: in the downloads tree once published, else the
// public file route of the candidate's voted revision.
func fileURL(d publicView, p string) string {
	if d.Base != "" {
		return d.Base + p
	}
	rl := d.S.Release
	return d.Origin + "/projects/" + rl.ProjectKey + "/releases/" + rl.Version + "/files/" + p
}

// verifyCommands are the commands of the "verify it yourself" block for one
// artifact, as a downloader types them in an empty directory.
type verifyCommands struct {
	Fetch, Trel, GPG, Sha string
}

func commandsFor(d publicView) verifyCommands {
	if d.Example == nil {
		return verifyCommands{}
	}
	name := path.Base(d.Example.Path)
	have := map[string]bool{}
	for _, f := range d.S.Files {
		have[f.Path] = true
	}
	var fetch []string
	fetch = append(fetch, "curl -fLO "+shellQuote(fileURL(d, d.Example.Path)))
	for _, suffix := range []string{".asc", ".sha512", ".sha256", ".sigstore.json"} {
		if have[d.Example.Path+suffix] {
			fetch = append(fetch, "curl -fLO "+shellQuote(fileURL(d, d.Example.Path+suffix)))
		}
	}
	fetch = append(fetch, "curl -fL -o KEYS "+shellQuote(d.KEYS))
	c := verifyCommands{Fetch: strings.Join(fetch, "\n"), Trel: "trel verify " + shellQuote(name) + " --keys KEYS"}
	if have[d.Example.Path+".asc"] {
		c.GPG = "gpg --import KEYS\ngpg --verify " + shellQuote(name+".asc") + " " + shellQuote(name)
	}
	if have[d.Example.Path+".sha512"] {
		c.Sha = "sha512sum -c " + shellQuote(name+".sha512")
	}
	for _, s := range d.Example.Signers {
		if s.Kind == "sigstore" && s.Identity != "" && s.Issuer != "" {
			c.Trel += " \\\n    --certificate-identity " + shellQuote(s.Identity) + " --certificate-oidc-issuer " + shellQuote(s.Issuer)
			break
		}
	}
	return c
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe
// characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,/:=@+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// publicFile serves a file of a candidate's voted revision (or of a
// release whose vote passed) to anyone, as the downloads tree serves the
// published ones; drafts stay private (the core refuses them).
func (w *Web) publicFile(rw http.ResponseWriter, r *http.Request) {
	sum, err := w.svc.Summary(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	f, rc, err := w.svc.OpenFile(r.Context(), actor(r), sum.Release.ProjectKey, sum.Release.Version, sum.Revision, r.PathValue("path"))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	defer rc.Close()
	ctype, inline := downloads.ContentType(f.Path)
	h := rw.Header()
	h.Set("Content-Type", ctype)
	if !inline {
		h.Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(path.Base(f.Path)))
	}
	h.Set("Content-Security-Policy", downloads.FileCSP)
	h.Set("X-Checksum-SHA256", f.SHA256)
	http.ServeContent(rw, r, "", sum.Release.CreatedAt, rc)
}

// ---- lists of public releases

type releaseList struct {
	Published, Voting []domain.Release
}

// publicReleases splits the public releases of a committee ("" for all)
// into published ones and those under or after a vote.
func (w *Web) publicReleases(r *http.Request, committee string, limit int) (releaseList, error) {
	rels, err := w.svc.PublicReleases(r.Context(), actor(r), committee, "", limit)
	if err != nil {
		return releaseList{}, err
	}
	var l releaseList
	for _, rl := range rels {
		if rl.Phase == domain.PhaseReleased {
			l.Published = append(l.Published, rl)
		} else {
			l.Voting = append(l.Voting, rl)
		}
	}
	sort.SliceStable(l.Voting, func(i, j int) bool { return l.Voting[i].CreatedAt.After(l.Voting[j].CreatedAt) })
	return l, nil
}

type homeView struct {
	Releases   releaseList
	Committees []domain.Committee
}

// publicHome is the start page of a visitor who is not signed in: the
// newest releases, the open votes and every committee.
func (w *Web) publicHome(rw http.ResponseWriter, r *http.Request) {
	l, err := w.publicReleases(r, "", 50)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	cs, err := w.svc.ListCommittees(r.Context(), actor(r))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	w.render(rw, r, http.StatusOK, "home", view{Title: "Releases", D: homeView{Releases: l, Committees: cs}})
}
