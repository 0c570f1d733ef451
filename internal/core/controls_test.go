package core_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/signing"
	"trel/internal/store"
)

// auditActions lists the newest audit actions (newest first).
func auditActions(t *testing.T, w *world, n int) []string {
	t.Helper()
	evs, err := w.svc.Store().ListAudit(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Action)
	}
	return out
}

// TestAbandonRelease: committee members delete a draft (audited), its
// content is left to the storage sweep, the version can be started again;
// committers, outsiders and candidates are refused.
func TestAbandonRelease(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, func(o *core.Options) { o.BlobGrace = time.Hour })
	m := w.actors["member"]
	for _, who := range []string{"committer", "outsider", "anonymous", "other-member"} {
		if err := w.svc.AbandonRelease(ctx, w.actors[who], "alpha-lib", "1.0", "no"); err == nil {
			t.Errorf("%s abandoned a draft", who)
		}
	}
	if err := w.svc.AbandonRelease(ctx, m, "alpha-lib", "1.0", "started by mistake"); err != nil {
		t.Fatal(err)
	}
	if got := auditActions(t, w, 1); got[0] != "release.abandon" {
		t.Errorf("audit: %v", got)
	}
	if _, err := w.svc.Release(ctx, m, "alpha-lib", "1.0"); !domain.IsKind(err, domain.KindNotFound) {
		t.Fatalf("the abandoned release is still there: %v", err)
	}
	// The content no revision uses is collected once the grace is over.
	w.skew = 2 * time.Hour
	rep, err := w.svc.SweepBlobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 1 {
		t.Errorf("the sweep removed %d content records, want the draft's 1", rep.Rows)
	}
	// The version is free again.
	if _, err := w.svc.StartRelease(ctx, m, "alpha-lib", "1.0"); err != nil {
		t.Fatalf("starting 1.0 again: %v", err)
	}
	if err := w.svc.AbandonRelease(ctx, m, "alpha-lib", "9.9", ""); !domain.IsKind(err, domain.KindNotFound) {
		t.Errorf("abandoning what does not exist: %v", err)
	}
}

// TestAbandonCandidateRefused: a release under vote is cancelled first.
func TestAbandonCandidateRefused(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	m := w.actors["member"]
	openVoteWithPlusOne(t, w)
	err := w.svc.AbandonRelease(ctx, m, "alpha-lib", "1.0", "")
	if !domain.IsKind(err, domain.KindConflict) || !strings.Contains(domain.PublicMessage(err), "trel vote cancel") {
		t.Fatalf("abandoning a candidate: %v", err)
	}
}

// TestCancelledVoteStaysInTheHistory: a cancelled round keeps its ballots
// and the reason, listed after the new round that follows; the history is
// the committee's while the release is a draft (public with the tally once
// it is a candidate again).
func TestCancelledVoteStaysInTheHistory(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	m := w.actors["member"]
	openVoteWithPlusOne(t, w)
	if _, err := w.svc.CastVote(ctx, w.actors["committer"], "alpha-lib", "1.0", -1, "NOTICE is wrong"); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.CancelVote(ctx, m, "alpha-lib", "1.0", "the NOTICE file needs this year"); err != nil {
		t.Fatal(err)
	}
	h, err := w.svc.VoteHistory(ctx, m, "alpha-lib", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].Round.CancelReason != "the NOTICE file needs this year" || h[0].Round.ResolvedAt == nil || len(h[0].Votes) != 2 {
		t.Fatalf("history after the cancel: %+v", h)
	}
	if _, err := w.svc.VoteHistory(ctx, w.actors["outsider"], "alpha-lib", "1.0"); err == nil {
		t.Fatal("an outsider reads the votes of another committee's draft")
	}
	if _, _, err := w.svc.StartVoteWithPlusOne(ctx, m, "alpha-lib", "1.0", "again"); err != nil {
		t.Fatal(err)
	}
	h, err = w.svc.VoteHistory(ctx, w.actors["committer"], "alpha-lib", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Round.Round != 2 || h[0].Round.CancelReason != "" || len(h[0].Votes) != 1 || h[1].Round.Round != 1 || h[1].Votes[0].Comment == "" {
		t.Fatalf("history after a new round: %+v", h)
	}
	var found bool
	evs, err := w.svc.Store().AuditPage(ctx, store.AuditFilter{Action: "vote.cancel"}, 0, 10)
	for _, ev := range evs {
		found = found || ev.Details["reason"] == "the NOTICE file needs this year"
	}
	if err != nil || !found {
		t.Fatalf("the cancel is not audited with its reason: %+v, %v", evs, err)
	}
}

// openVoteWithPlusOne opens the vote on a signed alpha-lib 1.0 whose
// checks ran, with the member's own +1 (one binding +1 passes).
func openVoteWithPlusOne(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	m := w.actors["member"]
	pol := domain.DefaultPolicy()
	pol.MinVoteHours, pol.MinBindingPlusOnes = 0, 1
	pol.Unsigned = []domain.UnsignedRule{{Pattern: "*.txt", Reason: "plain text is fine"}}
	if _, err := w.svc.SetPolicy(ctx, m, "alpha-lib", pol); err != nil {
		t.Fatal(err)
	}
	addSignedArtifact(t, w)
	rel, _ := w.svc.Release(ctx, m, "alpha-lib", "1.0")
	runChecks(t, w, rel)
	// The release manager's own +1 comes with the start, when asked.
	_, tally, err := w.svc.StartVoteWithPlusOne(ctx, m, "alpha-lib", "1.0", "checked the signatures")
	if err != nil {
		t.Fatal(err)
	}
	if tally.BindingPlus != 1 || tally.Votes[0].Comment != "checked the signatures" || !tally.Passing {
		t.Errorf("tally after the start with +1: %+v", tally)
	}
}

// TestRestoreRevision: an earlier revision's files come back as a new
// revision (audited); a stale writer gets a conflict; restoring the latest
// or a revision with the same files is refused.
func TestRestoreRevision(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	c := w.actors["committer"]
	b, err := w.svc.UploadFile(ctx, c, "alpha-lib", "1.0", strings.NewReader("other"), -1)
	if err != nil {
		t.Fatal(err)
	}
	// Revision 2: a.txt removed, b.txt added.
	if _, err := w.svc.CreateRevision(ctx, c, "alpha-lib", "1.0", core.RevisionRequest{Changes: []core.Change{
		{Op: "delete", Path: "a.txt"}, {Op: "put", Path: "b.txt", SHA256: b.SHA256}}}); err != nil {
		t.Fatal(err)
	}
	stale := 1
	if _, err := w.svc.RestoreRevision(ctx, c, "alpha-lib", "1.0", 1, &stale); !domain.IsKind(err, domain.KindConflict) {
		t.Fatalf("a stale restore: %v", err)
	}
	res, err := w.svc.RestoreRevision(ctx, c, "alpha-lib", "1.0", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Revision.Number != 3 || len(res.Revision.Files) != 1 || res.Revision.Files[0].Path != "a.txt" || res.Revision.Files[0].SHA256 != w.sha {
		t.Fatalf("restored revision: %+v", res.Revision)
	}
	if got := auditActions(t, w, 2); got[0] != "revision.restore" || got[1] != "revision.create" {
		t.Errorf("audit: %v", got)
	}
	for _, n := range []int{3, 1, 0, 7} {
		if _, err := w.svc.RestoreRevision(ctx, c, "alpha-lib", "1.0", n, nil); err == nil {
			t.Errorf("restoring revision %d of 3 was accepted", n)
		}
	}
	if _, err := w.svc.RestoreRevision(ctx, w.actors["outsider"], "alpha-lib", "1.0", 2, nil); !domain.IsKind(err, domain.KindForbidden) {
		t.Errorf("an outsider restored: %v", err)
	}
}

// TestOwnSessionsAndPasskeys: a user lists and ends their own sessions and
// renames their passkeys, never another user's.
func TestOwnSessionsAndPasskeys(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	st := w.svc.Store().(store.WebStore)
	m, o := w.actors["member"], w.actors["outsider"]
	sess := &store.WebSession{Hash: []byte("0123456789abcdef0123456789abcdef"), UserID: m.User.ID, CreatedAt: time.Now(), LastSeenAt: time.Now(), ClientIP: "192.0.2.7", UserAgent: "Firefox"}
	pk := &store.Passkey{UserID: m.User.ID, Name: "laptop", CredentialID: []byte("cred"), Credential: []byte(`{}`), CreatedAt: time.Now()}
	if err := st.AddPasskey(ctx, pk, 0, time.Now(), domain.AuditEvent{Time: time.Now(), Actor: "system", Action: "passkey.add", Target: "user:member"}); err != nil {
		t.Fatal(err)
	}
	sess.PasskeyID = pk.ID
	if err := st.CreateSession(ctx, sess, domain.AuditEvent{Time: time.Now(), Actor: "member", Action: "session.start", Target: "user:member"}); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.EndMySession(ctx, o, sess.ID); !domain.IsKind(err, domain.KindNotFound) {
		t.Errorf("another user ended the session: %v", err)
	}
	if err := w.svc.RenamePasskey(ctx, o, pk.ID, "mine"); !domain.IsKind(err, domain.KindNotFound) {
		t.Errorf("another user renamed the passkey: %v", err)
	}
	if err := w.svc.RenamePasskey(ctx, m, pk.ID, " "); !domain.IsKind(err, domain.KindInvalid) || domain.FieldOf(err) != "name" {
		t.Errorf("an empty name: %v", err)
	}
	if err := w.svc.RenamePasskey(ctx, m, pk.ID, "work laptop"); err != nil {
		t.Fatal(err)
	}
	pks, err := w.svc.MyPasskeys(ctx, m)
	if err != nil || len(pks) != 1 || pks[0].Name != "work laptop" {
		t.Fatalf("passkeys: %+v %v", pks, err)
	}
	ss, err := w.svc.MySessions(ctx, m)
	if err != nil || len(ss) != 1 || ss[0].UserAgent != "Firefox" {
		t.Fatalf("sessions: %+v %v", ss, err)
	}
	if err := w.svc.EndMySession(ctx, m, sess.ID); err != nil {
		t.Fatal(err)
	}
	if ss, _ := w.svc.MySessions(ctx, m); len(ss) != 0 {
		t.Errorf("the session is still there: %+v", ss)
	}
	if got := auditActions(t, w, 2); got[0] != "session.end" || got[1] != "passkey.rename" {
		t.Errorf("audit: %v", got)
	}
}

// TestProofSignatureOverEditedChallenge: a proof made over the challenge
// as an editor saved it (no final newline, CRLF) proves the key; over any
// other text it does not. The open challenge can be read back to download.
func TestProofSignatureOverEditedChallenge(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		edit func(string) string
		ok   bool
	}{
		{"ok/as given", func(s string) string { return s }, true},
		{"ok/without the final newline", func(s string) string { return strings.TrimSuffix(s, "\n") }, true},
		{"ok/with CRLF line ends", func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }, true},
		{"fail/another text", func(s string) string { return s + "extra\n" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			m := w.actors["member"]
			g, err := signing.Generate(signing.GenerateOptions{Name: "Member", Email: "member@example.org"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.AddKeys(ctx, m, g.PublicKey, core.AddKeysOptions{}); err != nil {
				t.Fatal(err)
			}
			text, err := w.svc.KeyChallenge(ctx, m, g.Fingerprint)
			if err != nil {
				t.Fatal(err)
			}
			if back, err := w.svc.MyChallenge(ctx, m, g.Fingerprint); err != nil || back != text {
				t.Fatalf("the open challenge: %q %v", back, err)
			}
			if _, err := w.svc.MyChallenge(ctx, w.actors["committer"], g.Fingerprint); !domain.IsKind(err, domain.KindNotFound) {
				t.Errorf("another user read the challenge: %v", err)
			}
			sigs, err := signing.Sign(g.Secret, []signing.FileToSign{{Path: "challenge.txt", Reader: strings.NewReader(tc.edit(text))}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.svc.ProveKey(ctx, m, g.Fingerprint, sigs[0].Armored)
			if (err == nil) != tc.ok {
				t.Fatalf("prove: %v, want ok %v", err, tc.ok)
			}
		})
	}
}
