package core_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/store/sqlstore"
	"trel/internal/testutil/archivetest"
)

// TestBallotCommentInMail: a voter's comment goes to the list in a mail
// trel sends, so it must not pass for trel's own words: its lines are
// quoted (a forged "+1 (binding)" line or "-- " signature with another
// voter's name stays inside the quote) and invisible or reordering
// characters are shown escaped, in the copy and in the receipt.
func TestBallotCommentInMail(t *testing.T) {
	ctx := context.Background()
	w := newMailWorld(t)
	m, c := w.actors["member"], w.actors["committer"]
	w.candidate(t, "1.0", core.StartReleaseOptions{})
	if _, err := w.svc.StartVote(ctx, m, "alpha-lib", "1.0"); err != nil {
		t.Fatal(err)
	}
	forged := "looks fine\u202e\r\n\n+1 (binding)\n\n-- \nmember cast this vote in trel on 2026-12-03 10:00 UTC:\nhttps://trel.example.org/projects/alpha-lib/releases/1.0\n\x1b[2K"
	if _, err := w.svc.CastVote(ctx, c, "alpha-lib", "1.0", 0, forged); err != nil {
		t.Fatal(err)
	}
	w.deliverDue(t)
	var bodies []string
	for _, r := range w.inbox(t)[1:] {
		bodies = append(bodies, r.body)
	}
	if len(bodies) != 2 {
		t.Fatalf("%d mails after the ballot (want the copy and the receipt)", len(bodies))
	}
	for _, body := range bodies {
		if strings.ContainsAny(body, "\u202e\x1b\r") || !strings.Contains(body, `looks fine\u202e`) {
			t.Errorf("the comment's invisible characters reached the mail:\n%q", body)
		}
		sigs := 0
		for _, line := range strings.Split(body, "\n") {
			if line == "+1 (binding)" || strings.HasPrefix(line, "member cast") {
				t.Errorf("a comment line passes for trel's own: %q in\n%s", line, body)
			}
			if line == "-- " {
				sigs++
			}
		}
		if sigs > 1 {
			t.Errorf("the comment adds a signature delimiter:\n%s", body)
		}
	}
}

// TestArchivePreviousOnlyOlder: automatic archiving archives the older
// releases of the line, never a newer one: a backport (2.3.5 published
// after 2.4.10, one major line) or a late 2.4.9 leaves 2.4.10 in the
// downloads; versions compare as versions (2.4.10 > 2.4.9, 3.0.0-rc1 <
// 3.0.0), not as text.
func TestArchivePreviousOnlyOlder(t *testing.T) {
	ctx := context.Background()
	w := newMailWorld(t)
	m := w.actors["member"]
	pol, _ := w.svc.Policy(ctx, m, "alpha-lib")
	pol.ArchivePrevious = domain.ArchiveMajor
	if _, err := w.svc.SetPolicy(ctx, m, "alpha-lib", *pol); err != nil {
		t.Fatal(err)
	}
	archived := func(version string) bool {
		rel, err := w.svc.Release(ctx, m, "alpha-lib", version)
		if err != nil {
			t.Fatal(err)
		}
		return rel.ArchivedAt != nil
	}
	w.publish(t, "2.4.10", core.StartReleaseOptions{})
	w.publish(t, "2.4.9", core.StartReleaseOptions{})
	if archived("2.4.10") || archived("2.4.9") {
		t.Fatalf("after 2.4.9 was published after 2.4.10: 2.4.10 archived %v, 2.4.9 archived %v (neither should be)", archived("2.4.10"), archived("2.4.9"))
	}
	w.publish(t, "2.3.5", core.StartReleaseOptions{})
	if archived("2.4.10") {
		t.Fatal("publishing the backport 2.3.5 archived the newer 2.4.10")
	}
	w.publish(t, "3.0.0-rc1", core.StartReleaseOptions{})
	w.publish(t, "3.0.0", core.StartReleaseOptions{})
	if !archived("3.0.0-rc1") || archived("3.0.0") {
		t.Fatal("3.0.0 did not archive its release candidate 3.0.0-rc1")
	}
}

// TestConcurrentYankAndArchive: ten release managers' requests racing to
// yank (then un-yank, then archive) one release: exactly one of each
// succeeds, the others are conflicts, and the audit log has one event of
// each (a second yank would have replaced the reason and called the
// webhooks twice).
func TestConcurrentYankAndArchive(t *testing.T) {
	ctx := context.Background()
	w := newMailWorld(t)
	m := w.actors["member"]
	w.publish(t, "1.0", core.StartReleaseOptions{})
	for _, op := range []struct {
		action string
		do     func(i int) error
	}{
		{"release.yank", func(i int) error {
			_, err := w.svc.YankRelease(ctx, m, "alpha-lib", "1.0", fmt.Sprintf("reason %d", i))
			return err
		}},
		{"release.unyank", func(int) error { _, err := w.svc.UnyankRelease(ctx, m, "alpha-lib", "1.0"); return err }},
		{"release.archive", func(int) error { _, err := w.svc.ArchiveRelease(ctx, m, "alpha-lib", "1.0"); return err }},
	} {
		ok, conflicts := race(t, 10, op.do)
		events, _ := w.svc.AuditLog(ctx, w.actors["admin"], 200)
		n := 0
		for _, e := range events {
			if e.Action == op.action {
				n++
			}
		}
		if ok != 1 || conflicts != 9 || n != 1 {
			t.Errorf("%s: %d succeeded, %d conflicts, %d audit events (want 1, 9, 1)", op.action, ok, conflicts, n)
		}
	}
}

// TestWebhookLimitUnderConcurrency: thirty webhooks added at once leave
// exactly twenty (the limit), the others refused as conflicts.
func TestWebhookLimitUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	w := newMailWorld(t)
	m := w.actors["member"]
	ok, conflicts := race(t, 30, func(i int) error {
		_, err := w.svc.AddWebhook(ctx, m, "alpha-lib", core.NewWebhook{URL: fmt.Sprintf("https://ci.example.org/hook/%d", i)})
		return err
	})
	hooks, err := w.svc.Webhooks(ctx, m, "alpha-lib")
	if err != nil || len(hooks) != 20 || ok != 20 || conflicts != 10 {
		t.Fatalf("%d webhooks (%v), %d added, %d conflicts; want 20, 20, 10", len(hooks), err, ok, conflicts)
	}
}

// race runs do(0..n-1) at once and counts successes and conflicts (any
// other error fails the test).
func race(t *testing.T, n int, do func(i int) error) (ok, conflicts int32) {
	var wg sync.WaitGroup
	var okN, conflictN atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := do(i); {
			case err == nil:
				okN.Add(1)
			case domain.IsKind(err, domain.KindConflict):
				conflictN.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	return okN.Load(), conflictN.Load()
}

// TestCIDraftBlockersReachTheCommittee: a draft a CI workflow started has
// no release manager (a workflow is none), so "a blocker on your draft"
// goes to the committee's members, who trusted the workflow and may add
// a release manager; not to its committers, nor to anyone else.
func TestCIDraftBlockersReachTheCommittee(t *testing.T) {
	ctx := context.Background()
	w := newCIWorld(t)
	w.publisher(t, "alpha-lib", domain.TrustedPublisher{Repository: release.Repository, Workflow: release.Workflow, Actions: []string{"compose"}})
	ci := w.ci(t, release)
	if _, err := w.svc.StartRelease(ctx, ci, "alpha-lib", "2.0"); err != nil {
		t.Fatal(err)
	}
	b, err := w.svc.UploadFile(ctx, ci, "alpha-lib", "2.0", bytes.NewReader(archivetest.SourceTarGz(t, "alpha-lib-2.0", []byte("unsigned"))), -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.CreateRevision(ctx, ci, "alpha-lib", "2.0", core.RevisionRequest{Changes: []core.Change{{Op: "put", Path: "alpha-lib-2.0.tar.gz", SHA256: b.SHA256}}}); err != nil {
		t.Fatal(err)
	}
	rel, err := w.svc.Release(ctx, w.actors["member"], "alpha-lib", "2.0")
	if err != nil {
		t.Fatal(err)
	}
	runChecks(t, w.world, rel)
	rev, err := w.svc.Store().Revision(ctx, rel.ID, rel.LatestRevision)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.svc.ChecksFinished(ctx, rev.ID); err != nil {
		t.Fatal(err)
	}
	if !hasNotice(notices(t, w.world, "member"), domain.NoticeBlocker, "blocker(s) in revision 1 of") {
		t.Fatalf("the committee member was not told of the CI draft's blockers: %+v", notices(t, w.world, "member"))
	}
	for _, who := range []string{"committer", "other-member", "outsider"} {
		if hasNotice(notices(t, w.world, who), domain.NoticeBlocker, "alpha-lib 2.0") {
			t.Errorf("%s was told of the blockers", who)
		}
	}
}

// TestDeliveryOutcomeRecordedWhenTheDatabaseIsBusy: a mail accepted by
// the relay while another writer holds the database (SQLite under load:
// "database is locked" after the 10 s busy timeout) is still recorded as
// sent. Before, the row stayed claimed ("sending") until the claim ran
// out three minutes later, and was then sent to the list a second time.
func TestDeliveryOutcomeRecordedWhenTheDatabaseIsBusy(t *testing.T) {
	ctx := context.Background()
	w := newMailWorld(t)
	w.candidateInVote(t, "1.0")
	other, err := sqlstore.OpenSQLite(ctx, filepath.Join(w.dir, "trel.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	released := make(chan struct{})
	w.smtp.OnMessage(func() {
		// Another writer takes the database while the mail is accepted,
		// and keeps it longer than the busy timeout.
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			t.Error(err)
		}
		time.AfterFunc(11*time.Second, func() {
			conn.ExecContext(ctx, "COMMIT")
			close(released)
		})
	})
	due, err := w.svc.Store().DueDeliveries(ctx, w.svc.Now(), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due: %d %v", len(due), err)
	}
	err = w.svc.Deliver(ctx, due[0].ID)
	<-released
	d, derr := w.svc.Store().Delivery(ctx, due[0].ID)
	if err != nil || derr != nil || d.State != domain.DeliverySent || len(w.smtp.Messages()) != 1 {
		t.Fatalf("after a busy database: deliver %v, state %q (%v), %d messages", err, d.State, derr, len(w.smtp.Messages()))
	}
}

// candidateInVote makes version a candidate and starts its vote (as the
// member).
func (w *mailWorld) candidateInVote(t *testing.T, version string) {
	t.Helper()
	w.candidate(t, version, core.StartReleaseOptions{})
	if _, err := w.svc.StartVote(context.Background(), w.actors["member"], "alpha-lib", version); err != nil {
		t.Fatal(err)
	}
}
