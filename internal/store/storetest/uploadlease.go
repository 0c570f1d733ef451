package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"trel/internal/store"
)

// runUploadLeases covers store.UploadLeases: the per-user bound holds
// under concurrency, expired leases do not count, a holder's leases end
// together.
func runUploadLeases(t *testing.T, newStore func(t *testing.T) store.Store, seed seedFunc) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	take := func(t *testing.T, s store.Store, userID int64, holder string, at time.Time) (int64, bool) {
		t.Helper()
		var id int64
		var ok bool
		if err := s.Tx(ctx, func(tx store.Tx) error {
			var err error
			id, ok, err = tx.TakeUploadLease(ctx, userID, holder, 3, at, at.Add(time.Minute))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return id, ok
	}

	t.Run("ok/concurrent uploads never take more leases than the bound", func(t *testing.T) {
		s := newStore(t)
		u, _, _, _ := seed(t, s)
		var wg sync.WaitGroup
		var granted atomic.Int32
		for range 12 {
			wg.Go(func() {
				// A transaction may run several times (retried after a
				// serialisation failure): count what the committed one got.
				var ok bool
				if err := s.Tx(ctx, func(tx store.Tx) error {
					var err error
					_, ok, err = tx.TakeUploadLease(ctx, u.ID, "r1", 3, now, now.Add(time.Minute))
					return err
				}); err != nil {
					t.Error(err)
				}
				if ok {
					granted.Add(1)
				}
			})
		}
		wg.Wait()
		if n := granted.Load(); n != 3 {
			t.Fatalf("%d of 12 concurrent uploads got a lease, want exactly 3", n)
		}
	})

	t.Run("ok/leases end when dropped, when they expire, and with their holder", func(t *testing.T) {
		s := newStore(t)
		u, _, _, _ := seed(t, s)
		first, _ := take(t, s, u.ID, "r1", now)
		r1, _ := take(t, s, u.ID, "r1", now)
		take(t, s, u.ID, "r2", now)
		if _, ok := take(t, s, u.ID, "r2", now); ok {
			t.Fatal("a fourth lease was granted with a bound of 3")
		}
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.DropUploadLease(ctx, first) }); err != nil {
			t.Fatal(err)
		}
		if _, ok := take(t, s, u.ID, "r2", now); !ok {
			t.Fatal("a dropped lease still counts")
		}
		// r1's remaining lease is renewed; r2's two expire.
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.RenewUploadLease(ctx, r1, now.Add(time.Hour)) }); err != nil {
			t.Fatal(err)
		}
		later := now.Add(2 * time.Minute)
		if _, ok := take(t, s, u.ID, "r3", later); !ok {
			t.Fatal("expired leases still count")
		}
		take(t, s, u.ID, "r3", later)
		if _, ok := take(t, s, u.ID, "r3", later); ok {
			t.Fatal("the renewed lease does not count")
		}
		var dropped int
		if err := s.Tx(ctx, func(tx store.Tx) error {
			var err error
			dropped, err = tx.DropHolderLeases(ctx, "r3")
			return err
		}); err != nil || dropped != 2 {
			t.Fatalf("DropHolderLeases: %d, %v", dropped, err)
		}
		if _, ok := take(t, s, u.ID, "r1", later); !ok {
			t.Fatal("the holder's leases still count after DropHolderLeases")
		}
	})
}
