package core_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/downloads"
	"trel/internal/signing"
	"trel/internal/store"
	"trel/internal/testutil/archivetest"
)

// signer is a key whose secret the test holds, registered in trel.
type signer struct {
	fpr    string
	secret []byte
	public []byte
}

// newSigner makes a key for user (whose address is USER@example.org),
// links it to committee alpha and, when prove is set, proves it.
func newSigner(t *testing.T, w *world, user string, prove bool) *signer {
	t.Helper()
	ctx := context.Background()
	g, err := signing.Generate(signing.GenerateOptions{Name: user, Email: user + "@example.org", Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	s := &signer{fpr: g.Fingerprint, secret: g.Secret, public: g.PublicKey}
	a := w.actors[user]
	if _, err := w.svc.AddKeys(ctx, a, s.public, core.AddKeysOptions{Committees: []string{"alpha"}}); err != nil {
		t.Fatal(err)
	}
	if prove {
		s.prove(t, w, a)
	}
	return s
}

func (s *signer) sign(t *testing.T, data []byte) []byte {
	t.Helper()
	// Ten minutes ago, so that a later revocation is clearly later.
	sigs, err := signing.SignWithOptions(s.secret, []signing.FileToSign{{Path: "f", Reader: bytes.NewReader(data)}},
		signing.SignOptions{Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	return sigs[0].Armored
}

func (s *signer) prove(t *testing.T, w *world, a *core.Actor) {
	t.Helper()
	ctx := context.Background()
	text, err := w.svc.KeyChallenge(ctx, a, s.fpr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.ProveKey(ctx, a, s.fpr, s.sign(t, []byte(text))); err != nil {
		t.Fatal(err)
	}
}

// revoke re-uploads the key with a revocation of the given reason.
func (s *signer) revoke(t *testing.T, w *world, a *core.Actor, reason signing.RevocationReason) {
	t.Helper()
	r, err := signing.Revoke(s.secret, reason, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.secret = r.Secret
	if _, err := w.svc.AddKeys(context.Background(), a, r.PublicKey, core.AddKeysOptions{}); err != nil {
		t.Fatal(err)
	}
}

// signedRelease starts alpha-lib VERSION (member is its release manager)
// with one artifact signed by sg and its checksum, under a policy of
// minHours and minBinding, and runs its checks: no blocker.
func signedRelease(t *testing.T, w *world, sg *signer, version string, minHours, minBinding int) *domain.Release {
	t.Helper()
	ctx := context.Background()
	m := w.actors["member"]
	pol := domain.DefaultPolicy()
	pol.MinVoteHours, pol.MinBindingPlusOnes = minHours, minBinding
	if _, err := w.svc.SetPolicy(ctx, m, "alpha-lib", pol); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.StartRelease(ctx, m, "alpha-lib", version); err != nil {
		t.Fatal(err)
	}
	name := "alpha-lib-" + version + "-src.tar.gz"
	data := archivetest.SourceTarGz(t, "alpha-lib-"+version+"-src", []byte("the source of alpha-lib "+version))
	sum := sha512.Sum512(data)
	files := map[string][]byte{
		name:             data,
		name + ".asc":    sg.sign(t, data),
		name + ".sha512": []byte(hex.EncodeToString(sum[:]) + "  " + name + "\n"),
	}
	var changes []core.Change
	for p, content := range files {
		b, err := w.svc.UploadFile(ctx, m, "alpha-lib", version, bytes.NewReader(content), -1)
		if err != nil {
			t.Fatal(err)
		}
		changes = append(changes, core.Change{Op: "put", Path: p, SHA256: b.SHA256})
	}
	if _, err := w.svc.CreateRevision(ctx, m, "alpha-lib", version, core.RevisionRequest{Changes: changes}); err != nil {
		t.Fatal(err)
	}
	rel, err := w.svc.Release(ctx, m, "alpha-lib", version)
	if err != nil {
		t.Fatal(err)
	}
	runChecks(t, w, rel)
	mustHoldUp(t, w, version)
	return rel
}

// mustHoldUp fails the test when the latest revision has a blocker or an exception.
func mustHoldUp(t *testing.T, w *world, version string) {
	t.Helper()
	rep, err := w.svc.Checks(context.Background(), w.actors["member"], "alpha-lib", version, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Finished || rep.Summary[domain.StatusBlocker]+rep.Summary[domain.StatusException] > 0 {
		t.Fatalf("the release does not hold up: %+v", rep.Results)
	}
}

func wantConflict(t *testing.T, err error, contains ...string) {
	t.Helper()
	if !domain.IsKind(err, domain.KindConflict) {
		t.Fatalf("want a conflict, got %v", err)
	}
	for _, c := range contains {
		if !strings.Contains(domain.PublicMessage(err), c) {
			t.Fatalf("the refusal does not say %q: %s", c, domain.PublicMessage(err))
		}
	}
}

func withPublisher(t *testing.T, w *world) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "downloads")
	tree, err := downloads.New(dir, w.blobs)
	if err != nil {
		t.Fatal(err)
	}
	w.svc.SetPublisher(tree, nil)
	return dir
}

// TestKeyRevokedDuringTheVote is the defect found in review: a key revoked
// as compromised while the vote ran, and the release was still resolved
// and published naming it. Now the candidate is checked again at once,
// and resolving waits for the re-check, then refuses on its blocker.
func TestKeyRevokedDuringTheVote(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	withPublisher(t, w)
	m := w.actors["member"]
	sg := newSigner(t, w, "member", true)
	rel := signedRelease(t, w, sg, "2.0", 0, 1)
	if _, err := w.svc.StartVote(ctx, m, "alpha-lib", "2.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.CastVote(ctx, m, "alpha-lib", "2.0", 1, ""); err != nil {
		t.Fatal(err)
	}
	sg.revoke(t, w, m, signing.RevokeCompromised)

	_, err := w.svc.ResolveVote(ctx, m, "alpha-lib", "2.0")
	wantConflict(t, err, "queued again", "trel checks wait alpha-lib 2.0")
	runChecks(t, w, rel)
	_, err = w.svc.ResolveVote(ctx, m, "alpha-lib", "2.0")
	wantConflict(t, err, "blocker on alpha-lib-2.0-src.tar.gz.asc (signature)", "trel vote cancel alpha-lib 2.0")
	if r, _ := w.svc.Release(ctx, m, "alpha-lib", "2.0"); r.Phase != domain.PhaseCandidate {
		t.Fatalf("phase %s after a refused resolve", r.Phase)
	}
	// The way forward: cancel, which returns the release to draft.
	if err := w.svc.CancelVote(ctx, m, "alpha-lib", "2.0", ""); !domain.IsKind(err, domain.KindInvalid) {
		t.Fatalf("cancel without a reason: %v", err)
	}
	if err := w.svc.CancelVote(ctx, m, "alpha-lib", "2.0", "the signing key was compromised"); err != nil {
		t.Fatal(err)
	}
	if r, _ := w.svc.Release(ctx, m, "alpha-lib", "2.0"); r.Phase != domain.PhaseDraft {
		t.Fatalf("phase %s after cancel", r.Phase)
	}
}

// TestKeyRevokedAfterTheVotePassed: in preview, a compromise revocation
// re-checks the release and publication refuses; a "superseded"
// revocation leaves the old signature valid for the checks, but the
// manifest never names a revoked key, so publication refuses too.
func TestKeyRevokedAfterTheVotePassed(t *testing.T) {
	for _, c := range []struct {
		name   string
		reason signing.RevocationReason
		says   []string
	}{
		{"compromised", signing.RevokeCompromised, []string{"blocker on", "trel vote cancel"}},
		{"superseded", signing.RevokeSuperseded, []string{"no longer count", "was revoked"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t)
			dir := withPublisher(t, w)
			m := w.actors["member"]
			sg := newSigner(t, w, "member", true)
			rel := signedRelease(t, w, sg, "2.0", 0, 1)
			if _, err := w.svc.StartVote(ctx, m, "alpha-lib", "2.0"); err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.CastVote(ctx, m, "alpha-lib", "2.0", 1, ""); err != nil {
				t.Fatal(err)
			}
			if tl, err := w.svc.ResolveVote(ctx, m, "alpha-lib", "2.0"); err != nil || !*tl.Round.Passed {
				t.Fatalf("resolve: %v", err)
			}
			sg.revoke(t, w, m, c.reason)
			_, err := w.svc.Publish(ctx, m, "alpha-lib", "2.0")
			wantConflict(t, err, "trel checks wait")
			runChecks(t, w, rel)
			_, err = w.svc.Publish(ctx, m, "alpha-lib", "2.0")
			wantConflict(t, err, c.says...)
			if matches, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*", "*")); len(matches) > 0 {
				t.Fatalf("files were published: %v", matches)
			}
		})
	}
}

// TestPublicationNamesTheRoundsRulesAndKeepsHistoricKeys: the manifest
// states the policy version and rules the vote was counted under (not the
// current ones), and the signer stays in KEYS as historic after deletion.
func TestPublicationNamesTheRoundsRulesAndKeepsHistoricKeys(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	withPublisher(t, w)
	m := w.actors["member"]
	sg := newSigner(t, w, "member", true)
	rel := signedRelease(t, w, sg, "2.0", 0, 1)
	round, err := w.svc.StartVote(ctx, m, "alpha-lib", "2.0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.CastVote(ctx, m, "alpha-lib", "2.0", 1, ""); err != nil {
		t.Fatal(err)
	}
	// A stricter policy after the start applies to the checks, not to the vote.
	pol, _ := w.svc.Policy(ctx, m, "alpha-lib")
	pol.MinBindingPlusOnes, pol.MinVoteHours = 5, 100
	if _, err := w.svc.SetPolicy(ctx, m, "alpha-lib", *pol); err != nil {
		t.Fatal(err)
	}
	runChecks(t, w, rel)
	if _, err := w.svc.ResolveVote(ctx, m, "alpha-lib", "2.0"); err != nil {
		t.Fatal(err)
	}
	man, err := w.svc.Publish(ctx, m, "alpha-lib", "2.0")
	if err != nil {
		t.Fatal(err)
	}
	if man.Policy != round.PolicyVersion || man.VoteRules.MinBindingPlusOnes != 1 || man.VoteRules.MinVoteHours != 0 || man.ChecksPolicy != round.PolicyVersion+1 {
		t.Fatalf("manifest rules: policy %d, rules %+v, checks policy %d (round's policy %d)", man.Policy, man.VoteRules, man.ChecksPolicy, round.PolicyVersion)
	}
	var signers []string
	for _, f := range man.Files {
		for _, s := range f.Signers {
			signers = append(signers, s["fingerprint"].(string))
		}
	}
	if len(signers) != 1 || signers[0] != sg.fpr {
		t.Fatalf("signers %v", signers)
	}
	if err := w.svc.DeleteKey(ctx, m, sg.fpr); err != nil {
		t.Fatal(err)
	}
	keys, _ := w.svc.KEYSFile(ctx, "alpha")
	if !strings.Contains(string(keys), sg.fpr) || !strings.Contains(string(keys), "# Historic:    deleted") || !strings.Contains(string(keys), "alpha-lib 2.0") {
		t.Fatalf("the historic signer left KEYS:\n%s", keys)
	}
}

// TestThresholdLoweredMidVote: lowering the binding threshold (and the
// duration) during a vote neither passes it nor shortens it; the change is
// audited and shown with the vote.
func TestThresholdLoweredMidVote(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	m := w.actors["member"]
	sg := newSigner(t, w, "member", true)
	rel := signedRelease(t, w, sg, "2.0", 72, 3)
	if _, err := w.svc.StartVote(ctx, m, "alpha-lib", "2.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.CastVote(ctx, m, "alpha-lib", "2.0", 1, ""); err != nil {
		t.Fatal(err)
	}
	pol, _ := w.svc.Policy(ctx, m, "alpha-lib")
	pol.MinBindingPlusOnes, pol.MinVoteHours = 1, 0
	if _, err := w.svc.SetPolicy(ctx, m, "alpha-lib", *pol); err != nil {
		t.Fatal(err)
	}
	runChecks(t, w, rel)
	tl, err := w.svc.Tally(ctx, core.Anonymous, "alpha-lib", "2.0")
	if err != nil {
		t.Fatal(err)
	}
	if tl.Passing || tl.MayClose || tl.Round.MinBindingPlusOnes != 3 {
		t.Fatalf("the lowered rules apply to the running vote: %+v", tl)
	}
	if len(tl.RuleChanges) != 1 || !tl.RuleChanges[0].AfterStart || !strings.Contains(tl.RuleChanges[0].String(), "binding +1 votes needed 3 -> 1") {
		t.Fatalf("the weakening is not shown with the vote: %+v", tl.RuleChanges)
	}
	evs, _ := w.svc.AuditLog(ctx, core.SystemActor, 50)
	found := false
	for _, ev := range evs {
		if ev.Action == "policy.vote_rules.weakened" {
			found = true
			if open, _ := json.Marshal(ev.Details["open_votes"]); string(open) != `["2.0"]` {
				t.Fatalf("open votes in the audit event: %s", open)
			}
		}
	}
	if !found {
		t.Fatal("the weakening was not audited")
	}
	w.skew = 73 * time.Hour
	tl, err = w.svc.ResolveVote(ctx, m, "alpha-lib", "2.0")
	if err != nil || *tl.Round.Passed {
		t.Fatalf("one binding +1 passed a vote that needs 3: %v", err)
	}
	// A vote started after a recent weakening shows it too.
	signedRelease(t, w, sg, "2.1", 0, 1)
	if _, err := w.svc.StartVote(ctx, m, "alpha-lib", "2.1"); err != nil {
		t.Fatal(err)
	}
	tl, _ = w.svc.Tally(ctx, core.Anonymous, "alpha-lib", "2.1")
	if len(tl.RuleChanges) == 0 || tl.RuleChanges[len(tl.RuleChanges)-1].AfterStart {
		t.Fatalf("earlier weakenings are not shown: %+v", tl.RuleChanges)
	}
}

// TestReleaseManagersMustParticipate: an outsider cannot be made release
// manager; removing a member from the committee ends their roles there,
// and a removed release manager can do nothing privileged.
func TestReleaseManagersMustParticipate(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	m := w.actors["member"]
	err := w.svc.AddReleaseManager(ctx, m, "alpha-lib", "1.0", "outsider")
	if !domain.IsKind(err, domain.KindInvalid) || !strings.Contains(domain.PublicMessage(err), "trel member add alpha outsider") {
		t.Fatalf("outsider made release manager: %v", err)
	}
	if err := w.svc.AddReleaseManager(ctx, m, "alpha-lib", "1.0", "committer"); err != nil {
		t.Fatal(err)
	}
	rms, _ := w.svc.ReleaseManagers(ctx, m, "alpha-lib", "1.0")
	if strings.Join(rms, ",") != "committer,member" {
		t.Fatalf("release managers %v", rms)
	}
	// A committer stays release manager when a member is demoted to committer.
	if _, err := w.svc.AddMember(ctx, core.SystemActor, "alpha", "member", domain.RoleCommitter); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.AckConcern(ctx, m, "alpha-lib", "1.0", "paths", "a.txt", "x"); domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("a demoted release manager lost the role: %v", err)
	}
	if err := w.svc.RemoveMember(ctx, core.SystemActor, "alpha", "committer"); err != nil {
		t.Fatal(err)
	}
	if rms, _ := w.svc.ReleaseManagers(ctx, m, "alpha-lib", "1.0"); strings.Join(rms, ",") != "member" {
		t.Fatalf("the removed member is still release manager: %v", rms)
	}
	removed := w.actors["committer"]
	for name, call := range map[string]func() error{
		"ack": func() error {
			_, err := w.svc.AckConcern(ctx, removed, "alpha-lib", "1.0", "paths", "a.txt", "x")
			return err
		},
		"vote":    func() error { _, err := w.svc.StartVote(ctx, removed, "alpha-lib", "1.0"); return err },
		"resolve": func() error { _, err := w.svc.ResolveVote(ctx, removed, "alpha-lib", "1.0"); return err },
		"publish": func() error { _, err := w.svc.Publish(ctx, removed, "alpha-lib", "1.0"); return err },
		"cancel":  func() error { return w.svc.CancelVote(ctx, removed, "alpha-lib", "1.0", "x") },
	} {
		if err := call(); !domain.IsKind(err, domain.KindForbidden) {
			t.Errorf("%s by a removed release manager: %v", name, err)
		}
	}
	evs, _ := w.svc.AuditLog(ctx, core.SystemActor, 5)
	if evs[0].Action != "member.remove" || !strings.Contains(string(mustJSON(evs[0].Details)), "alpha-lib 1.0") {
		t.Fatalf("the ended roles are not audited: %+v", evs[0])
	}
	// A release manager whose role row survived (data from before this
	// rule) but who left the committee is refused all the same, also on a
	// public candidate.
	if _, err := w.svc.AddMember(ctx, core.SystemActor, "alpha", "member", domain.RoleMember); err != nil {
		t.Fatal(err)
	}
	rel := signedRelease(t, w, newSigner(t, w, "member", true), "2.0", 0, 1)
	if _, err := w.svc.StartVote(ctx, m, "alpha-lib", "2.0"); err != nil {
		t.Fatal(err)
	}
	err = w.svc.Store().Tx(ctx, func(tx store.Tx) error {
		return tx.AddReleaseManager(ctx, rel.ID, removed.User.ID, time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.ResolveVote(ctx, removed, "alpha-lib", "2.0"); !domain.IsKind(err, domain.KindForbidden) || !strings.Contains(domain.PublicMessage(err), "no longer a member or committer") {
		t.Fatalf("a former participant acted as release manager: %v", err)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TestBindingVoteOfRemovedMember: a binding vote counts only while its
// voter is still a member of the committee; resolving freezes the count.
func TestBindingVoteOfRemovedMember(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	m := w.actors["member"]
	if _, err := w.svc.AddMember(ctx, core.SystemActor, "alpha", "other-member", domain.RoleMember); err != nil {
		t.Fatal(err)
	}
	sg := newSigner(t, w, "member", true)
	rel := signedRelease(t, w, sg, "2.0", 0, 2)
	if _, err := w.svc.StartVote(ctx, m, "alpha-lib", "2.0"); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"member", "other-member"} {
		if _, err := w.svc.CastVote(ctx, w.actors[who], "alpha-lib", "2.0", 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	if tl, _ := w.svc.Tally(ctx, m, "alpha-lib", "2.0"); !tl.Passing {
		t.Fatalf("two binding +1 of 2 needed: %+v", tl)
	}
	if err := w.svc.RemoveMember(ctx, core.SystemActor, "alpha", "other-member"); err != nil {
		t.Fatal(err)
	}
	runChecks(t, w, rel)
	tl, _ := w.svc.Tally(ctx, m, "alpha-lib", "2.0")
	if tl.Passing || tl.BindingPlus != 1 || tl.NonBindingPlus != 1 {
		t.Fatalf("the removed member's vote still binds: %+v", tl)
	}
	var note string
	for _, v := range tl.Votes {
		if v.User == "other-member" {
			note = v.Discounted
		}
	}
	if !strings.Contains(note, "no longer on committee alpha") {
		t.Fatalf("the tally does not say why: %q", note)
	}
	tl, err := w.svc.ResolveVote(ctx, m, "alpha-lib", "2.0")
	if err != nil || *tl.Round.Passed {
		t.Fatalf("resolve: %+v %v", tl, err)
	}
	// Coming back does not revive the frozen vote.
	if _, err := w.svc.AddMember(ctx, core.SystemActor, "alpha", "other-member", domain.RoleMember); err != nil {
		t.Fatal(err)
	}
	if tl, _ := w.svc.Tally(ctx, m, "alpha-lib", "2.0"); tl.BindingPlus != 1 {
		t.Fatalf("a resolved round was recounted: %+v", tl)
	}
}

// TestKEYSHoldsOnlyKeysThatCount is the "PMC Chair" defect: a committer
// linked a key nobody proved to hold, and KEYS (so gpg) and trel verify
// then trusted it.
func TestKEYSHoldsOnlyKeysThatCount(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	chair, err := signing.Generate(signing.GenerateOptions{Name: "PMC Chair", Email: "chair@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.AddKeys(ctx, w.actors["committer"], chair.PublicKey, core.AddKeysOptions{Committees: []string{"alpha"}})
	if !domain.IsKind(err, domain.KindForbidden) || !strings.Contains(domain.PublicMessage(err), "Only a member of committee alpha") {
		t.Fatalf("a committer linked someone else's key: %v", err)
	}
	if k, err := w.svc.Key(ctx, core.Anonymous, chair.Fingerprint); err == nil {
		t.Fatalf("the refused upload stored the key: %+v", k)
	}
	// A member may link it, but it stays out of KEYS until proven.
	if _, err := w.svc.AddKeys(ctx, w.actors["member"], chair.PublicKey, core.AddKeysOptions{Committees: []string{"alpha"}}); err != nil {
		t.Fatal(err)
	}
	keys := func() string {
		k, err := w.svc.KEYSFile(ctx, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		return string(k)
	}
	if strings.Contains(keys(), chair.Fingerprint) {
		t.Fatal("an unproven key is in KEYS")
	}
	// A committer links their own key, which enters KEYS once proven.
	own := newSigner(t, w, "committer", false)
	if strings.Contains(keys(), own.fpr) {
		t.Fatal("the committer's key is in KEYS before the proof")
	}
	own.prove(t, w, w.actors["committer"])
	if !strings.Contains(keys(), own.fpr) || !strings.Contains(keys(), "# Owner:       committer (proven by challenge)") {
		t.Fatalf("the proven key is missing:\n%s", keys())
	}
	// It leaves KEYS with its owner (it signed no published release).
	if err := w.svc.RemoveMember(ctx, core.SystemActor, "alpha", "committer"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(keys(), own.fpr) {
		t.Fatal("a former committer's key is still in KEYS")
	}
	// The committee's automation key, registered by a member, counts.
	if _, err := w.svc.AddKeys(ctx, w.actors["member"], chair.PublicKey, core.AddKeysOptions{Committees: []string{"alpha"}, Automation: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(keys(), "# Owner:       automation key of committee alpha (registered by member)") {
		t.Fatalf("the automation key is missing:\n%s", keys())
	}
}

// TestDeletedKeyStaysDeleted: a re-upload by anyone never clears the
// deletion, the owner or the links; it may add a revocation. The owner
// restores by proving again, an administrator directly.
func TestDeletedKeyStaysDeleted(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	m := w.actors["member"]
	sg := newSigner(t, w, "member", true)
	if err := w.svc.DeleteKey(ctx, m, sg.fpr); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"outsider", "member", "admin"} {
		rep, err := w.svc.AddKeys(ctx, w.actors[who], sg.public, core.AddKeysOptions{Committees: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Unchanged != 1 || !strings.Contains(rep.Blocks[0].Keys[0].Reason, "stays deleted") {
			t.Fatalf("re-upload by %s: %+v", who, rep.Blocks)
		}
	}
	// Also with a committee to link: the deleted key gains no link.
	if _, err := w.svc.AddKeys(ctx, m, sg.public, core.AddKeysOptions{Committees: []string{"beta"}}); err == nil {
		t.Fatal("a member of alpha linked a key to beta")
	}
	k, _ := w.svc.Key(ctx, core.Anonymous, sg.fpr)
	if k.DeletedAt == nil || k.Owner != "member" || len(k.Committees) != 1 {
		t.Fatalf("the re-upload changed the deleted key: deleted %v, owner %q, links %+v", k.DeletedAt, k.Owner, k.Committees)
	}
	// A revocation is taken, the deletion stays.
	sg.revoke(t, w, w.actors["outsider"], signing.RevokeCompromised)
	k, _ = w.svc.Key(ctx, core.Anonymous, sg.fpr)
	if k.RevokedAt == nil || k.DeletedAt == nil {
		t.Fatalf("revocation on a deleted key: revoked %v, deleted %v", k.RevokedAt, k.DeletedAt)
	}
	// Restoring: not by others, by an administrator, or by the owner's proof.
	for _, who := range []string{"outsider", "member", "committer"} {
		if _, err := w.svc.RestoreKey(ctx, w.actors[who], sg.fpr); !domain.IsKind(err, domain.KindForbidden) || !strings.Contains(domain.PublicMessage(err), "trel keys challenge") {
			t.Fatalf("restore by %s: %v", who, err)
		}
	}
	if _, err := w.svc.RestoreKey(ctx, w.actors["admin"], sg.fpr); err != nil {
		t.Fatal(err)
	}
	if k, _ = w.svc.Key(ctx, core.Anonymous, sg.fpr); k.DeletedAt != nil {
		t.Fatal("the administrator's restore did not restore")
	}
	other := newSigner(t, w, "member", true)
	if err := w.svc.DeleteKey(ctx, m, other.fpr); err != nil {
		t.Fatal(err)
	}
	if del, _ := w.svc.MyDeletedKeys(ctx, m); len(del) != 1 || del[0].Fingerprint != other.fpr {
		t.Fatalf("deleted keys %+v", del)
	}
	if _, err := w.svc.KeyChallenge(ctx, w.actors["committer"], other.fpr); !domain.IsKind(err, domain.KindConflict) {
		t.Fatalf("another user may claim the deleted key: %v", err)
	}
	other.prove(t, w, m)
	if k, _ = w.svc.Key(ctx, core.Anonymous, other.fpr); k.DeletedAt != nil || k.Owner != "member" {
		t.Fatalf("the owner's proof did not restore: %+v", k)
	}
}

// TestStoredEscapingPatternMatchesNobody: an identity stored before the
// anchoring was fixed (so never validated) is reported and matches nobody.
func TestStoredEscapingPatternMatchesNobody(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	m := w.actors["member"]
	bad := domain.SigstoreIdentity{Issuer: "https://token.actions.githubusercontent.com",
		SubjectRegexp: `https://github\.com/org/repo/\.github/workflows/release\.yml@refs/tags/v.*)|(.*`}
	if _, err := w.svc.AddSigstoreIdentity(ctx, m, "alpha-lib", bad); !domain.IsKind(err, domain.KindInvalid) {
		t.Fatalf("the escaping pattern was accepted: %v", err)
	}
	err := w.svc.Store().Tx(ctx, func(tx store.Tx) error {
		p, err := tx.ProjectByKey(ctx, "alpha-lib")
		if err != nil {
			return err
		}
		return tx.AddSigstoreIdentity(ctx, p.ID, &bad, m.User.ID, time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := w.svc.SigstoreIdentities(ctx, core.Anonymous, "alpha-lib")
	if err != nil || len(ids) != 1 || !strings.Contains(ids[0].Problem, "matches no signer") {
		t.Fatalf("the stored pattern's problem is not reported: %+v %v", ids, err)
	}
}
