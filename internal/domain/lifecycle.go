package domain

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// Release phases after the draft.
const (
	PhaseCandidate Phase = "candidate" // frozen revision under vote
	PhasePreview   Phase = "preview"   // vote passed, ready to publish
	PhaseReleased  Phase = "released"  // published, immutable
)

// Signature kinds a policy may accept or require.
const (
	RequireAny      = "any"      // at least one accepted signature per artifact
	RequireOpenPGP  = "openpgp"  // an OpenPGP signature per artifact
	RequireSigstore = "sigstore" // a Sigstore bundle per artifact
	RequireAll      = "all"      // both
)

// Who may sign a project's releases.
const (
	SignersParticipants    = "participants"     // any committee member or committer
	SignersReleaseManagers = "release-managers" // only the release's release managers
)

// Policy is a project's release policy. Every change is a new version.
type Policy struct {
	Version int `json:"version"`

	AcceptOpenPGP      bool     `json:"accept_openpgp"`
	AcceptSigstore     bool     `json:"accept_sigstore"`
	AcceptServerSigned bool     `json:"accept_server_signed"`
	Require            string   `json:"require"`
	Signers            string   `json:"signers"`
	ChecksumAlgorithms []string `json:"checksum_algorithms"`
	SourcePatterns     []string `json:"source_patterns"`
	BinaryPatterns     []string `json:"binary_patterns"`
	MinRSABits         int      `json:"min_rsa_bits"`
	MinVoteHours       int      `json:"min_vote_hours"`
	// The vote passes with at least MinBindingPlusOnes binding +1 and
	// more binding +1 than binding -1.
	MinBindingPlusOnes int          `json:"min_binding_plus_ones"`
	Ignore             []IgnoreRule `json:"ignore"`
	// Unsigned names the files that may be published without signatures
	// and checksums (release notes...). Every other file that is not a
	// signature, checksum, Sigstore bundle or SBOM needs them.
	Unsigned []UnsignedRule `json:"unsigned"`
	// Archive and licence checks.
	Archive ArchivePolicy `json:"archive"`
	// Publishers are the CI workflows trusted to act for the project
	// (trusted publishing); they change only through `trel publisher`.
	Publishers []TrustedPublisher `json:"publishers"`
	// Mail: lists and templates of [VOTE], [RESULT] and [ANNOUNCE].
	Mail MailPolicy `json:"mail"`
	// ArchivePrevious: ArchiveNever, ArchiveMinor or ArchiveMajor.
	ArchivePrevious string `json:"archive_previous,omitempty"`

	UpdatedBy string    `json:"updated_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// IgnoreRule hides known, non-blocking results. It never applies to
// blockers or exceptions.
type IgnoreRule struct {
	Checker string `json:"checker,omitempty"` // "" = any checker
	Path    string `json:"path,omitempty"`    // glob (path.Match); "" = any path
	Message string `json:"message,omitempty"` // substring; "" = any message
	Reason  string `json:"reason"`            // why it is safe to ignore
}

// UnsignedRule lets files matching Pattern be published without
// signatures and checksums. A pattern without '/' matches the file name in
// any directory; with '/' it matches the whole path (path.Match syntax).
type UnsignedRule struct {
	Pattern string `json:"pattern"`
	Reason  string `json:"reason"` // why these files need no signature
}

// Matches reports whether the rule covers the release path p.
func (u UnsignedRule) Matches(p string) bool {
	target := p
	if !strings.Contains(u.Pattern, "/") {
		target = path.Base(p)
	}
	ok, _ := path.Match(u.Pattern, target)
	return ok
}

// MatchUnsigned returns the first rule covering p, if any.
func MatchUnsigned(rules []UnsignedRule, p string) (UnsignedRule, bool) {
	for _, r := range rules {
		if r.Matches(p) {
			return r, true
		}
	}
	return UnsignedRule{}, false
}

// ParseUnsignedRule reads "GLOB=REASON" (the CLI's --unsigned).
func ParseUnsignedRule(spec string) (UnsignedRule, error) {
	pat, reason, ok := strings.Cut(spec, "=")
	if !ok {
		return UnsignedRule{}, Errorf(KindInvalid, "unsigned rule %s: use GLOB=REASON, for example 'RELEASE-NOTES*.txt=release notes are plain text'", SafeText(spec))
	}
	return UnsignedRule{Pattern: strings.TrimSpace(pat), Reason: strings.TrimSpace(reason)}, nil
}

func (u UnsignedRule) validate() *Error {
	if u.Pattern == "" {
		return Errorf(KindInvalid, "an unsigned rule needs a pattern naming the files, such as RELEASE-NOTES*.txt")
	}
	if _, err := path.Match(u.Pattern, "x"); err != nil || strings.HasPrefix(u.Pattern, "/") {
		return Errorf(KindInvalid, "unsigned pattern %s is not a valid relative glob", SafeText(u.Pattern))
	}
	if strings.TrimSpace(u.Reason) == "" {
		return Errorf(KindInvalid, "unsigned pattern %s needs a reason saying why these files need no signature", SafeText(u.Pattern))
	}
	if len(u.Pattern) > 256 || len(u.Reason) > 500 {
		return Errorf(KindInvalid, "an unsigned rule's pattern is at most 256 and its reason at most 500 characters")
	}
	// A rule that covers any file would turn default-deny off.
	all := true
	for _, p := range []string{"a.tar.gz", "b.zip", "bin/c", "d.exe"} {
		all = all && u.Matches(p)
	}
	if all {
		return Errorf(KindInvalid, "unsigned pattern %s matches every file: name the files that need no signature, such as RELEASE-NOTES*.txt", SafeText(u.Pattern))
	}
	return nil
}

// KeyGrandfatherBefore: RSA keys created before this date may have 2048
// bits; newer ones need the policy's minimum. `trel serve
// --rsa-2048-before DATE` sets it once at start-up.
var KeyGrandfatherBefore = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultPolicy is what a project gets until a committee member changes it.
func DefaultPolicy() Policy {
	return Policy{
		AcceptOpenPGP: true, AcceptSigstore: true, AcceptServerSigned: true,
		Require: RequireAny, Signers: SignersParticipants,
		ChecksumAlgorithms: []string{"sha512"},
		SourcePatterns:     []string{"*-src.*", "*-source.*", "*.src.*"},
		BinaryPatterns:     []string{"*-bin.*", "*.jar", "*.whl"},
		MinRSABits:         4096, MinVoteHours: 72, MinBindingPlusOnes: 3,
		Ignore: []IgnoreRule{}, Unsigned: []UnsignedRule{},
		Archive: DefaultArchivePolicy(),
		Mail:    MailPolicy{VoteTo: []string{}, AnnounceTo: []string{}, PrivateTo: []string{}, Cc: []string{}},
	}
}

// Validate checks a policy.
func (p Policy) Validate() error {
	switch p.Require {
	case RequireAny, RequireOpenPGP, RequireSigstore, RequireAll:
	default:
		return Errorf(KindInvalid, "require must be any, openpgp, sigstore or all, not %q", p.Require).On("require")
	}
	switch p.Signers {
	case SignersParticipants, SignersReleaseManagers:
	default:
		return Errorf(KindInvalid, "signers must be participants or release-managers, not %q", p.Signers).On("signers")
	}
	if !p.AcceptOpenPGP && !p.AcceptSigstore {
		return Errorf(KindInvalid, "a policy must accept OpenPGP or Sigstore signatures (or both)").On("accept_openpgp")
	}
	if (p.Require == RequireOpenPGP || p.Require == RequireAll) && !p.AcceptOpenPGP {
		return Errorf(KindInvalid, "the policy requires OpenPGP signatures but does not accept them").On("require")
	}
	if (p.Require == RequireSigstore || p.Require == RequireAll) && !p.AcceptSigstore {
		return Errorf(KindInvalid, "the policy requires Sigstore bundles but does not accept them").On("require")
	}
	if len(p.ChecksumAlgorithms) == 0 {
		return Errorf(KindInvalid, "require at least one checksum algorithm (sha512 or sha256)").On("checksum_algorithms")
	}
	for _, a := range p.ChecksumAlgorithms {
		if a != "sha256" && a != "sha512" {
			return Errorf(KindInvalid, "checksum algorithm %q: use sha512 or sha256", a).On("checksum_algorithms")
		}
	}
	for field, pats := range map[string][]string{"source_patterns": p.SourcePatterns, "binary_patterns": p.BinaryPatterns} {
		for _, pat := range pats {
			if _, err := path.Match(pat, "x"); err != nil {
				return Errorf(KindInvalid, "pattern %q is not a valid glob", pat).On(field)
			}
		}
	}
	if p.MinRSABits < 2048 || p.MinRSABits > 16384 {
		return Errorf(KindInvalid, "min_rsa_bits must be between 2048 and 16384").On("min_rsa_bits")
	}
	if p.MinVoteHours < 0 || p.MinVoteHours > 24*60 {
		return Errorf(KindInvalid, "min_vote_hours must be between 0 and 1440").On("min_vote_hours")
	}
	if p.MinBindingPlusOnes < 1 || p.MinBindingPlusOnes > 100 {
		return Errorf(KindInvalid, "min_binding_plus_ones must be between 1 and 100").On("min_binding_plus_ones")
	}
	if len(p.Unsigned) > 100 {
		return Errorf(KindInvalid, "at most 100 unsigned rules").On("unsigned")
	}
	for _, u := range p.Unsigned {
		if err := u.validate(); err != nil {
			return err.On("unsigned")
		}
	}
	if err := p.Archive.Validate(); err != nil {
		return err
	}
	if err := p.Mail.Validate(); err != nil {
		return err
	}
	switch p.ArchivePrevious {
	case ArchiveNever, ArchiveMinor, ArchiveMajor:
	default:
		return Errorf(KindInvalid, "archive_previous must be minor, major or empty (never), not %s", SafeText(p.ArchivePrevious))
	}
	for _, r := range p.Ignore {
		if r.Path != "" {
			if _, err := path.Match(r.Path, "x"); err != nil {
				return Errorf(KindInvalid, "ignore rule path %q is not a valid glob", r.Path).On("ignore")
			}
		}
		if r.Reason == "" {
			return Errorf(KindInvalid, "every ignore rule needs a reason saying why the result is safe to ignore").On("ignore")
		}
		if r.Checker == "" && r.Path == "" && r.Message == "" {
			return Errorf(KindInvalid, "an ignore rule must name a checker, a path or a message").On("ignore")
		}
	}
	return nil
}

// Ignores reports whether the rule hides the result. Blockers and
// exceptions are never hidden.
func (r IgnoreRule) Ignores(res CheckResult) bool {
	if res.Status == StatusBlocker || res.Status == StatusException {
		return false
	}
	if r.Checker != "" && r.Checker != res.Checker {
		return false
	}
	if r.Path != "" {
		if ok, _ := path.Match(r.Path, res.Path); !ok {
			return false
		}
	}
	return r.Message == "" || strings.Contains(strings.ToLower(res.Message), strings.ToLower(r.Message))
}

// ParseIgnoreRule reads "checker=C,path=GLOB,message=TEXT,reason=WHY"
// (fields optional but reason; Validate checks the rule).
func ParseIgnoreRule(spec string) (IgnoreRule, error) {
	var r IgnoreRule
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return r, Errorf(KindInvalid, "ignore rule %q: use checker=C,path=GLOB,message=TEXT,reason=WHY", spec)
		}
		switch strings.TrimSpace(k) {
		case "checker":
			r.Checker = v
		case "path":
			r.Path = v
		case "message":
			r.Message = v
		case "reason":
			r.Reason = v
		default:
			return r, Errorf(KindInvalid, "ignore rule %q: unknown field %q; use checker, path, message and reason", spec, k)
		}
	}
	return r, nil
}

// Ack is a release manager's acknowledgement of a concern.
type Ack struct {
	Checker    string    `json:"checker"`
	Path       string    `json:"path"`
	InputsHash string    `json:"inputs_hash"`
	User       string    `json:"user"`
	Comment    string    `json:"comment"`
	At         time.Time `json:"at"`
}

// VoteRound is one vote on a release candidate.
type VoteRound struct {
	Round     int       `json:"round"`
	Revision  int       `json:"revision"`
	StartedBy string    `json:"started_by"`
	StartedAt time.Time `json:"started_at"`
	MinHours  int       `json:"min_hours"`
	// MinBindingPlusOnes is the binding +1 votes needed, recorded with
	// MinHours from policy PolicyVersion when the round started: a later
	// policy change does not apply to the round.
	MinBindingPlusOnes int        `json:"min_binding_plus_ones"`
	PolicyVersion      int        `json:"policy_version"`
	ResolvedAt         *time.Time `json:"resolved_at,omitempty"`
	ResolvedBy         string     `json:"resolved_by,omitempty"`
	Passed             *bool      `json:"passed,omitempty"`
	// CancelReason says why a release manager cancelled the round (or
	// withdrew its passed result); "" when it was resolved or is open.
	CancelReason string `json:"cancel_reason,omitempty"`
}

// ClosesAt is the earliest time the vote may be resolved.
func (v VoteRound) ClosesAt() time.Time {
	return v.StartedAt.Add(time.Duration(v.MinHours) * time.Hour)
}

// Vote is one person's vote in a round; a later vote replaces an earlier one.
type Vote struct {
	User    string    `json:"user"`
	UserID  int64     `json:"-"`
	Value   int       `json:"value"`
	Binding bool      `json:"binding"`
	Comment string    `json:"comment,omitempty"`
	CastAt  time.Time `json:"cast_at"`
	// Discounted says why a vote cast as binding no longer is: its voter
	// left the committee (or became a committer) before the vote closed.
	Discounted string `json:"discounted,omitempty"`
}

// Tally counts a round's votes.
type Tally struct {
	Round          VoteRound `json:"round"`
	Votes          []Vote    `json:"votes"`
	BindingPlus    int       `json:"binding_plus"`
	BindingZero    int       `json:"binding_zero"`
	BindingMinus   int       `json:"binding_minus"`
	NonBindingPlus int       `json:"non_binding_plus"`
	NonBindingZero int       `json:"non_binding_zero"`
	NonBindingMin  int       `json:"non_binding_minus"`
	Passing        bool      `json:"passing"` // the rule is met by the votes so far
	// Missing says in words what the votes lack to pass ("needs 1 more
	// binding +1"), "" when they pass.
	Missing  string    `json:"missing,omitempty"`
	MayClose bool      `json:"may_close"` // the minimum duration has passed
	ClosesAt time.Time `json:"closes_at"`
	// RuleChanges lists the weakenings of the project's vote rules made
	// in the WeakeningWindow before the round started or at any time
	// since: a vote's readers see when the bar was lowered.
	RuleChanges []RuleChange `json:"rule_changes,omitempty"`
}

// WeakeningWindow is how far before a vote's start a weakening of the
// vote rules is still shown with the vote.
const WeakeningWindow = 30 * 24 * time.Hour

// RuleChange is one policy version that lowered the minimum vote duration
// or the binding votes needed.
type RuleChange struct {
	Version      int       `json:"version"`
	By           string    `json:"by"`
	At           time.Time `json:"at"`
	MinHoursFrom int       `json:"min_vote_hours_from"`
	MinHoursTo   int       `json:"min_vote_hours_to"`
	BindingFrom  int       `json:"min_binding_plus_ones_from"`
	BindingTo    int       `json:"min_binding_plus_ones_to"`
	// AfterStart: the change came after the round started, so the round
	// is still counted under the earlier rules.
	AfterStart bool `json:"after_start"`
}

// String describes the change in one sentence.
func (c RuleChange) String() string {
	var parts []string
	if c.MinHoursTo < c.MinHoursFrom {
		parts = append(parts, fmt.Sprintf("minimum duration %d h -> %d h", c.MinHoursFrom, c.MinHoursTo))
	}
	if c.BindingTo < c.BindingFrom {
		parts = append(parts, fmt.Sprintf("binding +1 votes needed %d -> %d", c.BindingFrom, c.BindingTo))
	}
	s := fmt.Sprintf("%s lowered the vote rules on %s (policy version %d): %s", c.By, c.At.UTC().Format("2006-01-02 15:04 UTC"), c.Version, strings.Join(parts, ", "))
	if c.AfterStart {
		s += "; this vote is still counted under the rules in force when it started"
	}
	return s
}

// VoteRuleWeakenings lists the versions of a policy history (newest first,
// as PolicyHistory returns it) that lowered the minimum vote duration or
// the binding votes needed, newest first. Version 1 is compared with the
// default policy.
func VoteRuleWeakenings(history []Policy) []RuleChange {
	var out []RuleChange
	for i, p := range history {
		prev := DefaultPolicy()
		if i+1 < len(history) {
			prev = history[i+1]
		}
		if p.MinVoteHours < prev.MinVoteHours || p.MinBindingPlusOnes < prev.MinBindingPlusOnes {
			out = append(out, RuleChange{Version: p.Version, By: p.UpdatedBy, At: p.UpdatedAt,
				MinHoursFrom: prev.MinVoteHours, MinHoursTo: p.MinVoteHours, BindingFrom: prev.MinBindingPlusOnes, BindingTo: p.MinBindingPlusOnes})
		}
	}
	return out
}

// Count fills the counts and Passing from Votes for the given rule.
func (t *Tally) Count(minBindingPlus int) {
	t.BindingPlus, t.BindingZero, t.BindingMinus, t.NonBindingPlus, t.NonBindingZero, t.NonBindingMin = 0, 0, 0, 0, 0, 0
	for _, v := range t.Votes {
		switch {
		case v.Binding && v.Value > 0:
			t.BindingPlus++
		case v.Binding && v.Value < 0:
			t.BindingMinus++
		case v.Binding:
			t.BindingZero++
		case v.Value > 0:
			t.NonBindingPlus++
		case v.Value < 0:
			t.NonBindingMin++
		default:
			t.NonBindingZero++
		}
	}
	t.Passing = t.BindingPlus >= minBindingPlus && t.BindingPlus > t.BindingMinus
	t.Missing = ""
	if !t.Passing {
		n := max(minBindingPlus-t.BindingPlus, t.BindingMinus+1-t.BindingPlus)
		plural := ""
		if n > 1 {
			plural = "s"
		}
		t.Missing = fmt.Sprintf("needs %d more binding +1%s", n, plural)
		if t.BindingMinus > 0 && t.BindingMinus+1-t.BindingPlus >= minBindingPlus-t.BindingPlus {
			t.Missing += fmt.Sprintf(" (binding +1 must outnumber the %d binding −1)", t.BindingMinus)
		}
	}
}
