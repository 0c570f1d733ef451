package core_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"trel/internal/domain"
)

// TestVoteCannotCloseEarly: the minimum duration is the policy's at the
// time the vote started, and resolving before it ends is refused.
func TestVoteCannotCloseEarly(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	m := w.actors["member"]
	pol := domain.DefaultPolicy()
	pol.Require, pol.MinBindingPlusOnes, pol.MinVoteHours = domain.RequireAny, 1, 72
	pol.Ignore = []domain.IgnoreRule{{Checker: "paths", Path: "*.txt", Reason: "plain text is fine"}}
	if _, err := w.svc.SetPolicy(ctx, m, "alpha-lib", pol); err != nil {
		t.Fatal(err)
	}
	// Run the checks of the latest revision synchronously, as a worker would.
	rel, _ := w.svc.Release(ctx, m, "alpha-lib", "1.0")
	runChecks(t, w, rel)

	round, err := w.svc.StartVote(ctx, m, "alpha-lib", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	if round.MinHours != 72 {
		t.Fatalf("min hours %d", round.MinHours)
	}
	if _, err := w.svc.CastVote(ctx, m, "alpha-lib", "1.0", 1, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.CastVote(ctx, m, "alpha-lib", "1.0", 2, ""); !domain.IsKind(err, domain.KindInvalid) {
		t.Fatalf("a +2 vote: %v", err)
	}
	_, err = w.svc.ResolveVote(ctx, m, "alpha-lib", "1.0")
	if !domain.IsKind(err, domain.KindConflict) || !strings.Contains(domain.PublicMessage(err), "too early") {
		t.Fatalf("early resolve: %v", err)
	}
	// Changing the policy now does not shorten a running vote.
	pol.MinVoteHours = 0
	if _, err := w.svc.SetPolicy(ctx, m, "alpha-lib", pol); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.ResolveVote(ctx, m, "alpha-lib", "1.0"); !domain.IsKind(err, domain.KindConflict) {
		t.Fatalf("policy change shortened the vote: %v", err)
	}
	w.skew = 72*time.Hour + time.Minute
	// The policy change re-checks the candidate: resolving waits for it.
	if _, err := w.svc.ResolveVote(ctx, m, "alpha-lib", "1.0"); !domain.IsKind(err, domain.KindConflict) || !strings.Contains(domain.PublicMessage(err), "trel checks wait") {
		t.Fatalf("resolved while the re-check was queued: %v", err)
	}
	runChecks(t, w, rel)
	tally, err := w.svc.ResolveVote(ctx, m, "alpha-lib", "1.0")
	if err != nil || tally.Round.Passed == nil || !*tally.Round.Passed {
		t.Fatalf("resolve after 72h: %+v %v", tally, err)
	}
	if _, err := w.svc.ResolveVote(ctx, m, "alpha-lib", "1.0"); !domain.IsKind(err, domain.KindConflict) {
		t.Fatalf("resolved twice: %v", err)
	}
}

func TestPolicyValidation(t *testing.T) {
	base := domain.DefaultPolicy()
	cases := []struct {
		name   string
		change func(*domain.Policy)
	}{
		{"fail/unknown requirement", func(p *domain.Policy) { p.Require = "some" }},
		{"fail/requires what it does not accept", func(p *domain.Policy) { p.Require, p.AcceptSigstore = domain.RequireSigstore, false }},
		{"fail/accepts nothing", func(p *domain.Policy) { p.AcceptOpenPGP, p.AcceptSigstore = false, false }},
		{"fail/no checksum", func(p *domain.Policy) { p.ChecksumAlgorithms = nil }},
		{"fail/md5", func(p *domain.Policy) { p.ChecksumAlgorithms = []string{"md5"} }},
		{"fail/bad glob", func(p *domain.Policy) { p.SourcePatterns = []string{"["} }},
		{"fail/ignore rule without reason", func(p *domain.Policy) { p.Ignore = []domain.IgnoreRule{{Checker: "paths"}} }},
		{"fail/ignore everything", func(p *domain.Policy) { p.Ignore = []domain.IgnoreRule{{Reason: "x"}} }},
		{"fail/negative vote hours", func(p *domain.Policy) { p.MinVoteHours = -1 }},
	}
	if err := base.Validate(); err != nil {
		t.Fatalf("ok/default: %v", err)
	}
	for _, c := range cases {
		p := domain.DefaultPolicy()
		c.change(&p)
		if err := p.Validate(); !domain.IsKind(err, domain.KindInvalid) {
			t.Errorf("%s: accepted", c.name)
		}
	}
	rule := domain.IgnoreRule{Checker: "paths", Path: "*.txt", Reason: "r"}
	if rule.Ignores(domain.CheckResult{Checker: "paths", Path: "a.txt", Status: domain.StatusBlocker}) {
		t.Error("an ignore rule hid a blocker")
	}
	if !rule.Ignores(domain.CheckResult{Checker: "paths", Path: "a.txt", Status: domain.StatusConcern}) {
		t.Error("the rule did not hide a matching concern")
	}
}

// runChecks runs the checks of a release's latest revision in-process.
func runChecks(t *testing.T, w *world, rel *domain.Release) {
	t.Helper()
	ctx := context.Background()
	st := w.svc.Store()
	rev, err := st.Revision(ctx, rel.ID, rel.LatestRevision)
	if err != nil {
		t.Fatal(err)
	}
	run, err := st.CheckRun(ctx, rev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.engine.Run(ctx, rev.ID, run.Generation); err != nil {
		t.Fatal(err)
	}
}
