package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

type seedFunc func(t *testing.T, s store.Store) (*domain.User, *domain.Committee, *domain.Project, *domain.Release)

// runContent covers store.ContentReader and store.ContentTx: usage and
// quotas, scan records, collection of unreferenced content, publications.
func runContent(t *testing.T, newStore func(t *testing.T) store.Store, seed seedFunc) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	blob := func(c byte, size int64) domain.Blob {
		return domain.Blob{SHA256: strings.Repeat(string(c), 64), SHA512: strings.Repeat("b", 128), Size: size, SHA256State: []byte{1}, SHA512State: []byte{2}}
	}
	put := func(t *testing.T, s store.Store, bs ...domain.Blob) {
		t.Helper()
		if err := s.Tx(ctx, func(tx store.Tx) error {
			for _, b := range bs {
				if err := tx.PutBlob(ctx, b); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	charge := func(s store.Store, rel, user int64, sha string, q domain.Quota, at time.Time) error {
		return s.Tx(ctx, func(tx store.Tx) error { return tx.ChargeUpload(ctx, rel, user, sha, q, at) })
	}

	t.Run("ok/usage counts each content once per release and quotas refuse atomically", func(t *testing.T) {
		s := newStore(t)
		u, _, _, r := seed(t, s)
		a, b, c := blob('a', 40), blob('c', 50), blob('d', 20)
		put(t, s, a, b, c)
		q := domain.Quota{Release: 100, User: 200}
		for _, sha := range []string{a.SHA256, a.SHA256, b.SHA256} {
			if err := charge(s, r.ID, u.ID, sha, q, now); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.StorageUsage(ctx, r.ID, u.ID); err != nil || got != (domain.StorageUsage{Release: 90, User: 90}) {
			t.Fatalf("usage %+v %v", got, err)
		}
		err := charge(s, r.ID, u.ID, c.SHA256, q, now)
		var qe *domain.QuotaExceeded
		if !domain.IsKind(err, domain.KindTooLarge) || !errors.As(err, &qe) || qe.Scope != "release" || qe.Used != 90 || qe.Limit != 100 || qe.Size != 20 {
			t.Fatalf("over the quota: %v %+v", err, qe)
		}
		if ok, _ := s.UploadedTo(ctx, r.ID, c.SHA256); ok {
			t.Fatal("a refused upload was recorded")
		}
		if err := charge(s, r.ID, u.ID, c.SHA256, domain.Quota{}, now); err != nil {
			t.Fatalf("no quota: %v", err)
		}
		if got, _ := s.StorageUsage(ctx, r.ID, u.ID); got.Release != 110 {
			t.Fatalf("usage %+v", got)
		}
	})

	t.Run("ok/a first upload larger than a quota is refused and counts nothing", func(t *testing.T) {
		s := newStore(t)
		u, _, _, r := seed(t, s)
		big := blob('a', 50)
		put(t, s, big)
		for _, c := range []struct {
			q     domain.Quota
			scope string
		}{{domain.Quota{Release: 30}, "release"}, {domain.Quota{User: 30}, "user"}} {
			err := charge(s, r.ID, u.ID, big.SHA256, c.q, now)
			var qe *domain.QuotaExceeded
			if !errors.As(err, &qe) || qe.Scope != c.scope || qe.Used != 0 || qe.Limit != 30 || qe.Size != 50 {
				t.Fatalf("%+v: %v %+v", c.q, err, qe)
			}
			if got, _ := s.StorageUsage(ctx, r.ID, u.ID); got != (domain.StorageUsage{}) {
				t.Fatalf("%+v: a refused upload counted: %+v", c.q, got)
			}
		}
	})

	t.Run("ok/concurrent charges queued behind each other never pass a quota", func(t *testing.T) {
		s := newStore(t)
		u, _, _, r := seed(t, s)
		var shas []string
		for i := range 10 {
			b := blob(byte('a'+i), 10)
			put(t, s, b)
			shas = append(shas, b.SHA256)
		}
		q := domain.Quota{Release: 55}
		errs := make(chan error, len(shas))
		for _, sha := range shas {
			go func() {
				errs <- s.Tx(ctx, func(tx store.Tx) error {
					if err := tx.QueueUploadCharge(ctx); err != nil {
						return err
					}
					return tx.ChargeUpload(ctx, r.ID, u.ID, sha, q, now)
				})
			}()
		}
		charged := 0
		for range shas {
			err := <-errs
			switch {
			case err == nil:
				charged++
			case !domain.IsKind(err, domain.KindTooLarge):
				t.Fatalf("a charge failed otherwise than on the quota: %v", err)
			}
		}
		if got, _ := s.StorageUsage(ctx, r.ID, u.ID); charged != 5 || got != (domain.StorageUsage{Release: 50, User: 50}) {
			t.Fatalf("%d charges passed, usage %+v: want 5 and 50 bytes", charged, got)
		}
	})

	t.Run("ok/scan records hold for their version and later", func(t *testing.T) {
		s := newStore(t)
		a, b := blob('a', 1), blob('c', 1)
		put(t, s, a, b)
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.RecordCleanScan(ctx, a.SHA256, 2, now) }); err != nil {
			t.Fatal(err)
		}
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.RecordCleanScan(ctx, a.SHA256, 1, now) }); err != nil {
			t.Fatal(err) // an older scanner never lowers the record
		}
		got, err := s.CleanScans(ctx, []string{a.SHA256, b.SHA256}, 2)
		if err != nil || !got[a.SHA256] || got[b.SHA256] {
			t.Fatalf("%v %v", got, err)
		}
		if got, _ := s.CleanScans(ctx, []string{a.SHA256}, 3); got[a.SHA256] {
			t.Fatal("a newer scanner version trusted an older scan")
		}
	})

	t.Run("ok/only content no revision uses and nobody uploaded lately is collected", func(t *testing.T) {
		s := newStore(t)
		u, _, _, r := seed(t, s)
		used, old, recent := blob('a', 10), blob('c', 20), blob('d', 30)
		put(t, s, used, old, recent)
		long := now.Add(-48 * time.Hour)
		for _, b := range []domain.Blob{used, old} {
			if err := charge(s, r.ID, u.ID, b.SHA256, domain.Quota{}, long); err != nil {
				t.Fatal(err)
			}
		}
		if err := charge(s, r.ID, u.ID, recent.SHA256, domain.Quota{}, now); err != nil {
			t.Fatal(err)
		}
		err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.LockRelease(ctx, r.ID); err != nil {
				return err
			}
			return tx.CreateRevision(ctx, &domain.Revision{ReleaseID: r.ID, Number: 1, AuthorID: u.ID, CreatedAt: now, Files: []domain.File{{Path: "a", Blob: used}}})
		})
		if err != nil {
			t.Fatal(err)
		}
		cutoff := now.Add(-24 * time.Hour)
		got, err := s.UnreferencedBlobs(ctx, cutoff, 10)
		if err != nil || len(got) != 1 || got[0] != old.SHA256 {
			t.Fatalf("candidates %v %v", got, err)
		}
		for _, b := range []domain.Blob{used, recent, old} {
			var gone bool
			if err := s.Tx(ctx, func(tx store.Tx) error {
				var err error
				gone, err = tx.DeleteUnreferencedBlob(ctx, b.SHA256, cutoff)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if gone != (b.SHA256 == old.SHA256) {
				t.Fatalf("%s collected: %v", b.SHA256[:1], gone)
			}
		}
		if _, err := s.Blob(ctx, old.SHA256); !domain.IsKind(err, domain.KindNotFound) {
			t.Fatal("the collected blob is still recorded")
		}
		if ok, _ := s.UploadedTo(ctx, r.ID, old.SHA256); ok {
			t.Fatal("the collected upload is still recorded")
		}
		if got, _ := s.StorageUsage(ctx, r.ID, u.ID); got != (domain.StorageUsage{Release: 40, User: 40}) {
			t.Fatalf("usage after collection %+v", got)
		}
	})

	t.Run("ok/a publication is recorded once, claimed by one attempt at a time, and finished", func(t *testing.T) {
		s := newStore(t)
		u, _, _, r := seed(t, s)
		p := &domain.Publication{ReleaseID: r.ID, Revision: 1, Manifest: []byte("{\\n}"), LogFrom: 7, StartedByID: u.ID, StartedAt: now, ClaimedUntil: now.Add(time.Hour)}
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.StartPublication(ctx, p) }); err != nil {
			t.Fatal(err)
		}
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.StartPublication(ctx, p) }); !domain.IsKind(err, domain.KindConflict) {
			t.Fatalf("a second start: %v", err)
		}
		claim := func(at time.Time, force bool) bool {
			var ok bool
			if err := s.Tx(ctx, func(tx store.Tx) error {
				var err error
				ok, err = tx.ClaimPublication(ctx, r.ID, at, at.Add(time.Hour), force)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if claim(now, false) {
			t.Fatal("claimed while another attempt holds it")
		}
		if !claim(now.Add(2*time.Hour), false) || !claim(now, true) {
			t.Fatal("an expired claim or a forced one was not taken")
		}
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.SetPublicationLogIndex(ctx, r.ID, 42) }); err != nil {
			t.Fatal(err)
		}
		open, err := s.UnfinishedPublications(ctx)
		if err != nil || len(open) != 1 || open[0].LogIndex == nil || *open[0].LogIndex != 42 || open[0].LogFrom != 7 || string(open[0].Manifest) != "{\\n}" || open[0].StartedByID != u.ID {
			t.Fatalf("%+v %v", open, err)
		}
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.FinishPublication(ctx, r.ID, now) }); err != nil {
			t.Fatal(err)
		}
		got, err := s.Publication(ctx, r.ID)
		if err != nil || got.State != domain.PublicationPublished || got.FinishedAt == nil {
			t.Fatalf("%+v %v", got, err)
		}
		if open, _ := s.UnfinishedPublications(ctx); len(open) != 0 {
			t.Fatalf("still unfinished: %+v", open)
		}
		if claim(now.Add(3*time.Hour), true) {
			t.Fatal("a finished publication was claimed")
		}
	})
}
