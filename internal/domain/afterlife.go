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
