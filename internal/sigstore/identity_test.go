package sigstore

import (
	"regexp"
	"strings"
	"testing"
)

// ghResult is a valid result as a GitHub Actions certificate would give.
func ghResult(sourceRepo, ref, signer string) *Result {
	return &Result{
		Valid:    true,
		Identity: signer,
		Issuer:   issuerGitHubActions,
		Extensions: Extensions{
			SourceRepositoryURI: sourceRepo,
			SourceRepositoryRef: ref,
			BuildSignerURI:      signer,
			RunnerEnvironment:   "github-hosted",
		},
	}
}

func emailResult(email string) *Result {
	return &Result{Valid: true, Identity: email, Issuer: issuerGitHubOAuth}
}

func TestIdentityValidate(t *testing.T) {
	cases := []struct {
		name    string
		id      Identity
		wantErr string
	}{
		{"exact subject is enough", Identity{Issuer: issuerGitHubOAuth, Subject: "a@example.org"}, ""},
		{"regexp subject is enough", Identity{Issuer: issuerGitHubOAuth, SubjectRegexp: `.*@example\.org`}, ""},
		{"issuer is required", Identity{Subject: "a@example.org"}, "issuer is required"},
		{"blank issuer is missing", Identity{Issuer: "  ", Subject: "a@example.org"}, "issuer is required"},
		{"one of subject and regexp is required", Identity{Issuer: issuerGitHubOAuth}, "one of subject and subject regexp"},
		{"not both subject and regexp", Identity{Issuer: issuerGitHubOAuth, Subject: "a", SubjectRegexp: "a"}, "not both"},
		{"subject regexp must compile", Identity{Issuer: issuerGitHubOAuth, SubjectRegexp: "a("}, "subject regexp"},
		{"ref regexp must compile", Identity{Issuer: issuerGitHubOAuth, Subject: "a", RefRegexp: "refs/tags/[v"}, "ref regexp"},
		{"not both ref and ref regexp", Identity{Issuer: issuerGitHubOAuth, Subject: "a", Ref: "refs/heads/main", RefRegexp: "refs/tags/.*"}, "either a ref or a ref regexp"},
		{"repository must be a URL", Identity{Issuer: issuerGitHubActions, Subject: "a", SourceRepository: "org/repo"}, "must be a URL"},
		{"reusable workflow needs the caller", Identity{Issuer: issuerGitHubActions, Subject: "a", ReusableWorkflowRepository: "https://github.com/org/shared"}, "needs the source repository"},
		{"workflow is a path without ref", Identity{Issuer: issuerGitHubActions, Subject: "a", Workflow: ".github/workflows/r.yml@refs/heads/main"}, "without @ref"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.id.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestSubjectRegexpIsAnchored(t *testing.T) {
	cases := []struct {
		name    string
		pattern string
		subject string
		match   bool
	}{
		{"email domain matches", `.*@example.com`, "foo@example.com", true},
		{"email domain suffix attack", `.*@example.com`, "x@example.com.evil.org", false},
		{"workflow prefix matches", `https://github.com/org/repo/.*`, "https://github.com/org/repo/.github/workflows/r.yml@refs/tags/v1", true},
		{"workflow embedded later in another URI", `https://github.com/org/repo/.*`, "https://github.com/evil/x/.github/workflows/a.yml@https://github.com/org/repo/x", false},
		{"workflow embedded after a prefix", `https://github.com/org/repo/.*`, "https://evil.example/https://github.com/org/repo/x", false},
		{"alternation cannot escape the anchors", `a@example.com|b@example.com`, "b@example.com.evil.org", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := Identity{Issuer: issuerGitHubOAuth, SubjectRegexp: tc.pattern}
			if err := id.Validate(); err != nil {
				t.Fatal(err)
			}
			matched, why := MatchIdentity(emailResult(tc.subject), []Identity{id})
			if (matched != nil) != tc.match {
				t.Fatalf("matched = %v, want %v (%s)", matched != nil, tc.match, why)
			}
			if !tc.match && !regexp.MustCompile(tc.pattern).MatchString(tc.subject) {
				t.Fatalf("test case is weak: the unanchored pattern would not match either")
			}
		})
	}
}

func TestRefConstraint(t *testing.T) {
	const signer = "https://github.com/org/repo/.github/workflows/release.yml@"
	tagsOnly := Identity{
		Issuer: issuerGitHubActions, SubjectRegexp: `https://github\.com/org/repo/\.github/workflows/release\.yml@.*`,
		SourceRepository: "https://github.com/org/repo", RefRegexp: `refs/tags/.*`,
	}
	exactTag := Identity{
		Issuer: issuerGitHubActions, SubjectRegexp: tagsOnly.SubjectRegexp,
		SourceRepository: "https://github.com/org/repo", Ref: "refs/tags/v1.0.0",
	}
	cases := []struct {
		name  string
		id    Identity
		ref   string
		match bool
	}{
		{"tag accepted by tags-only", tagsOnly, "refs/tags/v1.2.3", true},
		{"branch refused by tags-only", tagsOnly, "refs/heads/main", false},
		{"tag name hidden in a branch refused", tagsOnly, "refs/heads/refs/tags/v1", false},
		{"exact tag accepted", exactTag, "refs/tags/v1.0.0", true},
		{"other tag refused by exact ref", exactTag, "refs/tags/v1.0.1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.id.Validate(); err != nil {
				t.Fatal(err)
			}
			r := ghResult("https://github.com/org/repo", tc.ref, signer+tc.ref)
			matched, why := MatchIdentity(r, []Identity{tc.id})
			if (matched != nil) != tc.match {
				t.Fatalf("matched = %v, want %v (%s)", matched != nil, tc.match, why)
			}
			if !tc.match && !strings.Contains(why, tc.ref) {
				t.Errorf("explanation %q does not name the ref found", why)
			}
		})
	}
}

func TestReusableWorkflow(t *testing.T) {
	// The app repository calls a release workflow kept in org/shared: the
	// certificate's subject and build signer name org/shared, the source
	// repository names the caller.
	const shared = "https://github.com/org/shared/.github/workflows/release.yml@refs/tags/v2"
	callerResult := ghResult("https://github.com/org/app", "refs/tags/v1.0.0", shared)
	otherCaller := ghResult("https://github.com/evil/fork", "refs/tags/v1.0.0", shared)
	ownWorkflow := ghResult("https://github.com/org/app", "refs/tags/v1.0.0",
		"https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1.0.0")

	subject := regexp.QuoteMeta("https://github.com/org/shared/.github/workflows/release.yml@") + ".*"
	trusted := Identity{
		Issuer: issuerGitHubActions, SubjectRegexp: subject,
		SourceRepository:           "https://github.com/org/app",
		ReusableWorkflowRepository: "https://github.com/org/shared",
		Workflow:                   ".github/workflows/release.yml",
		RunnerEnvironment:          "github-hosted",
	}
	implicit := trusted
	implicit.ReusableWorkflowRepository = ""
	ownRepo := Identity{
		Issuer: issuerGitHubActions, SubjectRegexp: `https://github\.com/org/app/.*`,
		SourceRepository: "https://github.com/org/app", Workflow: ".github/workflows/release.yml",
	}

	cases := []struct {
		name    string
		id      Identity
		r       *Result
		match   bool
		explain string
	}{
		{"named reusable workflow trusted for its caller", trusted, callerResult, true, ""},
		{"named reusable workflow refused for another caller", trusted, otherCaller, false, "source repository is"},
		{"reusable workflow refused unless named", implicit, callerResult, false, "reusable workflow outside the source repository"},
		{"own workflow trusted without reusable field", ownRepo, ownWorkflow, true, ""},
		{"reusable workflow identity refuses the caller's own workflow", trusted, ownWorkflow, false, "subject"},
		{"CI without workflow files matched on repository alone", Identity{
			Issuer: "https://agent.buildkite.com", Subject: "https://buildkite.com/org/pipeline",
			SourceRepository: "https://github.com/org/app",
		}, &Result{Valid: true, Identity: "https://buildkite.com/org/pipeline", Issuer: "https://agent.buildkite.com",
			Extensions: Extensions{SourceRepositoryURI: "https://github.com/org/app", BuildSignerURI: "https://buildkite.com/org/pipeline"}}, true, ""},
		{"workflow required but none named", Identity{
			Issuer: issuerGitHubOAuth, Subject: "a@example.org", Workflow: ".github/workflows/release.yml",
		}, emailResult("a@example.org"), false, "names no workflow file"},
		{"self-hosted runner refused", trusted, func() *Result {
			r := *callerResult
			r.Extensions.RunnerEnvironment = "self-hosted"
			return &r
		}(), false, "runner environment"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.id.Validate(); err != nil {
				t.Fatal(err)
			}
			matched, why := MatchIdentity(tc.r, []Identity{tc.id})
			if (matched != nil) != tc.match {
				t.Fatalf("matched = %v, want %v (%s)", matched != nil, tc.match, why)
			}
			if !strings.Contains(why, tc.explain) {
				t.Errorf("explanation %q lacks %q", why, tc.explain)
			}
		})
	}
}

func TestSuggestedIdentityTrustsTheSigner(t *testing.T) {
	results := map[string]*Result{
		"email":             emailResult("rm@apache.org"),
		"workflow on a tag": ghResult("https://github.com/org/repo", "refs/tags/v1", "https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1"),
		"workflow on main":  ghResult("https://github.com/org/repo", "refs/heads/main", "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main"),
		"reusable workflow": ghResult("https://github.com/org/app", "refs/tags/v1", "https://github.com/org/shared/.github/workflows/r.yml@refs/tags/v2"),
		"gitlab":            {Valid: true, Identity: "https://gitlab.com/g/p//.gitlab-ci.yml@refs/tags/v1", Issuer: "https://gitlab.com", Extensions: Extensions{SourceRepositoryURI: "https://gitlab.com/g/p", SourceRepositoryRef: "refs/tags/v1", BuildSignerURI: "https://gitlab.com/g/p//.gitlab-ci.yml@refs/tags/v1"}},
	}
	for name, r := range results {
		t.Run(name, func(t *testing.T) {
			id := SuggestIdentity(r)
			if err := id.Validate(); err != nil {
				t.Fatalf("suggested identity is invalid: %v (%+v)", err, id)
			}
			if matched, why := MatchIdentity(r, []Identity{id}); matched == nil {
				t.Fatalf("suggested identity does not match its own signer: %s", why)
			}
			_, why := MatchIdentity(r, nil)
			if !strings.Contains(why, id.AddCommand()) || !strings.HasPrefix(id.AddCommand(), "trel sigstore identity add --issuer ") {
				t.Fatalf("explanation %q lacks the add command %q", why, id.AddCommand())
			}
		})
	}
	tag := SuggestIdentity(results["workflow on a tag"])
	if tag.RefRegexp != "refs/tags/.*" || tag.SourceRepository != "https://github.com/org/repo" || tag.Workflow != ".github/workflows/release.yml" {
		t.Errorf("tag suggestion not narrowed: %+v", tag)
	}
	if reusable := SuggestIdentity(results["reusable workflow"]); reusable.ReusableWorkflowRepository != "https://github.com/org/shared" {
		t.Errorf("reusable suggestion does not name the workflow repository: %+v", reusable)
	}
}

func TestMatchIdentityOnFixtureCertificates(t *testing.T) {
	v := DefaultVerifier()
	b := loadBundleFile(t, td("sigstore-python", "bundle_v3_github.whl.sigstore"))
	res, err := v.Verify(b, fileArtifact(t, td("sigstore-python", "bundle_v3_github.whl")), nil)
	if err != nil || !res.Valid {
		t.Fatalf("Verify: %v %+v", err, res)
	}
	if res.Extensions.SourceRepositoryURI != "https://github.com/trailofbits/rfc8785.py" ||
		res.Extensions.SourceRepositoryRef != "refs/tags/v0.1.2" || res.Extensions.RunnerEnvironment != "github-hosted" {
		t.Fatalf("extensions not reported: %+v", res.Extensions)
	}
	pypiStyle := Identity{
		Issuer:            issuerGitHubActions,
		SubjectRegexp:     `https://github\.com/trailofbits/rfc8785\.py/\.github/workflows/release\.yml@refs/tags/.*`,
		SourceRepository:  "https://github.com/trailofbits/rfc8785.py",
		RefRegexp:         `refs/tags/.*`,
		Workflow:          ".github/workflows/release.yml",
		RunnerEnvironment: "github-hosted",
	}
	if matched, why := MatchIdentity(res, []Identity{pypiStyle}); matched == nil {
		t.Fatalf("PyPI-style identity does not match: %s", why)
	}
	otherWorkflow := pypiStyle
	otherWorkflow.Workflow = ".github/workflows/ci.yml"
	if matched, why := MatchIdentity(res, []Identity{otherWorkflow}); matched != nil || !strings.Contains(why, "workflow is .github/workflows/release.yml") {
		t.Fatalf("other workflow matched or explanation unclear: %s", why)
	}
}

func TestMatchIdentityRefusesInvalidAndKeyResults(t *testing.T) {
	anyone := []Identity{{Issuer: issuerGitHubOAuth, SubjectRegexp: ".*"}}
	if m, why := MatchIdentity(&Result{Valid: false, Reason: "tampered", Identity: "a@b"}, anyone); m != nil || !strings.Contains(why, "not valid") {
		t.Fatalf("invalid result matched: %v %s", m, why)
	}
	if m, why := MatchIdentity(&Result{Valid: true, KeyName: "k", KeyFingerprint: "SHA256:x"}, anyone); m != nil || !strings.Contains(why, "registered key") {
		t.Fatalf("key result matched an identity: %v %s", m, why)
	}
	if m, _ := MatchIdentity(nil, anyone); m != nil {
		t.Fatal("nil result matched")
	}
}

func TestShellQuote(t *testing.T) {
	cases := map[string]string{
		"https://token.actions.githubusercontent.com": "https://token.actions.githubusercontent.com",
		`.*@example\.org`: `'.*@example\.org'`,
		"it's":            `'it'\''s'`,
		"":                "''",
	}
	for in, want := range cases {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestPatternsCannotEscapeTheAnchors is the defect found in review: the
// pattern `...v.*)|(.*` closed trel's group and trusted every signer of
// the issuer. Patterns are parsed alone before being anchored, and a
// pattern that matches identities anyone can get is refused.
func TestPatternsCannotEscapeTheAnchors(t *testing.T) {
	const legit = `https://github\.com/org/repo/\.github/workflows/release\.yml@refs/tags/v.*`
	attacker := ghResult("https://github.com/attacker/x", "refs/heads/main", "https://github.com/attacker/x/.github/workflows/evil.yml@refs/heads/main")
	for _, c := range []struct {
		name, pattern, wantErr string
	}{
		{"ok/pinned workflow", legit, ""},
		{"ok/one organisation's addresses", `[a-z]+@example\.org`, ""},
		{"ok/alternation of pinned workflows", `https://github\.com/org/(a|b)/\.github/workflows/release\.yml@refs/tags/.*`, ""},
		{"fail/escaping group", legit + `)|(.*`, "subject regexp"},
		{"fail/escaping group, other order", `.*)|(` + legit, "subject regexp"},
		{"fail/dot star", `.*`, "trust signers anyone can become"},
		{"fail/dot plus", `.+`, "trust signers anyone can become"},
		{"fail/dot star with s flag", `(?s).*`, "trust signers anyone can become"},
		{"fail/any https URL", `https://.*`, "trust signers anyone can become"},
		{"fail/any GitHub repository", `https://github\.com/.*`, "trust signers anyone can become"},
		{"fail/alternation with a catch-all branch", legit + `|.*`, "trust signers anyone can become"},
		{"fail/negated class", `[^z]*`, "trust signers anyone can become"},
		{"fail/empty", `()`, "trust signers anyone can become"},
		{"fail/multiline anchors inside", `(?m)x$|.*`, "trust signers anyone can become"},
		{"ok/an organisation's repositories", `https://github\.com/org/.*`, ""},
		{"ok/an organisation's repositories by prefix", `https://github\.com/org/commons-.*/\.github/workflows/release\.yml@refs/tags/.*`, ""},
		{"ok/one domain's addresses", `.*@apache\.org`, ""},
		{"fail/organisations starting with a name", `https://github\.com/org.*/\.github/workflows/release\.yml@refs/tags/v.*`, `"https://github.com/orgattacker/`},
		{"fail/any organisation", `https://github\.com/[^/]+/repo/\.github/workflows/deploy\.yml@refs/heads/main`, `"https://github.com/attacker/repo/`},
		{"fail/a host suffix", `https://github\.com.*/org/repo/\.github/workflows/release\.yml@.*`, `github.com.evil.example`},
		{"fail/GitHub subject claim of organisations starting with a name", `repo:org.*:ref:refs/heads/main`, `"repo:orgattacker`},
		{"fail/addresses starting with a name", `alice.*`, `"alice@evil.example"`},
		{"fail/any domain of a name", `alice@.*`, `"alice@evil.example"`},
		{"fail/a domain suffix", `alice@example\.org.*`, `"alice@example.org.evil.example"`},
		{"fail/a public mail provider", `.*@gmail\.com`, `"attacker@gmail.com"`},
		{"fail/case-insensitive public provider", `(?i)[a-z.]+@GMAIL\.COM`, `"attacker@gmail.com"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := Identity{Issuer: issuerGitHubActions, SubjectRegexp: c.pattern}
			err := id.Validate()
			if c.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want %q", err, c.wantErr)
			}
			// Stored without validation (from before the fix), the pattern
			// never trusts the attacker, and says why when refused.
			m, why := MatchIdentity(attacker, []Identity{id})
			if m != nil {
				t.Fatalf("pattern %q trusts %s", c.pattern, attacker.Identity)
			}
			if c.wantErr != "" && !strings.Contains(why, "no longer accepted") {
				t.Fatalf("no reason given: %s", why)
			}
		})
	}
	// An escape that no probe catches: only parsing the pattern alone does.
	escape := Identity{Issuer: issuerGitHubActions, SubjectRegexp: legit + `)|(evil\.yml@refs/heads/main`}
	if err := escape.Validate(); err == nil {
		t.Fatal("a pattern that escapes the anchors was accepted")
	}
	if m, _ := MatchIdentity(ghResult("https://github.com/attacker/x", "refs/heads/main", "https://github.com/attacker/x/.github/workflows/evil.yml@refs/heads/main"), []Identity{escape}); m != nil {
		t.Fatal("the escaping pattern trusts the attacker")
	}
	// The legitimate signer still matches.
	good := ghResult("https://github.com/org/repo", "refs/tags/v1.0", "https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.0")
	if m, why := MatchIdentity(good, []Identity{{Issuer: issuerGitHubActions, SubjectRegexp: legit}}); m == nil {
		t.Fatal(why)
	}
	for _, ref := range []string{".*", ".+", "(?s).*"} {
		if err := (Identity{Issuer: issuerGitHubActions, Subject: "x@example.org", RefRegexp: ref}).Validate(); err == nil {
			t.Errorf("ref pattern %q accepted", ref)
		}
	}
	if err := (Identity{Issuer: issuerGitHubActions, Subject: "x@example.org", RefRegexp: "refs/tags/.*"}).Validate(); err != nil {
		t.Error(err)
	}
}
