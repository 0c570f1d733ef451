package domain

import (
	"strings"
	"time"
	"unicode/utf8"
)

// ReleaseStatus is what happened to a release beside its phase: an
// embargo before publication, a yank and archiving after it.
type ReleaseStatus struct {
	// Embargoed: a security release prepared out of sight. Until it is
	// published, the release (files, checks, vote, ballots) is visible to
	// the committee's participants only, and no mail goes to public lists.
	Embargoed       bool       `json:"embargoed,omitempty"`
	EmbargoLiftedAt *time.Time `json:"embargo_lifted_at,omitempty"`
	// PublishedAt is when the release became public in the downloads tree.
	PublishedAt *time.Time `json:"published_at,omitempty"`
	// A yanked release stays downloadable and verifiable at its URLs, but
	// every listing marks it with the reason.
	YankedAt   *time.Time `json:"yanked_at,omitempty"`
	YankedBy   string     `json:"yanked_by,omitempty"`
	YankReason string     `json:"yank_reason,omitempty"`
	// An archived release's files left the downloads tree for the archive
	// tree; its page and manifest stay.
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
	ArchivedBy string     `json:"archived_by,omitempty"`
}

// Hidden reports whether the release is visible to its committee's
// participants only (a draft, or an embargoed release not yet published).
func (r *Release) Hidden() bool {
	return r.Phase == PhaseDraft || (r.Embargoed && r.Phase != PhaseReleased)
}

// Published states of the release feed.
const (
	StateReleased = "released"
	StateYanked   = "yanked"
	StateArchived = "archived"
)

// PublicState is the state of a published release in the feed: yanked
// wins over archived (a yanked release is still yanked once archived).
func (r *Release) PublicState() string {
	switch {
	case r.YankedAt != nil:
		return StateYanked
	case r.ArchivedAt != nil:
		return StateArchived
	}
	return StateReleased
}

// Tree is the public tree that holds a published release's files:
// "downloads" or, once archived, "archive".
func (r *Release) Tree() string {
	if r.ArchivedAt != nil {
		return "archive"
	}
	return "downloads"
}

// FilesPath is the release's directory in its tree, e.g.
// /downloads/tomcat/tomcat-server/11.0.0/.
func (r *Release) FilesPath() string {
	return "/" + r.Tree() + "/" + r.CommitteeKey + "/" + r.ProjectKey + "/" + r.Version + "/"
}

// ValidateReason checks a reason people will read (a yank reason): one
// line of visible text, at most 500 characters.
func ValidateReason(what, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Errorf(KindInvalid, "give a %s: say in one line why, so that downloaders understand", what)
	}
	if utf8.RuneCountInString(s) > 500 || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return isControl(r) || IsFormatChar(r) }) {
		return "", Errorf(KindInvalid, "the %s must be one line of at most 500 visible characters", what)
	}
	return s, nil
}

// VersionLess reports whether version a comes before version b.
// Components (between '.', '-' and '+') compare by their runs of digits
// as numbers and of other characters as text (case aside); a pre-release
// component (after '-', not starting with a digit: 3.0.0-rc1, 2.0-M1,
// 1.0-SNAPSHOT) comes before the end of the version, and any other
// component after it (2.4 < 2.4.1, 1.0 < 1.0+build).
func VersionLess(a, b string) bool { return compareVersions(a, b) < 0 }

func compareVersions(a, b string) int {
	pa, pb := versionParts(a), versionParts(b)
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y versionPart
		x.rank, y.rank = 1, 1 // the end of a version
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x.rank != y.rank {
			return x.rank - y.rank
		}
		if c := naturalCompare(x.text, y.text); c != 0 {
			return c
		}
	}
	return 0
}

// versionPart is one component of a version; rank 0 is a pre-release
// component, 2 any other (1 stands for the end of the version).
type versionPart struct {
	text string
	rank int
}

func versionParts(v string) []versionPart {
	var out []versionPart
	start, sep := 0, byte(0)
	for i := 0; i <= len(v); i++ {
		if i < len(v) && v[i] != '.' && v[i] != '-' && v[i] != '+' {
			continue
		}
		text := v[start:i]
		rank := 2
		if sep == '-' && (text == "" || text[0] < '0' || text[0] > '9') {
			rank = 0
		}
		out = append(out, versionPart{text: strings.ToLower(text), rank: rank})
		if i < len(v) {
			sep = v[i]
		}
		start = i + 1
	}
	return out
}

// naturalCompare compares runs of digits as numbers and the rest as text.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		ra, rb := leadingRun(a), leadingRun(b)
		da, db := ra[0] >= '0' && ra[0] <= '9', rb[0] >= '0' && rb[0] <= '9'
		switch {
		case da && db:
			na, nb := strings.TrimLeft(ra, "0"), strings.TrimLeft(rb, "0")
			if len(na) != len(nb) {
				return len(na) - len(nb)
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
		case da != db: // digits after text: 1.0.1 > 1.0.a
			if da {
				return 1
			}
			return -1
		default:
			if c := strings.Compare(ra, rb); c != 0 {
				return c
			}
		}
		a, b = a[len(ra):], b[len(rb):]
	}
	return len(a) - len(b)
}

// leadingRun is the leading run of digits, or of other characters, of a
// non-empty s.
func leadingRun(s string) string {
	digit := s[0] >= '0' && s[0] <= '9'
	i := 1
	for i < len(s) && (s[i] >= '0' && s[i] <= '9') == digit {
		i++
	}
	return s[:i]
}

// ReleaseLine is the line a version belongs to at a depth of leading
// numeric components: ReleaseLine("11.0.2", 2) is "11.0",
// ReleaseLine("11.0.2", 1) is "11". A version with fewer numeric
// components than depth has no line ("").
func ReleaseLine(version string, depth int) string {
	parts := strings.FieldsFunc(version, func(r rune) bool { return r == '.' || r == '-' || r == '+' })
	if depth < 1 || len(parts) < depth {
		return ""
	}
	for _, p := range parts[:depth] {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return ""
		}
	}
	return strings.Join(parts[:depth], ".")
}
