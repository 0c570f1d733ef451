package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// runNotify: release states, notifications, webhooks and the delivery
// outbox (claimed once however many workers race for it).
func runNotify(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	seed := func(t *testing.T, s store.Store) (*domain.User, *domain.Project, *domain.Release) {
		t.Helper()
		u := &domain.User{Username: "alice", Email: "alice@example.org", CreatedAt: now}
		c := &domain.Committee{Key: "alpha", Name: "Alpha", CreatedAt: now}
		var p *domain.Project
		var r *domain.Release
		err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			if err := tx.CreateCommittee(ctx, c); err != nil {
				return err
			}
			p = &domain.Project{Key: "alpha-lib", Name: "Lib", CommitteeID: c.ID, CreatedAt: now}
			if err := tx.CreateProject(ctx, p); err != nil {
				return err
			}
			r = &domain.Release{ProjectID: p.ID, ProjectKey: p.Key, Version: "1.0", Phase: domain.PhaseDraft, CreatedBy: "alice", CreatedAt: now}
			return tx.CreateRelease(ctx, r)
		})
		if err != nil {
			t.Fatal(err)
		}
		return u, p, r
	}
	tx := func(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
		t.Helper()
		if err := s.Tx(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("ok/release states: embargo, yank, archive", func(t *testing.T) {
		s := newStore(t)
		_, p, r := seed(t, s)
		got, _ := s.ReleaseByID(ctx, r.ID)
		if got.Embargoed || got.YankedAt != nil || got.ArchivedAt != nil || got.PublishedAt != nil {
			t.Fatalf("a new release has a state: %+v", got.ReleaseStatus)
		}
		tx(t, s, func(tx store.Tx) error { return tx.SetEmbargoed(ctx, r.ID) })
		if got, _ := s.ReleaseByVersion(ctx, p.ID, "1.0"); !got.Embargoed {
			t.Fatal("not embargoed")
		}
		tx(t, s, func(tx store.Tx) error { return tx.LiftEmbargo(ctx, r.ID, now) })
		later := now.Add(time.Hour)
		changed := func(what string, want bool, f func(tx store.Tx) (bool, error)) {
			t.Helper()
			tx(t, s, func(tx store.Tx) error {
				got, err := f(tx)
				if err == nil && got != want {
					t.Errorf("%s: changed %v, want %v", what, got, want)
				}
				return err
			})
		}
		changed("yank", true, func(tx store.Tx) (bool, error) { return tx.SetYanked(ctx, r.ID, &later, "alice", "broken build") })
		changed("yank again", false, func(tx store.Tx) (bool, error) { return tx.SetYanked(ctx, r.ID, &later, "bob", "other reason") })
		changed("archive", true, func(tx store.Tx) (bool, error) { return tx.SetArchived(ctx, r.ID, later, "alice") })
		changed("archive again", false, func(tx store.Tx) (bool, error) { return tx.SetArchived(ctx, r.ID, later, "bob") })
		all, _ := s.ListReleases(ctx, p.ID)
		g := all[0]
		if g.Embargoed || g.EmbargoLiftedAt == nil || !g.EmbargoLiftedAt.Equal(now) || g.YankReason != "broken build" || g.YankedBy != "alice" ||
			g.YankedAt == nil || !g.YankedAt.Equal(later) || g.ArchivedAt == nil || g.ArchivedBy != "alice" {
			t.Fatalf("state: %+v", g.ReleaseStatus)
		}
		changed("un-yank", true, func(tx store.Tx) (bool, error) { return tx.SetYanked(ctx, r.ID, nil, "", "") })
		changed("un-yank again", false, func(tx store.Tx) (bool, error) { return tx.SetYanked(ctx, r.ID, nil, "", "") })
		if got, _ := s.ReleaseByID(ctx, r.ID); got.YankedAt != nil || got.YankReason != "" || got.ArchivedAt == nil {
			t.Fatalf("un-yanked: %+v", got.ReleaseStatus)
		}
	})

	t.Run("ok/notifications are unique per key and dismissed together", func(t *testing.T) {
		s := newStore(t)
		u, _, _ := seed(t, s)
		add := func(msg, key string) bool {
			var ok bool
			tx(t, s, func(tx store.Tx) (err error) {
				ok, err = tx.AddNotification(ctx, domain.Notice{UserID: u.ID, Message: msg, Kind: domain.NoticeVote, Link: "/x", CreatedAt: now}, key)
				return err
			})
			return ok
		}
		if !add("vote started", "vote:1") || add("vote started again", "vote:1") || !add("no key", "") || !add("no key", "") {
			t.Fatal("dedupe keys are not unique per user, or empty keys are")
		}
		tx(t, s, func(tx store.Tx) error { return tx.AddNotice(ctx, u.ID, "account", now) })
		open, _ := s.Notices(ctx, u.ID)
		if len(open) != 4 || open[0].Kind != domain.NoticeVote || open[0].Link != "/x" || open[3].Kind != domain.NoticeAccount {
			t.Fatalf("notices: %+v", open)
		}
		var n int
		tx(t, s, func(tx store.Tx) (err error) { n, err = tx.DismissAllNotices(ctx, u.ID, now); return err })
		if open, _ := s.Notices(ctx, u.ID); n != 4 || len(open) != 0 {
			t.Fatalf("dismissed %d, open %v", n, open)
		}
		all, _ := s.AllNotices(ctx, u.ID, 10)
		if len(all) != 4 || all[0].DismissedAt == nil || all[0].Kind != domain.NoticeAccount {
			t.Fatalf("all notices, newest first: %+v", all)
		}
	})

	t.Run("ok/webhooks are listed until removed", func(t *testing.T) {
		s := newStore(t)
		u, p, _ := seed(t, s)
		w := &domain.Webhook{ProjectID: p.ID, URL: "https://ci.example.org/hook", Secret: "s3cret-s3cret-s3cret", Events: []string{domain.EventPublished}, CreatedAt: now}
		tx(t, s, func(tx store.Tx) error { return tx.AddWebhook(ctx, w, u.ID, 20) })
		full := &domain.Webhook{ProjectID: p.ID, URL: "https://ci.example.org/full", Secret: "another-secret-1234", CreatedAt: now}
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.AddWebhook(ctx, full, u.ID, 1) }); !domain.IsKind(err, domain.KindConflict) {
			t.Fatalf("a webhook beyond the limit: %v", err)
		}
		ws, _ := s.Webhooks(ctx, p.ID)
		if len(ws) != 1 || ws[0].Secret != w.Secret || ws[0].CreatedBy != "alice" || len(ws[0].Events) != 1 || !ws[0].Wants(domain.EventPublished) || ws[0].Wants(domain.EventYanked) {
			t.Fatalf("webhooks: %+v", ws)
		}
		tx(t, s, func(tx store.Tx) error { return tx.DeleteWebhook(ctx, p.ID, w.ID, now) })
		if ws, _ := s.Webhooks(ctx, p.ID); len(ws) != 0 {
			t.Fatalf("a removed webhook is listed: %+v", ws)
		}
		if got, err := s.Webhook(ctx, w.ID); err != nil || got.DeletedAt == nil {
			t.Fatalf("removed webhook: %+v %v", got, err)
		}
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.DeleteWebhook(ctx, p.ID, w.ID, now) }); !domain.IsKind(err, domain.KindNotFound) {
			t.Fatalf("removing twice: %v", err)
		}
		// Racing additions stop at the limit (3, the one above removed).
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := &domain.Webhook{ProjectID: p.ID, URL: fmt.Sprintf("https://ci.example.org/race/%d", i), Secret: "another-secret-1234", CreatedAt: now}
				if err := s.Tx(ctx, func(tx store.Tx) error { return tx.AddWebhook(ctx, h, u.ID, 3) }); err != nil && !domain.IsKind(err, domain.KindConflict) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if ws, _ := s.Webhooks(ctx, p.ID); len(ws) != 3 {
			t.Fatalf("%d webhooks after racing additions with a limit of 3", len(ws))
		}
	})

	t.Run("ok/a delivery is claimed once by racing workers", func(t *testing.T) {
		s := newStore(t)
		_, p, r := seed(t, s)
		d := &domain.Delivery{Channel: domain.ChannelMail, Topic: domain.MailVote, ProjectID: p.ID, ReleaseID: r.ID, Round: 1,
			MessageID: "<a@b>", Payload: `{"subject":"x"}`, NotBefore: now, CreatedAt: now}
		later := &domain.Delivery{Channel: domain.ChannelMail, Topic: domain.MailReminder, ProjectID: p.ID, ReleaseID: r.ID, Payload: "{}", NotBefore: now.Add(time.Hour), CreatedAt: now}
		tx(t, s, func(tx store.Tx) error {
			if err := tx.AddDelivery(ctx, d); err != nil {
				return err
			}
			return tx.AddDelivery(ctx, later)
		})
		due, _ := s.DueDeliveries(ctx, now, 10)
		if len(due) != 1 || due[0].ID != d.ID || due[0].Attempts != 0 {
			t.Fatalf("due: %+v", due)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.Tx(ctx, func(tx store.Tx) error {
					got, ok, err := tx.ClaimDelivery(ctx, d.ID, now, now.Add(time.Minute))
					if ok && err == nil && got.Payload == d.Payload && got.Attempts == 1 && got.State == domain.DeliverySending {
						wins.Add(1)
					}
					return err
				})
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d workers claimed the delivery", wins.Load())
		}
		// A stale attempt number changes nothing; the right one does.
		var ok bool
		tx(t, s, func(tx store.Tx) (err error) {
			ok, err = tx.FinishAttempt(ctx, d.ID, 2, store.DeliveryOutcome{State: domain.DeliverySent, At: now})
			return err
		})
		if ok {
			t.Fatal("a stale attempt finished the delivery")
		}
		retry := now.Add(time.Second)
		tx(t, s, func(tx store.Tx) (err error) {
			ok, err = tx.FinishAttempt(ctx, d.ID, 1, store.DeliveryOutcome{State: domain.DeliveryPending, NotBefore: retry, LastError: "421 try later", At: now})
			return err
		})
		if due, _ := s.DueDeliveries(ctx, now, 10); !ok || len(due) != 0 {
			t.Fatalf("retry scheduled %v, due at once: %+v", ok, due)
		}
		if due, _ := s.DueDeliveries(ctx, retry, 10); len(due) != 1 || due[0].Attempts != 1 {
			t.Fatalf("due after the retry time: %+v", due)
		}
		// A worker dies holding the claim: it is given back when it runs out.
		tx(t, s, func(tx store.Tx) error {
			_, _, err := tx.ClaimDelivery(ctx, d.ID, retry, retry.Add(time.Minute))
			return err
		})
		var n int
		tx(t, s, func(tx store.Tx) (err error) {
			n, err = tx.ReleaseStaleClaims(ctx, retry.Add(30*time.Second))
			return err
		})
		if n != 0 {
			t.Fatal("a live claim was released")
		}
		tx(t, s, func(tx store.Tx) (err error) {
			n, err = tx.ReleaseStaleClaims(ctx, retry.Add(2*time.Minute))
			return err
		})
		if n != 1 {
			t.Fatal("a stale claim was kept")
		}
		tx(t, s, func(tx store.Tx) error {
			_, _, err := tx.ClaimDelivery(ctx, d.ID, retry, retry.Add(time.Minute))
			return err
		})
		tx(t, s, func(tx store.Tx) (err error) {
			ok, err = tx.FinishAttempt(ctx, d.ID, 3, store.DeliveryOutcome{State: domain.DeliverySent, Refused: "nobody@example.org", At: retry})
			return err
		})
		got, _ := s.Delivery(ctx, d.ID)
		if !ok || got.State != domain.DeliverySent || got.Attempts != 3 || got.Refused != "nobody@example.org" || got.FinishedAt == nil || got.ReleaseName != "alpha-lib 1.0" {
			t.Fatalf("delivered: %+v", got)
		}
		list, _ := s.ReleaseDeliveries(ctx, r.ID)
		if len(list) != 2 || list[0].ID != later.ID || list[0].Payload != "" {
			t.Fatalf("the release's mail, newest first, without payloads: %+v", list)
		}
		if wh, _ := s.WebhookDeliveries(ctx, p.ID, 10); len(wh) != 0 {
			t.Fatalf("mail listed as webhook calls: %+v", wh)
		}
	})
}
