package storetest

import (
	"context"
	"testing"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// runIncubation: marking a committee incubating is idempotent and
// reversible, by a user or by the system (no user).
func runIncubation(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("ok/committees are marked incubating and unmarked", func(t *testing.T) {
		ctx := context.Background()
		s := newStore(t)
		now := time.Now()
		u := &domain.User{Username: "alice", Email: "alice@example.org", CreatedAt: now}
		c := &domain.Committee{Key: "podling", Name: "Podling", CreatedAt: now}
		other := &domain.Committee{Key: "other", Name: "Other", CreatedAt: now}
		set := func(on bool, by int64) {
			t.Helper()
			if err := s.Tx(ctx, func(tx store.Tx) error { return tx.SetIncubating(ctx, c.ID, on, by, now) }); err != nil {
				t.Fatal(err)
			}
		}
		check := func(want bool) {
			t.Helper()
			if got, err := s.Incubating(ctx, c.ID); err != nil || got != want {
				t.Fatalf("incubating %v %v, want %v", got, err, want)
			}
			if got, _ := s.Incubating(ctx, other.ID); got {
				t.Fatal("another committee is incubating")
			}
		}
		if err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			if err := tx.CreateCommittee(ctx, c); err != nil {
				return err
			}
			return tx.CreateCommittee(ctx, other)
		}); err != nil {
			t.Fatal(err)
		}
		check(false)
		set(true, u.ID)
		set(true, 0) // again, by the system: still one mark
		check(true)
		set(false, u.ID)
		check(false)
		set(true, 0)
		check(true)
	})
}
