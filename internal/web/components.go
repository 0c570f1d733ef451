package web

import (
	"net/url"
	"strconv"

	"trel/internal/domain"
)

// step is one entry of a checklist (the "checklist" component): the work
// in order, the next one highlighted.
type step struct {
	Title     string
	State     string // done, current, todo, blocked
	StateText string // the state in words ("done", "3 problems")
	Detail    string
	Link      string // where to do it
	LinkText  string
}

// pager is the previous/next navigation of a long list (the "pager"
// component). Prev and Next are page URLs, "" at either end.
type pager struct {
	Prev, Next string
	Label      string
}

// newPager builds the pager of a list shown n per page from offset, with
// more telling whether an older page exists; other query values (filters)
// are kept in the links.
func newPager(base string, q url.Values, offset, n int, more bool) pager {
	link := func(off int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Del("offset")
		if off > 0 {
			v.Set("offset", strconv.Itoa(off))
		}
		if len(v) == 0 {
			return base
		}
		return base + "?" + v.Encode()
	}
	p := pager{Label: "entries " + strconv.Itoa(offset+1) + " to " + strconv.Itoa(offset+n)}
	if n == 0 {
		p.Label = "no entries"
	}
	if offset > 0 {
		p.Prev = link(max(0, offset-n))
		if n == 0 {
			p.Prev = link(0)
		}
	}
	if more {
		p.Next = link(offset + n)
	}
	return p
}

// option is one choice of the "select" component.
type option struct{ Value, Label string }

// options turns committees, projects or plain strings into select options.
func options(list any) []option {
	var out []option
	switch l := list.(type) {
	case []domain.Committee:
		for _, c := range l {
			out = append(out, option{c.Key, c.Key + " — " + c.Name})
		}
	case []domain.Project:
		for _, p := range l {
			out = append(out, option{p.Key, p.Key + " — " + p.Name})
		}
	case []string:
		for _, s := range l {
			out = append(out, option{s, s})
		}
	}
	return out
}

// Plain words for the values trel stores as enums.
var (
	phaseWords = map[domain.Phase]string{
		domain.PhaseDraft: "draft", domain.PhaseCandidate: "vote open", domain.PhasePreview: "vote passed", domain.PhaseReleased: "published",
	}
	requireWords = map[string]string{
		domain.RequireAny: "OpenPGP or Sigstore (either one)", domain.RequireOpenPGP: "an OpenPGP signature",
		domain.RequireSigstore: "a Sigstore bundle", domain.RequireAll: "OpenPGP and Sigstore (both)",
	}
	signersWords = map[string]string{
		domain.SignersParticipants: "any member or committer of the committee", domain.SignersReleaseManagers: "only the release's managers",
	}
	roleWords = map[domain.Role]string{domain.RoleMember: "member", domain.RoleCommitter: "committer"}
)

// words returns the plain words for an enum value (phase, require,
// signers, role), or the value itself.
func words(v any) string {
	switch x := v.(type) {
	case domain.Phase:
		if s, ok := phaseWords[x]; ok {
			return s
		}
		return string(x)
	case domain.Role:
		if s, ok := roleWords[x]; ok {
			return s
		}
		return string(x)
	case string:
		if s, ok := requireWords[x]; ok {
			return s
		}
		if s, ok := signersWords[x]; ok {
			return s
		}
		return x
	}
	return ""
}
