package core_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/oidc"
	"trel/internal/testutil/oidctest"
)

const audience = "https://trel.test"

// ciWorld is a world with a GitHub-kind issuer on loopback, trusted
// publishing enabled, and a second project of committee alpha.
type ciWorld struct {
	*world
	is *oidctest.Issuer
}

func newCIWorld(t *testing.T) *ciWorld {
	t.Helper()
	ctx := context.Background()
	w := &ciWorld{world: newWorld(t), is: oidctest.New(t)}
	w.svc.SetTrustedPublishing(core.TrustedPublishing{Registry: oidc.NewRegistry(oidc.Options{}), Audience: audience})
	if _, err := w.svc.AddOIDCIssuer(ctx, w.actors["admin"], domain.OIDCIssuer{URL: w.is.URL, Kind: domain.IssuerGitHub}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.CreateProject(ctx, core.SystemActor, "alpha-other", "alpha", "Alpha Other"); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *ciWorld) publisher(t *testing.T, project string, p domain.TrustedPublisher) *domain.TrustedPublisher {
	t.Helper()
	if p.Issuer == "" {
		p.Issuer = w.is.URL
	}
	out, err := w.svc.AddPublisher(context.Background(), w.actors["member"], project, p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ci exchanges a token of run and returns the credential's actor.
func (w *ciWorld) ci(t *testing.T, run oidctest.GitHubRun) *core.Actor {
	t.Helper()
	ctx := context.Background()
	ex, err := w.svc.ExchangeIDToken(ctx, core.Anonymous, w.is.Mint(run.Claims(audience)), "")
	if err != nil {
		t.Fatal(err)
	}
	wl, err := w.svc.AuthenticateCredential(ctx, ex.Token)
	if err != nil {
		t.Fatal(err)
	}
	return &core.Actor{Workload: wl}
}

var release = oidctest.GitHubRun{Repository: "apache/alpha", Workflow: ".github/workflows/release.yml", Ref: "refs/tags/v2.0"}

func TestIssuersAreAdministered(t *testing.T) {
	ctx := context.Background()
	w := newCIWorld(t)
	admin, member := w.actors["admin"], w.actors["member"]
	if _, err := w.svc.AddOIDCIssuer(ctx, member, domain.OIDCIssuer{URL: "https://ci.example", Kind: "github"}); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("a member added an issuer: %v", err)
	}
	for _, bad := range []domain.OIDCIssuer{
		{URL: "http://ci.example", Kind: "github"},   // plain http, not loopback
		{URL: "https://ci.example/", Kind: "github"}, // trailing slash: not the iss
		{URL: "https://ci.example", Kind: "jenkins"}, // unknown claim set
	} {
		if _, err := w.svc.AddOIDCIssuer(ctx, admin, bad); !domain.IsKind(err, domain.KindInvalid) {
			t.Fatalf("issuer %+v: %v", bad, err)
		}
	}
	if _, err := w.svc.AddOIDCIssuer(ctx, admin, domain.OIDCIssuer{URL: w.is.URL, Kind: "gitlab"}); !domain.IsKind(err, domain.KindConflict) {
		t.Fatalf("the same issuer twice: %v", err)
	}
	is, err := w.svc.OIDCIssuers(ctx, core.Anonymous)
	if err != nil || len(is) != 3 {
		t.Fatalf("issuers %+v %v", is, err)
	}
	if err := w.svc.RemoveOIDCIssuer(ctx, admin, domain.GitLabIssuer); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.RemoveOIDCIssuer(ctx, member, domain.GitHubActionsIssuer); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("a member removed an issuer: %v", err)
	}
}

func TestPublishersArePolicyVersions(t *testing.T) {
	ctx := context.Background()
	w := newCIWorld(t)
	m := w.actors["member"]
	before, _ := w.svc.Policy(ctx, m, "alpha-lib")
	p := w.publisher(t, "alpha-lib", domain.TrustedPublisher{Repository: "apache/alpha", Workflow: ".github/workflows/release.yml", Ref: "refs/tags/v*",
		Actions: []string{"compose", "publish"}})
	after, _ := w.svc.Policy(ctx, m, "alpha-lib")
	if after.Version != before.Version+1 || p.ID != int64(after.Version) || len(after.Publishers) != 1 || !strings.HasPrefix(p.Account, "ci:alpha-lib:") {
		t.Fatalf("publisher %+v in policy %+v", p, after)
	}
	// A policy change keeps the publishers; only publisher add/remove changes them.
	pol := *after
	pol.Publishers = nil
	pol.MinVoteHours = 1
	if got, err := w.svc.SetPolicy(ctx, m, "alpha-lib", pol); err != nil || len(got.Publishers) != 1 {
		t.Fatalf("policy set dropped the publishers: %+v %v", got, err)
	}
	if _, err := w.svc.AddPublisher(ctx, w.actors["committer"], "alpha-lib", domain.TrustedPublisher{Issuer: w.is.URL, Repository: "a/b", Workflow: "w.yml", Actions: []string{"compose"}}); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("a committer added a publisher: %v", err)
	}
	for field, bad := range map[string]domain.TrustedPublisher{
		"issuer":     {Issuer: "https://unknown.example", Repository: "a/b", Workflow: "w.yml", Actions: []string{"compose"}},
		"repository": {Issuer: w.is.URL, Repository: "no-slash", Workflow: "w.yml", Actions: []string{"compose"}},
		"workflow":   {Issuer: w.is.URL, Repository: "a/b", Workflow: ".github/workflows/r.yml@main", Actions: []string{"compose"}},
		"ref":        {Issuer: w.is.URL, Repository: "a/b", Workflow: "w.yml", Ref: "v*", Actions: []string{"compose"}},
		"actions":    {Issuer: w.is.URL, Repository: "a/b", Workflow: "w.yml", Actions: []string{"deploy"}},
	} {
		if _, err := w.svc.AddPublisher(ctx, m, "alpha-lib", bad); !domain.IsKind(err, domain.KindInvalid) || domain.FieldOf(err) != field {
			t.Fatalf("bad %s: %v (field %q)", field, err, domain.FieldOf(err))
		}
	}
	if err := w.svc.RemovePublisher(ctx, m, "alpha-lib", 999); !domain.IsKind(err, domain.KindNotFound) {
		t.Fatalf("removing a missing publisher: %v", err)
	}
	if err := w.svc.RemovePublisher(ctx, m, "alpha-lib", p.ID); err != nil {
		t.Fatal(err)
	}
	hist, _ := w.svc.PolicyHistory(ctx, m, "alpha-lib")
	if hist[0].Version != before.Version+3 || len(hist[0].Publishers) != 0 || len(hist[1].Publishers) != 1 {
		t.Fatalf("history %d versions, newest publishers %v", len(hist), hist[0].Publishers)
	}
	evs, _ := w.svc.AuditLog(ctx, w.actors["admin"], 50)
	seen := map[string]bool{}
	for _, e := range evs {
		seen[e.Action] = true
	}
	if !seen["publisher.add"] || !seen["publisher.remove"] {
		t.Fatalf("publisher changes not audited: %v", seen)
	}
}

// TestCredentialScope: a CI credential does what its publisher allows in
// its project, and nothing else anywhere, whatever it calls.
func TestCredentialScope(t *testing.T) {
	ctx := context.Background()
	w := newCIWorld(t)
	w.publisher(t, "alpha-lib", domain.TrustedPublisher{Repository: release.Repository, Workflow: release.Workflow, Actions: []string{"compose"}})
	ci := w.ci(t, release)

	if _, err := w.svc.StartRelease(ctx, ci, "alpha-lib", "2.0"); err != nil {
		t.Fatalf("compose may start a release: %v", err)
	}
	b, err := w.svc.UploadFile(ctx, ci, "alpha-lib", "2.0", strings.NewReader("built by CI"), -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.CreateRevision(ctx, ci, "alpha-lib", "2.0", core.RevisionRequest{Changes: []core.Change{{Op: "put", Path: "NOTES.txt", SHA256: b.SHA256}}}); err != nil {
		t.Fatal(err)
	}
	revs, err := w.svc.ListRevisions(ctx, w.actors["member"], "alpha-lib", "2.0")
	if err != nil || len(revs) != 1 || revs[0].Workflow == nil || revs[0].Workflow.Repository != "apache/alpha" || revs[0].Workflow.RunURL == "" {
		t.Fatalf("the revision does not name its workflow run: %+v %v", revs, err)
	}
	rel, _ := w.svc.Release(ctx, ci, "alpha-lib", "2.0")
	if rel.CreatedBy == "" || !strings.HasPrefix(rel.CreatedBy, "ci:alpha-lib:") {
		t.Fatalf("created by %q", rel.CreatedBy)
	}
	// Drafts of its project are readable; 1.0 was started by the member.
	if _, err := w.svc.Release(ctx, ci, "alpha-lib", "1.0"); err != nil {
		t.Fatalf("reading a draft of its project: %v", err)
	}
	refused := map[string]error{}
	refused["start a release of another project"] = func() error { _, err := w.svc.StartRelease(ctx, ci, "alpha-other", "1.0"); return err }()
	refused["read a draft of another project"] = func() error {
		if _, err := w.svc.StartRelease(ctx, w.actors["member"], "alpha-other", "1.0"); err != nil {
			t.Fatal(err)
		}
		_, err := w.svc.Release(ctx, ci, "alpha-other", "1.0")
		return err
	}()
	refused["vote"] = func() error { _, err := w.svc.CastVote(ctx, ci, "alpha-lib", "1.0", 1, ""); return err }()
	refused["start the vote (no vote-start action)"] = func() error { _, err := w.svc.StartVote(ctx, ci, "alpha-lib", "2.0"); return err }()
	refused["cancel a vote"] = w.svc.CancelVote(ctx, ci, "alpha-lib", "2.0", "no")
	refused["acknowledge a concern"] = func() error { _, err := w.svc.AckConcern(ctx, ci, "alpha-lib", "2.0", "paths", "x", "ok"); return err }()
	refused["add a release manager"] = w.svc.AddReleaseManager(ctx, ci, "alpha-lib", "2.0", "committer")
	refused["change the policy"] = func() error { _, err := w.svc.SetPolicy(ctx, ci, "alpha-lib", domain.DefaultPolicy()); return err }()
	refused["add a publisher"] = func() error {
		_, err := w.svc.AddPublisher(ctx, ci, "alpha-lib", domain.TrustedPublisher{Issuer: w.is.URL, Repository: "a/b", Workflow: "w.yml", Actions: []string{"publish"}})
		return err
	}()
	refused["add a member"] = func() error { _, err := w.svc.AddMember(ctx, ci, "alpha", "outsider", domain.RoleMember); return err }()
	refused["create a project"] = func() error { _, err := w.svc.CreateProject(ctx, ci, "alpha-new", "alpha", "New"); return err }()
	refused["make a token"] = func() error { _, _, err := w.svc.CreateToken(ctx, ci, "", "x", time.Hour); return err }()
	refused["add a key"] = func() error { _, err := w.svc.AddKeys(ctx, ci, []byte("x"), core.AddKeysOptions{}); return err }()
	refused["trust a Sigstore identity"] = func() error {
		_, err := w.svc.AddSigstoreIdentity(ctx, ci, "alpha-lib", domain.SigstoreIdentity{Issuer: "https://x", Subject: "a@b"})
		return err
	}()
	refused["read the audit log"] = func() error { _, err := w.svc.AuditLog(ctx, ci, 10); return err }()
	refused["add an issuer"] = func() error {
		_, err := w.svc.AddOIDCIssuer(ctx, ci, domain.OIDCIssuer{URL: "https://ci.example", Kind: "github"})
		return err
	}()
	for what, err := range refused {
		if !domain.IsKind(err, domain.KindForbidden) && !domain.IsKind(err, domain.KindUnauthenticated) {
			t.Errorf("%s: want a refusal, got %v", what, err)
		}
	}
	// Public data stays readable.
	if _, err := w.svc.Policy(ctx, ci, "alpha-other"); err != nil {
		t.Fatal(err)
	}
}

// TestCredentialEndsWithItsPublisher: removing the publisher, suspending
// its account or the credential's 15 minutes end the credential at once.
func TestCredentialEndsWithItsPublisher(t *testing.T) {
	ctx := context.Background()
	w := newCIWorld(t)
	p := w.publisher(t, "alpha-lib", domain.TrustedPublisher{Repository: release.Repository, Workflow: release.Workflow, Actions: []string{"compose"}})
	token := func() string {
		ex, err := w.svc.ExchangeIDToken(ctx, core.Anonymous, w.is.Mint(release.Claims(audience)), "")
		if err != nil {
			t.Fatal(err)
		}
		if ex.ExpiresAt.Sub(time.Now()) > core.CredentialTTL+time.Second {
			t.Fatalf("the credential lives until %s", ex.ExpiresAt)
		}
		return ex.Token
	}
	expiring := token()
	w.skew = core.CredentialTTL + time.Second
	if _, err := w.svc.AuthenticateCredential(ctx, expiring); !domain.IsKind(err, domain.KindUnauthenticated) || !strings.Contains(domain.PublicMessage(err), "expired") {
		t.Fatalf("an expired credential: %v", err)
	}
	w.skew = 0
	suspended := token()
	if err := w.svc.SuspendUser(ctx, core.SystemActor, p.Account); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.AuthenticateCredential(ctx, suspended); !domain.IsKind(err, domain.KindUnauthenticated) {
		t.Fatalf("the credential of a suspended publisher account: %v", err)
	}
	if err := w.svc.ReactivateUser(ctx, core.SystemActor, p.Account); err != nil {
		t.Fatal(err)
	}
	removed := token()
	if err := w.svc.RemovePublisher(ctx, w.actors["member"], "alpha-lib", p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.AuthenticateCredential(ctx, removed); !domain.IsKind(err, domain.KindUnauthenticated) || !strings.Contains(domain.PublicMessage(err), "removed") {
		t.Fatalf("the credential of a removed publisher: %v", err)
	}
	if _, err := w.svc.AuthenticateCredential(ctx, "trel_"+strings.Repeat("A", 43)); !domain.IsKind(err, domain.KindUnauthenticated) {
		t.Fatalf("an API token as a credential: %v", err)
	}
}

// TestCIStartsTheVoteAndPublishes: with vote-start and publish a workflow
// starts the vote, resolves it once it passes and publishes; the
// manifest names the runs, the policy and the committee's keys.
func TestCIStartsTheVoteAndPublishes(t *testing.T) {
	ctx := context.Background()
	w := newCIWorld(t)
	withPublisher(t, w.world)
	sg := newSigner(t, w.world, "member", true)
	signedRelease(t, w.world, sg, "3.0", 0, 1)
	w.publisher(t, "alpha-lib", domain.TrustedPublisher{Repository: release.Repository, Workflow: release.Workflow, Actions: []string{"vote-start", "publish"}})
	rel, _ := w.svc.Release(ctx, w.actors["member"], "alpha-lib", "3.0")
	runChecks(t, w.world, rel) // the publisher is a policy change: checked again
	ci := w.ci(t, release)
	if _, err := w.svc.StartRelease(ctx, ci, "alpha-lib", "4.0"); !domain.IsKind(err, domain.KindForbidden) || !strings.Contains(domain.PublicMessage(err), "compose") {
		t.Fatalf("started a release without compose: %v", err)
	}
	round, err := w.svc.StartVote(ctx, ci, "alpha-lib", "3.0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(round.StartedBy, "ci:alpha-lib:") {
		t.Fatalf("started by %q", round.StartedBy)
	}
	// Not passing yet: a CI credential does not resolve a failing vote.
	if _, err := w.svc.ResolveVote(ctx, ci, "alpha-lib", "3.0"); !domain.IsKind(err, domain.KindForbidden) || !strings.Contains(domain.PublicMessage(err), "does not pass") {
		t.Fatalf("resolved a failing vote: %v", err)
	}
	if _, err := w.svc.CastVote(ctx, w.actors["member"], "alpha-lib", "3.0", 1, "ok"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.ResolveVote(ctx, ci, "alpha-lib", "3.0"); err != nil {
		t.Fatal(err)
	}
	m, err := w.svc.Publish(ctx, ci, "alpha-lib", "3.0")
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range m.Workflows {
		if a.Run.Repository != "apache/alpha" || a.Run.RunURL == "" {
			t.Fatalf("workflow action %+v", a)
		}
		actions = append(actions, a.Action)
	}
	if strings.Join(actions, ",") != "vote.start,vote.resolve,publish" {
		t.Fatalf("manifest workflow runs %v", actions)
	}
	if m.Rules == nil || len(m.Rules.Publishers) != 1 || len(m.Keys) != 1 || m.Keys[0].Fingerprint != sg.fpr || m.Keys[0].Owner == "" {
		t.Fatalf("manifest policy %+v keys %+v", m.Rules, m.Keys)
	}
	evs, _ := w.svc.AuditLog(ctx, w.actors["admin"], 100)
	for _, e := range evs {
		if e.Action == "release.publish" {
			if !bytes.Contains(mustJSON(e.Details["workflow_run"]), []byte(`"repository":"apache/alpha"`)) {
				t.Fatalf("the publication's audit event names no workflow run: %v", e.Details)
			}
			return
		}
	}
	t.Fatal("no release.publish audit event")
}
