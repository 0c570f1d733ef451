package sigstore

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
)

// Identity is a signer a project trusts: an OIDC issuer plus the
// certificate's subject, optionally narrowed by the Fulcio extensions that
// CI providers set. Empty optional fields are not checked.
type Identity struct {
	// Issuer is the OIDC issuer, matched exactly, e.g.
	// https://token.actions.githubusercontent.com.
	Issuer string `json:"issuer"`
	// Exactly one of Subject (exact) and SubjectRegexp. The regexp is
	// anchored by trel (^(?:...)$), unlike sigstore-go's.
	Subject       string `json:"subject,omitempty"`
	SubjectRegexp string `json:"subjectRegexp,omitempty"`

	// SourceRepository is the repository that ran the build, e.g.
	// https://github.com/org/repo (exact).
	SourceRepository string `json:"sourceRepository,omitempty"`
	// At most one of Ref (exact) and RefRegexp (anchored), matched against
	// the source repository ref, e.g. RefRegexp "refs/tags/.*" for tags only.
	Ref       string `json:"ref,omitempty"`
	RefRegexp string `json:"refRegexp,omitempty"`
	// Workflow is the path of the workflow file inside the repository
	// that holds it, e.g. .github/workflows/release.yml (from the build
	// signer URI).
	Workflow string `json:"workflow,omitempty"`
	// RunnerEnvironment, e.g. "github-hosted" to refuse self-hosted runners.
	RunnerEnvironment string `json:"runnerEnvironment,omitempty"`
	// ReusableWorkflowRepository trusts a workflow kept in another
	// repository, e.g. https://github.com/org/shared-workflows. With a
	// reusable workflow the certificate's build signer (and subject) name
	// the workflow's repository while the source repository names the
	// caller. When this is empty and SourceRepository is set, the workflow
	// must live in SourceRepository itself.
	ReusableWorkflowRepository string `json:"reusableWorkflowRepository,omitempty"`
}

// Validate checks an identity when it is created, so that matching never
// meets a broken one.
func (id Identity) Validate() error {
	var errs []error
	if strings.TrimSpace(id.Issuer) == "" {
		errs = append(errs, errors.New("issuer is required"))
	} else if id.Issuer != strings.TrimSpace(id.Issuer) {
		errs = append(errs, errors.New("issuer has leading or trailing spaces"))
	}
	switch {
	case id.Subject == "" && id.SubjectRegexp == "":
		errs = append(errs, errors.New("one of subject and subject regexp is required"))
	case id.Subject != "" && id.SubjectRegexp != "":
		errs = append(errs, errors.New("give either a subject or a subject regexp, not both"))
	}
	if id.SubjectRegexp != "" {
		if err := checkPattern(id.SubjectRegexp, subjectProbes); err != nil {
			errs = append(errs, fmt.Errorf("subject regexp: %w", err))
		}
	}
	if id.Ref != "" && id.RefRegexp != "" {
		errs = append(errs, errors.New("give either a ref or a ref regexp, not both"))
	}
	if id.RefRegexp != "" {
		if err := checkPattern(id.RefRegexp, refProbes); err != nil {
			errs = append(errs, fmt.Errorf("ref regexp: %w", err))
		}
	}
	for _, f := range []struct{ name, value string }{
		{"source repository", id.SourceRepository},
		{"reusable workflow repository", id.ReusableWorkflowRepository},
	} {
		if f.value != "" && (!strings.HasPrefix(f.value, "https://") || strings.HasSuffix(f.value, "/")) {
			errs = append(errs, fmt.Errorf("%s must be a URL like https://github.com/org/repo, got %q", f.name, f.value))
		}
	}
	if id.ReusableWorkflowRepository != "" && id.SourceRepository == "" {
		// Otherwise any repository calling the shared workflow would match.
		errs = append(errs, errors.New("a reusable workflow repository needs the source repository that may call it"))
	}
	if strings.Contains(id.Workflow, "@") || strings.HasPrefix(id.Workflow, "/") {
		errs = append(errs, fmt.Errorf("workflow is a path such as .github/workflows/release.yml, without @ref, got %q", id.Workflow))
	}
	return errors.Join(errs...)
}

// anchored compiles a pattern so that it must match the whole value:
// sigstore-go (and Go's regexp) would accept any substring match. The
// pattern is parsed on its own first: only a complete expression is
// wrapped, so that one like `a)|(.*` cannot close the group and escape the
// anchors. \A and \z hold whatever flags the pattern sets inside.
func anchored(pattern string) (*regexp.Regexp, error) {
	if _, err := syntax.Parse(pattern, syntax.Perl); err != nil {
		return nil, err
	}
	return regexp.Compile(`\A(?:` + pattern + `)\z`)
}

// Values no trusted pattern may match: an identity anyone can obtain from
// the issuer. A pattern that matches one of them trusts arbitrary signers.
var (
	subjectProbes = []string{"", "x", "attacker", "attacker@evil.example", "https://evil.example/attacker",
		// Addresses anyone can open at a public provider.
		"attacker@gmail.com", "attacker@googlemail.com", "attacker@outlook.com", "attacker@hotmail.com",
		"attacker@yahoo.com", "attacker@icloud.com", "attacker@proton.me", "attacker@protonmail.com",
		"attacker@users.noreply.github.com",
		"https://github.com/attacker/repo/.github/workflows/release.yml@refs/heads/main",
		"https://github.com/attacker/repo/.github/workflows/release.yml@refs/tags/v1.0.0",
		"https://gitlab.com/attacker/repo//.gitlab-ci.yml@refs/heads/main",
		"repo:attacker/repo:ref:refs/heads/main"}
	refProbes = []string{"", "x", "attacker"}
)

// checkPattern refuses a pattern that does not parse, or that matches any
// of the probes: e.g. `.*`, `.+`, `(?s).*`, `https://.*`, `[^z]*`, or an
// alternation with such a branch. For subject patterns it also refuses
// one that stays open where anyone chooses the name: it takes an identity
// the pattern matches and changes the part an attacker controls (the
// owner of a repository URL or GitHub subject claim, the host, an
// address's domain, or what follows a bare name), e.g.
// `https://github\.com/org.*/...` (matches orgattacker), `alice.*`
// (matches alice@evil.example), `alice@example\.org.*`.
func checkPattern(pattern string, probes []string) error {
	re, err := anchored(pattern)
	if err != nil {
		return err
	}
	if len(probes) > len(refProbes) {
		if parsed, err := syntax.Parse(pattern, syntax.Perl); err == nil {
			if w, ok := witness(parsed.Simplify()); ok && re.MatchString(w) {
				probes = append(append([]string{}, probes...), ownerChanges(w)...)
			}
		}
	}
	for _, p := range probes {
		if re.MatchString(p) {
			shown := p
			if shown == "" {
				shown = "the empty string"
			}
			return fmt.Errorf("%q would match %q, so it would trust signers anyone can become: pin the repository (or address) with literal text, e.g. https://github\\.com/org/repo/\\.github/workflows/release\\.yml@refs/tags/.*",
				pattern, shown)
		}
	}
	return nil
}

// witness returns a short string the expression matches (the first branch
// of alternations, the fewest repetitions, 'a' for any character), or
// false when it cannot make one.
func witness(re *syntax.Regexp) (string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return string(re.Rune), true
	case syntax.OpCharClass:
		if len(re.Rune) < 2 {
			return "", false
		}
		for _, pref := range []rune{'a', '0'} {
			for i := 0; i+1 < len(re.Rune); i += 2 {
				if re.Rune[i] <= pref && pref <= re.Rune[i+1] {
					return string(pref), true
				}
			}
		}
		return string(re.Rune[0]), true
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return "a", true
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary, syntax.OpStar, syntax.OpQuest:
		return "", true
	case syntax.OpCapture, syntax.OpPlus:
		return witness(re.Sub[0])
	case syntax.OpRepeat:
		w, ok := witness(re.Sub[0])
		return strings.Repeat(w, max(re.Min, 0)), ok
	case syntax.OpConcat:
		var b strings.Builder
		for _, sub := range re.Sub {
			w, ok := witness(sub)
			if !ok {
				return "", false
			}
			b.WriteString(w)
		}
		return b.String(), true
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			if w, ok := witness(sub); ok {
				return w, true
			}
		}
	}
	return "", false
}

// ownerChanges returns variants of an identity w in which an attacker
// chose the name: another or a longer owner of a repository URL (and a
// longer host), another or a longer owner in a GitHub subject claim,
// another or a longer domain of an address, an address after a bare name.
func ownerChanges(w string) []string {
	if scheme, rest, ok := strings.Cut(w, "://"); ok {
		host, path, _ := strings.Cut(rest, "/")
		owner, tail, hasTail := strings.Cut(path, "/")
		if hasTail {
			tail = "/" + tail
		}
		return []string{scheme + "://" + host + "/attacker" + tail, scheme + "://" + host + "/" + owner + "attacker" + tail,
			scheme + "://" + host + ".evil.example/" + path}
	}
	if rest, ok := strings.CutPrefix(w, "repo:"); ok {
		i := strings.IndexAny(rest, "/:")
		if i < 0 {
			i = len(rest)
		}
		return []string{"repo:attacker" + rest[i:], "repo:" + rest[:i] + "attacker" + rest[i:]}
	}
	if i := strings.LastIndexByte(w, '@'); i >= 0 {
		return []string{w[:i] + "@evil.example", w + ".evil.example"}
	}
	return []string{w + "@evil.example", w + "attacker@evil.example"}
}

// String describes the identity for explanations.
func (id Identity) String() string {
	parts := []string{"issuer " + id.Issuer}
	if id.Subject != "" {
		parts = append(parts, "subject "+id.Subject)
	} else {
		parts = append(parts, "subject matching "+id.SubjectRegexp)
	}
	if id.SourceRepository != "" {
		parts = append(parts, "repository "+id.SourceRepository)
	}
	if id.Ref != "" {
		parts = append(parts, "ref "+id.Ref)
	}
	if id.RefRegexp != "" {
		parts = append(parts, "ref matching "+id.RefRegexp)
	}
	if id.Workflow != "" {
		parts = append(parts, "workflow "+id.Workflow)
	}
	if id.ReusableWorkflowRepository != "" {
		parts = append(parts, "reusable workflow from "+id.ReusableWorkflowRepository)
	}
	if id.RunnerEnvironment != "" {
		parts = append(parts, "runner "+id.RunnerEnvironment)
	}
	return strings.Join(parts, ", ")
}

// MatchIdentity is the second stage: it returns the first identity in ids
// that signed the valid result r, and an explanation either way. When
// nothing matches, the explanation names the signer found and a
// `trel sigstore identity add` command that would trust it.
//
// Key-based results never match an identity: they are trusted by their
// registered key in the first stage.
func MatchIdentity(r *Result, ids []Identity) (matched *Identity, explanation string) {
	switch {
	case r == nil:
		return nil, "no verification result"
	case !r.Valid:
		return nil, "the bundle is not valid: " + r.Reason
	case r.KeyBased():
		return nil, fmt.Sprintf("the bundle is signed with the registered key %q (%s), not a certificate identity", r.KeyName, r.KeyFingerprint)
	}

	var misses []string
	for i := range ids {
		why := ids[i].mismatch(r)
		if why == "" {
			return &ids[i], fmt.Sprintf("signed by %s (issuer %s), a trusted identity (%s)", r.Identity, r.Issuer, ids[i])
		}
		misses = append(misses, fmt.Sprintf("identity %d (%s): %s", i+1, ids[i], why))
	}

	var b strings.Builder
	fmt.Fprintf(&b, "signed by %s (issuer %s", r.Identity, r.Issuer)
	if e := r.Extensions; e.SourceRepositoryURI != "" {
		fmt.Fprintf(&b, ", repository %s, ref %s", e.SourceRepositoryURI, e.SourceRepositoryRef)
		if repo, path, ok := splitBuildSigner(e.BuildSignerURI); ok {
			fmt.Fprintf(&b, ", workflow %s in %s", path, repo)
		}
	}
	b.WriteString("), which is not a trusted identity")
	if len(misses) == 0 {
		b.WriteString(": no identities are trusted yet")
	} else {
		b.WriteString(": " + strings.Join(misses, "; "))
	}
	b.WriteString(". To trust it: " + SuggestIdentity(r).AddCommand())
	return nil, b.String()
}

// mismatch returns why id does not match r, or "" when it does.
func (id Identity) mismatch(r *Result) string {
	e := r.Extensions
	if r.Issuer != id.Issuer {
		return fmt.Sprintf("issuer is %s", r.Issuer)
	}
	if id.Subject != "" && r.Identity != id.Subject {
		return fmt.Sprintf("subject is %s", r.Identity)
	}
	if id.SubjectRegexp != "" {
		if err := checkPattern(id.SubjectRegexp, subjectProbes); err != nil {
			return "its subject pattern is no longer accepted (" + err.Error() + "); remove the identity and add a narrower one"
		}
		if !matches(id.SubjectRegexp, r.Identity) {
			return fmt.Sprintf("subject %s does not match ^(?:%s)$", r.Identity, id.SubjectRegexp)
		}
	}
	if id.SourceRepository != "" && e.SourceRepositoryURI != id.SourceRepository {
		return fmt.Sprintf("source repository is %q", e.SourceRepositoryURI)
	}
	if id.Ref != "" && e.SourceRepositoryRef != id.Ref {
		return fmt.Sprintf("ref is %q", e.SourceRepositoryRef)
	}
	if id.RefRegexp != "" && checkPattern(id.RefRegexp, refProbes) != nil {
		return "its ref pattern is no longer accepted (" + checkPattern(id.RefRegexp, refProbes).Error() + "); remove the identity and add a narrower one"
	}
	if id.RefRegexp != "" && !matches(id.RefRegexp, e.SourceRepositoryRef) {
		return fmt.Sprintf("ref %q does not match ^(?:%s)$", e.SourceRepositoryRef, id.RefRegexp)
	}
	if id.RunnerEnvironment != "" && e.RunnerEnvironment != id.RunnerEnvironment {
		return fmt.Sprintf("runner environment is %q", e.RunnerEnvironment)
	}

	signerRepo, path, ok := splitBuildSigner(e.BuildSignerURI)
	if !ok {
		if id.Workflow != "" || id.ReusableWorkflowRepository != "" {
			return fmt.Sprintf("the certificate names no workflow file (build signer URI %q)", e.BuildSignerURI)
		}
		// Other CI systems have no workflow files, hence no reusable
		// workflows: the source repository check above is the whole check.
		return ""
	}
	if id.Workflow == "" && id.ReusableWorkflowRepository == "" && id.SourceRepository == "" {
		return ""
	}
	if id.Workflow != "" && path != id.Workflow {
		return fmt.Sprintf("workflow is %s", path)
	}
	wantRepo := id.ReusableWorkflowRepository
	if wantRepo == "" {
		wantRepo = id.SourceRepository
	}
	if signerRepo != wantRepo {
		if id.ReusableWorkflowRepository == "" {
			return fmt.Sprintf("the workflow comes from %s, a reusable workflow outside the source repository; trust it explicitly with a reusable workflow repository", signerRepo)
		}
		return fmt.Sprintf("the workflow comes from %s, not %s", signerRepo, wantRepo)
	}
	return ""
}

// matches reports an anchored match; Validate has compiled the pattern.
func matches(pattern, value string) bool {
	re, err := anchored(pattern)
	return err == nil && re.MatchString(value)
}

// splitBuildSigner splits a build signer URI into the repository holding
// the workflow and the workflow's path, dropping the @ref:
//
//	https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1
//	https://gitlab.com/group/project//.gitlab-ci.yml@refs/heads/main
func splitBuildSigner(uri string) (repo, path string, ok bool) {
	if i := strings.LastIndex(uri, "@"); i >= 0 {
		uri = uri[:i]
	}
	rest, found := strings.CutPrefix(uri, "https://")
	if !found {
		return "", "", false
	}
	if i := strings.Index(rest, "//"); i > 0 {
		return "https://" + rest[:i], rest[i+2:], true
	}
	if i := strings.Index(rest, "/.github/workflows/"); i > 0 {
		return "https://" + rest[:i], rest[i+1:], true
	}
	return "", "", false
}

// SuggestIdentity returns an identity that trusts the signer of r, as
// narrowly as is still useful: CI identities are pinned to their
// repository, workflow and runner, and to tags when signed from a tag.
func SuggestIdentity(r *Result) Identity {
	id := Identity{Issuer: r.Issuer, Subject: r.Identity}
	e := r.Extensions
	signerRepo, path, ok := splitBuildSigner(e.BuildSignerURI)
	if !ok || e.SourceRepositoryURI == "" {
		return id
	}
	// The subject of a CI certificate ends in @ref: allow any ref of the
	// same workflow, and constrain the ref separately.
	if i := strings.LastIndex(r.Identity, "@"); i > 0 {
		id.Subject = ""
		id.SubjectRegexp = regexp.QuoteMeta(r.Identity[:i]) + "@.*"
	}
	id.SourceRepository = e.SourceRepositoryURI
	id.Workflow = path
	if signerRepo != e.SourceRepositoryURI {
		id.ReusableWorkflowRepository = signerRepo
	}
	if strings.HasPrefix(e.SourceRepositoryRef, "refs/tags/") {
		id.RefRegexp = "refs/tags/.*"
	} else {
		id.Ref = e.SourceRepositoryRef
	}
	id.RunnerEnvironment = e.RunnerEnvironment
	return id
}

// AddCommand renders the identity as the CLI command that adds it.
func (id Identity) AddCommand() string {
	args := []string{"trel sigstore identity add"}
	add := func(flag, value string) {
		if value != "" {
			args = append(args, flag, shellQuote(value))
		}
	}
	add("--issuer", id.Issuer)
	add("--subject", id.Subject)
	add("--subject-regexp", id.SubjectRegexp)
	add("--source-repository", id.SourceRepository)
	add("--ref", id.Ref)
	add("--ref-regexp", id.RefRegexp)
	add("--workflow", id.Workflow)
	add("--reusable-workflow-repository", id.ReusableWorkflowRepository)
	add("--runner-environment", id.RunnerEnvironment)
	return strings.Join(args, " ")
}

// shellQuote quotes for POSIX shells, so the command can be pasted.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
