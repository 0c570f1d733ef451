package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"trel/internal/domain"
)

func (w *Web) lifecycleRoutes(mux *http.ServeMux) {
	rel := "/projects/{project}/releases/{version}"
	mux.HandleFunc("GET /projects/{project}/policy", w.policyPage)
	mux.HandleFunc("POST /projects/{project}/policy", w.requireUser(w.setPolicy))
	mux.HandleFunc("POST "+rel+"/acks", w.requireUser(w.ackConcern))
	mux.HandleFunc("POST "+rel+"/vote/start", w.requireUser(w.startVote))
	mux.HandleFunc("POST "+rel+"/vote/cast", w.requireUser(w.castVote))
	mux.HandleFunc("POST "+rel+"/vote/resolve", w.requireUser(w.resolveVote))
	mux.HandleFunc("POST "+rel+"/publish", w.requireUser(w.publish))
	w.authorityRoutes(mux)
}

type policyView struct {
	P        *domain.Project
	Policy   *domain.Policy
	History  []policyChange
	Facts    [][2]string // the current policy in words
	Warnings []string
	CanEdit  bool
	Ignore   string // ignore rules, one per line, for the form
	Unsigned string // unsigned rules, GLOB=REASON per line, for the form
}

func (w *Web) policyPage(rw http.ResponseWriter, r *http.Request) {
	act := actor(r)
	p, err := w.svc.Project(r.Context(), act, r.PathValue("project"))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	pol, err := w.svc.Policy(r.Context(), act, p.Key)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	hist, err := w.svc.PolicyHistory(r.Context(), act, p.Key)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	var lines []string
	for _, ig := range pol.Ignore {
		lines = append(lines, fmt.Sprintf("checker=%s,path=%s,message=%s,reason=%s", ig.Checker, ig.Path, ig.Message, ig.Reason))
	}
	var unsigned []string
	for _, u := range pol.Unsigned {
		unsigned = append(unsigned, u.Pattern+"="+u.Reason)
	}
	w.render(rw, r, http.StatusOK, "policy", view{Title: "Policy of " + p.Name, D: policyView{P: p, Policy: pol, History: policyHistory(hist),
		Facts: policyFacts(pol), Warnings: w.policyWarnings(r, p, pol),
		CanEdit: w.isMember(r, p.CommitteeID), Ignore: strings.Join(lines, "\n"), Unsigned: strings.Join(unsigned, "\n")}})
}

func (w *Web) setPolicy(rw http.ResponseWriter, r *http.Request) {
	key := r.PathValue("project")
	back := "/projects/" + key + "/policy"
	if err := r.ParseForm(); err != nil {
		w.fail(rw, r, back, domain.Errorf(domain.KindInvalid, "the form could not be read"))
		return
	}
	for _, name := range []string{"min_rsa_bits", "min_vote_hours", "min_binding_plus_ones"} {
		if _, err := strconv.Atoi(strings.TrimSpace(r.FormValue(name))); err != nil {
			w.refill(rw, r, "policy", name, domain.Errorf(domain.KindInvalid, "give a whole number"), w.policyPage)
			return
		}
	}
	num := func(name string) int { n, _ := strconv.Atoi(strings.TrimSpace(r.FormValue(name))); return n }
	list := func(name string) []string {
		var out []string
		for _, f := range strings.FieldsFunc(r.FormValue(name), func(c rune) bool { return c == ',' || c == ' ' || c == '\n' }) {
			out = append(out, strings.TrimSpace(f))
		}
		return out
	}
	p := domain.Policy{
		AcceptOpenPGP: r.FormValue("accept_openpgp") == "on", AcceptSigstore: r.FormValue("accept_sigstore") == "on",
		AcceptServerSigned: r.FormValue("accept_server_signed") == "on", Require: r.FormValue("require"), Signers: r.FormValue("signers"),
		ChecksumAlgorithms: r.Form["checksum_algorithms"], SourcePatterns: list("source_patterns"), BinaryPatterns: list("binary_patterns"),
		MinRSABits: num("min_rsa_bits"), MinVoteHours: num("min_vote_hours"), MinBindingPlusOnes: num("min_binding_plus_ones"),
		Ignore: []domain.IgnoreRule{}, Unsigned: []domain.UnsignedRule{},
	}
	for _, line := range strings.Split(r.FormValue("unsigned"), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		rule, err := domain.ParseUnsignedRule(line)
		if err != nil {
			w.refill(rw, r, "policy", "unsigned", err, w.policyPage)
			return
		}
		p.Unsigned = append(p.Unsigned, rule)
	}
	archive, err := archivePolicyForm(r)
	if err != nil {
		w.refill(rw, r, "policy", "", err, w.policyPage)
		return
	}
	p.Archive = archive
	p.Mail, p.ArchivePrevious = mailPolicyForm(r)
	for _, line := range strings.Split(r.FormValue("ignore"), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		rule, err := domain.ParseIgnoreRule(line)
		if err != nil {
			w.refill(rw, r, "policy", "ignore", err, w.policyPage)
			return
		}
		p.Ignore = append(p.Ignore, rule)
	}
	out, err := w.svc.SetPolicy(r.Context(), actor(r), key, p)
	if err != nil {
		w.refill(rw, r, "policy", "", err, w.policyPage)
		return
	}
	w.redirect(rw, r, back, flash{Notice: fmt.Sprintf("The policy is now version %d; the checks of open drafts run again.", out.Version)})
}

func relBack(r *http.Request) string {
	return "/projects/" + r.PathValue("project") + "/releases/" + r.PathValue("version")
}

func (w *Web) ackConcern(rw http.ResponseWriter, r *http.Request) {
	_, err := w.svc.AckConcern(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"),
		r.FormValue("checker"), r.FormValue("path"), r.FormValue("comment"))
	if err != nil {
		w.fail(rw, r, relBack(r), err)
		return
	}
	w.redirect(rw, r, relBack(r), flash{Notice: "The concern on " + r.FormValue("path") + " is acknowledged."})
}

func (w *Web) startVote(rw http.ResponseWriter, r *http.Request) {
	project, version := r.PathValue("project"), r.PathValue("version")
	var err error
	var v *domain.VoteRound
	if r.FormValue("plus_one") == "yes" {
		v, _, err = w.svc.StartVoteWithPlusOne(r.Context(), actor(r), project, version, strings.TrimSpace(r.FormValue("comment")))
	} else {
		v, err = w.svc.StartVote(r.Context(), actor(r), project, version)
	}
	if err != nil && v == nil {
		w.refill(rw, r, "start-vote", "", err, w.release)
		return
	}
	msg := fmt.Sprintf("The vote on revision %d is open until at least %s.", v.Revision, v.ClosesAt().UTC().Format("2006-01-02 15:04 UTC"))
	if err != nil {
		w.redirect(rw, r, relBack(r)+"#vote", flash{Notice: msg, Error: domain.PublicMessage(err)})
		return
	}
	w.redirect(rw, r, relBack(r)+"#vote", flash{Notice: msg})
}

func (w *Web) castVote(rw http.ResponseWriter, r *http.Request) {
	// The dashboard's one-click form comes back to the dashboard.
	fromDashboard := r.FormValue("back") == "/"
	refused := func(err error) {
		if fromDashboard {
			w.fail(rw, r, "/#votes", err)
			return
		}
		w.refill(rw, r, "cast-vote", "", err, w.release)
	}
	value, err := strconv.Atoi(r.FormValue("value"))
	if err != nil {
		refused(domain.Errorf(domain.KindInvalid, "choose +1, 0 or -1"))
		return
	}
	if _, err := w.svc.CastVote(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), value, r.FormValue("comment")); err != nil {
		refused(err)
		return
	}
	msg := fmt.Sprintf("Your vote on %s %s was recorded.", r.PathValue("project"), r.PathValue("version"))
	if fromDashboard {
		w.redirect(rw, r, "/#votes", flash{Notice: msg})
		return
	}
	w.redirect(rw, r, relBack(r)+"#vote", flash{Notice: msg})
}

// resolveVote closes the vote; one that would fail needs the confirmation.
func (w *Web) resolveVote(rw http.ResponseWriter, r *http.Request) {
	project, version := r.PathValue("project"), r.PathValue("version")
	cur, err := w.svc.Tally(r.Context(), actor(r), project, version)
	if err != nil {
		w.fail(rw, r, relBack(r)+"#vote", err)
		return
	}
	if !cur.Passing {
		if err := confirmed(r, "fail the vote ("+cur.Missing+")"); err != nil {
			w.fail(rw, r, relBack(r)+"#vote", err)
			return
		}
	}
	t, err := w.svc.ResolveVote(r.Context(), actor(r), project, version)
	if err != nil {
		w.fail(rw, r, relBack(r)+"#vote", err)
		return
	}
	msg := "The vote failed; the release is a draft again."
	if t.Round.Passed != nil && *t.Round.Passed {
		msg = "The vote passed. Publish the release when ready."
	}
	w.redirect(rw, r, relBack(r)+"#vote", flash{Notice: msg})
}

func (w *Web) publish(rw http.ResponseWriter, r *http.Request) {
	if err := confirmed(r, "publish the release"); err != nil {
		w.fail(rw, r, relBack(r)+"#vote", err)
		return
	}
	m, err := w.svc.Publish(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		w.fail(rw, r, relBack(r), err)
		return
	}
	w.redirect(rw, r, relBack(r), flash{Notice: fmt.Sprintf("Published to /downloads/%s/%s/%s/.", m.Committee, m.Project, m.Version)})
}
