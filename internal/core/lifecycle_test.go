package core_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/testutil/archivetest"
	"trel/internal/testutil/gpgtest"
)

// TestVoteCannotCloseEarly: the minimum duration is the policy's at the
// time the vote started, and resolving before it ends is refused.
func TestVoteCannotCloseEarly(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	m := w.actors["member"]
	pol := domain.DefaultPolicy()
	pol.Require, pol.MinBindingPlusOnes, pol.MinVoteHours = domain.RequireAny, 1, 72
	pol.Unsigned = []domain.UnsignedRule{{Pattern: "*.txt", Reason: "plain text is fine"}}
	if _, err := w.svc.SetPolicy(ctx, m, "alpha-lib", pol); err != nil {
		t.Fatal(err)
	}
	// A vote needs a signed artifact next to the notes.
	addSignedArtifact(t, w)
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

// addSignedArtifact gives the member a proven gpg key of the committee and
// adds a signed artifact with its checksum to alpha-lib 1.0.
func addSignedArtifact(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	m := w.actors["member"]
	g := gpgtest.New(t)
	fpr := g.GenKey(t, "", "Member <member@example.org>", "ed25519", "sign", "2y")
	if _, err := w.svc.AddKeys(ctx, m, g.Export(t, fpr), core.AddKeysOptions{Committees: []string{"alpha"}}); err != nil {
		t.Fatal(err)
	}
	challenge, err := w.svc.KeyChallenge(ctx, m, fpr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.ProveKey(ctx, m, fpr, g.Sign(t, "", fpr, []byte(challenge))); err != nil {
		t.Fatal(err)
	}
	artifact := archivetest.SourceTarGz(t, "alpha-lib-1.0", []byte(strings.Repeat("alpha-lib release bytes\n", 1000)))
	d := sha512.Sum512(artifact)
	files := map[string][]byte{
		"alpha-lib-1.0.tar.gz":        artifact,
		"alpha-lib-1.0.tar.gz.asc":    g.Sign(t, "", fpr, artifact, "--digest-algo", "SHA512"),
		"alpha-lib-1.0.tar.gz.sha512": []byte(hex.EncodeToString(d[:]) + "  alpha-lib-1.0.tar.gz\n"),
	}
	var req core.RevisionRequest
	for p, data := range files {
		b, err := w.svc.UploadFile(ctx, m, "alpha-lib", "1.0", bytes.NewReader(data), -1)
		if err != nil {
			t.Fatal(err)
		}
		req.Changes = append(req.Changes, core.Change{Op: "put", Path: p, SHA256: b.SHA256})
	}
	if _, err := w.svc.CreateRevision(ctx, m, "alpha-lib", "1.0", req); err != nil {
		t.Fatal(err)
	}
}
