package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// runIncident covers store.IncidentReader and store.IncidentTx: counters
// that must hold under concurrency, suspension, sessions and notices.
func runIncident(t *testing.T, newStore func(t *testing.T) store.Store, seed seedFunc) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	tx := func(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
		t.Helper()
		if err := s.Tx(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	heldKey := func(t *testing.T, s store.Store, u *domain.User, fpr string) *domain.ServerKey {
		t.Helper()
		k := &domain.ServerKey{Fingerprint: fpr, UserID: u.ID, Algorithm: "eddsa", Sealed: []byte("{}"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		tx(t, s, func(tx store.Tx) error {
			if err := tx.PutKey(ctx, &domain.Key{Fingerprint: fpr, KeyID: fpr, Algorithm: "EdDSA", CreatedAt: now, Armored: "a",
				UploadedByID: u.ID, UploadedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			return tx.PutServerKeyCapped(ctx, k, 10)
		})
		return k
	}

	t.Run("ok/rate counters count every concurrent hit in their window", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		counts := make(chan int, 20)
		for range 20 {
			wg.Go(func() {
				var n int
				if err := s.Tx(ctx, func(tx store.Tx) error {
					var err error
					n, _, err = tx.CountHit(ctx, "b", now, time.Minute)
					return err
				}); err == nil {
					counts <- n
				}
			})
		}
		wg.Wait()
		close(counts)
		seen := map[int]bool{}
		for n := range counts {
			seen[n] = true
		}
		if len(seen) != 20 || !seen[1] || !seen[20] {
			t.Fatalf("hits numbered %v, want 1..20 once each", seen)
		}
		var n int
		var end time.Time
		tx(t, s, func(tx store.Tx) error {
			var err error
			n, end, err = tx.CountHit(ctx, "b", now.Add(2*time.Minute), time.Minute)
			return err
		})
		if n != 1 || !end.After(now.Add(2*time.Minute)) {
			t.Fatalf("a new window starts at 1: %d, ends %s", n, end)
		}
	})

	t.Run("ok/password attempts are reserved atomically and lock at the limit", func(t *testing.T) {
		s := newStore(t)
		u, _, _, _ := seed(t, s)
		heldKey(t, s, u, "F1")
		var wg sync.WaitGroup
		type res struct {
			n  int
			ok bool
		}
		out := make(chan res, 12)
		for range 12 {
			wg.Go(func() {
				var r res
				if err := s.Tx(ctx, func(tx store.Tx) error {
					var err error
					r.n, r.ok, err = tx.ReservePasswordAttempt(ctx, "F1", now, 5, 15*time.Minute)
					return err
				}); err == nil {
					out <- r
				}
			})
		}
		wg.Wait()
		close(out)
		granted := 0
		for r := range out {
			if r.ok {
				granted++
			}
		}
		if granted != 5 {
			t.Fatalf("%d attempts granted, want 5", granted)
		}
		k, _ := s.ServerKey(ctx, "F1")
		if k.LockedUntil == nil || !k.LockedUntil.Equal(now.Add(15*time.Minute)) || k.FailedAttempts != 5 {
			t.Fatalf("key after 5 attempts: %+v", k)
		}
		// An attempt that did not set the lock cannot clear it.
		tx(t, s, func(tx store.Tx) error {
			ok, err := tx.ClearPasswordAttempts(ctx, "F1", 3, now)
			if ok {
				return fmt.Errorf("attempt 3 cleared a lock set by attempt 5")
			}
			return err
		})
		// The lock runs out: the count starts again at 1; the right
		// password clears it.
		later := now.Add(16 * time.Minute)
		tx(t, s, func(tx store.Tx) error {
			n, ok, err := tx.ReservePasswordAttempt(ctx, "F1", later, 5, 15*time.Minute)
			if err != nil || !ok || n != 1 {
				return fmt.Errorf("after the lock: %d %v %v", n, ok, err)
			}
			cleared, err := tx.ClearPasswordAttempts(ctx, "F1", n, later)
			if !cleared {
				return fmt.Errorf("the right password did not clear: %v", err)
			}
			return err
		})
		k, _ = s.ServerKey(ctx, "F1")
		if k.FailedAttempts != 0 || k.LockedUntil != nil {
			t.Fatalf("after success: %+v", k)
		}
		// UpdateServerKey leaves the counters alone.
		tx(t, s, func(tx store.Tx) error {
			if _, _, err := tx.ReservePasswordAttempt(ctx, "F1", later, 5, time.Minute); err != nil {
				return err
			}
			stale := *k
			return tx.UpdateServerKey(ctx, &stale)
		})
		if k, _ = s.ServerKey(ctx, "F1"); k.FailedAttempts != 1 {
			t.Fatalf("a stale update reset the count: %+v", k)
		}
	})

	t.Run("ok/the key cap is a conditional insert", func(t *testing.T) {
		s := newStore(t)
		u, _, _, _ := seed(t, s)
		heldKey(t, s, u, "K1")
		heldKey(t, s, u, "K2")
		if n, err := s.ActiveServerKeys(ctx, u.ID); err != nil || n != 2 {
			t.Fatalf("active keys: %d %v", n, err)
		}
		err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.PutKey(ctx, &domain.Key{Fingerprint: "K3", KeyID: "K3", Algorithm: "EdDSA", CreatedAt: now, Armored: "a", UploadedByID: u.ID, UploadedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			return tx.PutServerKeyCapped(ctx, &domain.ServerKey{Fingerprint: "K3", UserID: u.ID, Algorithm: "eddsa", Sealed: []byte("{}"), CreatedAt: now, ExpiresAt: now}, 2)
		})
		if !domain.IsKind(err, domain.KindConflict) {
			t.Fatalf("third key under a cap of 2: %v", err)
		}
	})

	t.Run("ok/suspension, sessions, passkeys and notices", func(t *testing.T) {
		s := newStore(t)
		u, _, _, _ := seed(t, s)
		ws, ok := s.(store.WebStore)
		if !ok {
			t.Fatal("the store does not implement store.WebStore")
		}
		pk := &store.Passkey{UserID: u.ID, Name: "laptop", CredentialID: []byte("c"), Credential: []byte("{}"), CreatedAt: now}
		if err := ws.AddPasskey(ctx, pk, 0, now, domain.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
		for i, p := range []int64{pk.ID, pk.ID, 0} {
			sess := &store.WebSession{Hash: []byte{byte(i)}, UserID: u.ID, CreatedAt: now, LastSeenAt: now, ClientIP: "192.0.2.1", UserAgent: "UA", PasskeyID: p}
			if err := ws.CreateSession(ctx, sess, domain.AuditEvent{}); err != nil || sess.ID == 0 {
				t.Fatalf("session: %v", err)
			}
		}
		list, err := s.UserSessions(ctx, u.ID)
		if err != nil || len(list) != 3 || list[1].Passkey != "laptop" || list[0].PasskeyID != 0 || list[1].UserAgent != "UA" {
			t.Fatalf("sessions: %+v %v", list, err)
		}
		one, err := s.SessionByID(ctx, list[2].ID)
		if err != nil || one.Username != "alice" {
			t.Fatalf("session by id: %+v %v", one, err)
		}
		tx(t, s, func(tx store.Tx) error {
			n, err := tx.EndSessions(ctx, store.SessionFilter{PasskeyID: pk.ID})
			if n != 2 {
				return fmt.Errorf("ended %d sessions of the passkey, want 2 (%v)", n, err)
			}
			if err := tx.RemovePasskey(ctx, u.ID, pk.ID); err != nil {
				return err
			}
			if err := tx.SetSuspended(ctx, u.ID, &now); err != nil {
				return err
			}
			return tx.AddNotice(ctx, u.ID, "hello", now)
		})
		if left, _ := s.UserSessions(ctx, u.ID); len(left) != 1 {
			t.Fatalf("%d sessions left", len(left))
		}
		if _, err := s.PasskeyByID(ctx, pk.ID); !domain.IsKind(err, domain.KindNotFound) {
			t.Fatalf("removed passkey: %v", err)
		}
		if got, _ := s.UserByID(ctx, u.ID); got.SuspendedAt == nil || !got.SuspendedAt.Equal(now) {
			t.Fatalf("suspension: %+v", got)
		}
		ns, err := s.Notices(ctx, u.ID)
		if err != nil || len(ns) != 1 || ns[0].Message != "hello" {
			t.Fatalf("notices: %+v %v", ns, err)
		}
		tx(t, s, func(tx store.Tx) error { return tx.DismissNotice(ctx, u.ID, ns[0].ID, now) })
		if ns, _ := s.Notices(ctx, u.ID); len(ns) != 0 {
			t.Fatalf("dismissed notice listed: %+v", ns)
		}
		err = s.Tx(ctx, func(tx store.Tx) error { return tx.DismissNotice(ctx, u.ID, ns[0].ID, now) })
		if !domain.IsKind(err, domain.KindNotFound) {
			t.Fatalf("dismissing twice: %v", err)
		}
	})
}
