package web

import (
	"fmt"
	"net/http"
	"strings"

	"trel/internal/domain"
)

// The policy in plain words: what each version changed, and what in the
// current policy is impossible or surprising.

// policyFacts describes a policy as (field label, value in words) pairs, in
// the order of the form; two versions differ where their words differ.
func policyFacts(p *domain.Policy) [][2]string {
	yesno := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	list := func(l []string) string {
		if len(l) == 0 {
			return "none"
		}
		return strings.Join(l, ", ")
	}
	var unsigned, ignore []string
	for _, u := range p.Unsigned {
		unsigned = append(unsigned, u.Pattern+" ("+u.Reason+")")
	}
	for _, ig := range p.Ignore {
		ignore = append(ignore, fmt.Sprintf("checker=%s path=%s message=%s (%s)", ig.Checker, ig.Path, ig.Message, ig.Reason))
	}
	limit := func(n int64) string {
		if n == 0 {
			return "trel's limit"
		}
		return fmt.Sprint(n)
	}
	a := p.Archive
	var publishers []string
	for _, pub := range p.Publishers {
		desc := pub.Repository + " " + pub.Workflow
		if pub.Ref != "" {
			desc += "@" + pub.Ref
		}
		publishers = append(publishers, desc+" ("+strings.Join(pub.Actions, ", ")+")")
	}
	own := func(t string) string {
		if t == "" {
			return "trel's default"
		}
		return "the project's own"
	}
	m := p.Mail
	return [][2]string{
		{"OpenPGP signatures count", yesno(p.AcceptOpenPGP)},
		{"Sigstore bundles count", yesno(p.AcceptSigstore)},
		{"Signatures by keys trel holds count", yesno(p.AcceptServerSigned)},
		{"Each artifact needs", words(p.Require)},
		{"Who may sign", words(p.Signers)},
		{"Checksums", list(p.ChecksumAlgorithms)},
		{"Smallest RSA key", fmt.Sprintf("%d bits", p.MinRSABits)},
		{"Shortest vote", fmt.Sprintf("%d hours", p.MinVoteHours)},
		{"Binding +1 votes needed", fmt.Sprint(p.MinBindingPlusOnes)},
		{"Source artifacts", list(p.SourcePatterns)},
		{"Binary artifacts", list(p.BinaryPatterns)},
		{"Files allowed unsigned", list(unsigned)},
		{"Project licence", a.License},
		{"Third-party licences allowed", list(a.AllowedLicenses)},
		{"Tagged source", orWord(strings.TrimSpace(a.SourceRepo+" "+a.SourceTag), "not compared")},
		{"Files that may differ from the tag", list(a.SourceAllow)},
		{"Files without licence headers", list(a.HeaderIgnore)},
		{"Archive limits", fmt.Sprintf("unpacked %s bytes, %s members, ratio %s", limit(a.MaxUnpackedSize), limit(int64(a.MaxMembers)), limit(int64(a.MaxRatio)))},
		{"Ignore rules", list(ignore)},
		{"Trusted publishers (CI workflows acting for the project)", list(publishers)},
		{"[VOTE] and [RESULT] mail goes to", list(m.VoteTo)},
		{"[ANNOUNCE] mail goes to", list(m.AnnounceTo)},
		{"Mail of embargoed releases goes to", list(m.PrivateTo)},
		{"Copy of every mail to", list(m.Cc)},
		{"Mail templates", fmt.Sprintf("[VOTE] %s, [RESULT] %s, [ANNOUNCE] %s", own(m.VoteTemplate), own(m.ResultTemplate), own(m.AnnounceTemplate))},
		{"Older releases of a line are archived", map[string]string{"": "by hand only", "minor": "at each publication, same X.Y", "major": "at each publication, same X"}[p.ArchivePrevious]},
	}
}

// policyChange is one version of the history with what it changed.
type policyChange struct {
	domain.Policy
	Changes []string // "Shortest vote: 72 hours → 0 hours"
}

// policyHistory pairs each version (newest first) with its changes from
// the version before (the default policy before version 1).
func policyHistory(hist []domain.Policy) []policyChange {
	out := make([]policyChange, len(hist))
	for i := range hist {
		prev := domain.DefaultPolicy()
		if i+1 < len(hist) {
			prev = hist[i+1]
		}
		before, after := policyFacts(&prev), policyFacts(&hist[i])
		c := policyChange{Policy: hist[i]}
		for j := range after {
			if before[j][1] != after[j][1] {
				c.Changes = append(c.Changes, after[j][0]+": "+before[j][1]+" → "+after[j][1])
			}
		}
		out[i] = c
	}
	return out
}

// policyWarnings says what in a policy cannot work or may surprise.
func (w *Web) policyWarnings(r *http.Request, p *domain.Project, pol *domain.Policy) []string {
	ctx := r.Context()
	act := actor(r)
	var out []string
	needsSigstore := pol.Require == domain.RequireSigstore || pol.Require == domain.RequireAll
	if pol.AcceptSigstore {
		ids, _ := w.svc.SigstoreIdentities(ctx, act, p.Key)
		keys, _ := w.svc.SigstoreKeys(ctx, act, p.Key)
		if len(ids) == 0 && len(keys) == 0 {
			if needsSigstore {
				out = append(out, "Every artifact needs a Sigstore bundle, but the project trusts no Sigstore signer yet: no bundle can count, and no release can go to vote. Add the project's signers on the Sigstore signers page.")
			}
		}
	}
	if needsSigstore && !pol.AcceptServerSigned {
		out = append(out, "Every artifact needs a Sigstore bundle and bundles made by keys trel holds do not count: only bundles from CI or a person's Sigstore sign-in will.")
	}
	if !pol.AcceptServerSigned {
		if c, err := w.svc.Committee(ctx, act, p.CommitteeKey); err == nil {
			for _, k := range w.committeeKeys(r, c.Key) {
				if k.HeldByTrel() && k.RevokedAt == nil {
					out = append(out, fmt.Sprintf("Signatures made by keys trel holds do not count, but %s holds one for committee %s (%s): the signatures it makes would not count.", k.Owner, c.Key, k.Fingerprint))
					break
				}
			}
		}
	}
	if pol.MinVoteHours < 72 {
		out = append(out, fmt.Sprintf("A vote may be resolved after %d hours: the committee's members may not all have seen it (72 hours is usual).", pol.MinVoteHours))
	}
	if pol.MinBindingPlusOnes < 3 {
		out = append(out, fmt.Sprintf("%d binding +1 %s a release (3 is usual).", pol.MinBindingPlusOnes, plural(pol.MinBindingPlusOnes, "passes", "pass")))
	}
	return out
}
