package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
	"trel/internal/store/sqlstore"
)

func openWeb(t *testing.T, open opener) (*sqlstore.DB, *domain.User) {
	t.Helper()
	ctx := context.Background()
	s := open(t)
	u := &domain.User{Username: "alice", Email: "alice@example.org", CreatedAt: time.Now()}
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, u) }); err != nil {
		t.Fatal(err)
	}
	return s, u
}

// race runs f n times at once and counts the calls that succeeded.
func race(n int, f func(i int) error) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if f(i) == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return ok
}

func TestACeremonyIsTakenOnceUnderConcurrency(t *testing.T) {
	forEngines(t, func(t *testing.T, open opener) {
		s, _ := openWeb(t, open)
		ctx := context.Background()
		c := &store.Ceremony{Hash: []byte("h"), Kind: "login", Data: []byte("{}"), ExpiresAt: time.Now().Add(time.Minute)}
		if err := s.PutCeremony(ctx, c); err != nil {
			t.Fatal(err)
		}
		if n := race(8, func(int) error { _, err := s.TakeCeremony(ctx, []byte("h")); return err }); n != 1 {
			t.Errorf("%d finishes took the same ceremony, want 1", n)
		}
	})
}

func TestAnEnrollmentLinkIsConsumedOnceUnderConcurrency(t *testing.T) {
	forEngines(t, func(t *testing.T, open opener) {
		s, u := openWeb(t, open)
		ctx := context.Background()
		now := time.Now()
		e := &store.Enrollment{UserID: u.ID, Hash: []byte("link"), CreatedBy: "test", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.CreateEnrollment(ctx, e, domain.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
		n := race(8, func(i int) error {
			pk := &store.Passkey{UserID: u.ID, Name: "k", CredentialID: []byte(fmt.Sprint(i)), Credential: []byte("{}"), CreatedAt: now}
			return s.AddPasskey(ctx, pk, e.ID, now, domain.AuditEvent{Time: now, Actor: "alice", Action: "passkey.enroll", Target: "user:alice"})
		})
		if n != 1 {
			t.Errorf("%d passkeys were enrolled with one link, want 1", n)
		}
		keys, err := s.Passkeys(ctx, u.ID)
		if err != nil || len(keys) != 1 {
			t.Fatalf("%d passkeys stored (%v), want 1", len(keys), err)
		}
		evs, err := s.ListAudit(ctx, 100)
		if err != nil || len(evs) != 1 {
			t.Errorf("%d audit events (%v), want 1: refused attempts leave no trace", len(evs), err)
		}
	})
}

// TestAPasskeyCounterValueIsUsedOnce: the signature counter advances in
// one conditional update, so concurrent uses with the same value (a
// cloned authenticator) record one; 0 stays usable for authenticators
// without a counter, and a value that went backwards is refused.
func TestAPasskeyCounterValueIsUsedOnce(t *testing.T) {
	forEngines(t, func(t *testing.T, open opener) {
		s, u := openWeb(t, open)
		ctx := context.Background()
		now := time.Now()
		pk := &store.Passkey{UserID: u.ID, Name: "k", CredentialID: []byte("c"), Credential: []byte("{}"), CreatedAt: now}
		if err := s.AddPasskey(ctx, pk, 0, now, domain.AuditEvent{Time: now, Actor: "alice", Action: "passkey.add", Target: "user:alice"}); err != nil {
			t.Fatal(err)
		}
		use := func(count uint32) error { return s.UpdatePasskeyUse(ctx, pk.ID, count, false, []byte("{}"), now) }
		for range 2 {
			if err := use(0); err != nil {
				t.Fatalf("an authenticator without a counter: %v", err)
			}
		}
		if n := race(8, func(int) error { return use(5) }); n != 1 {
			t.Errorf("%d uses recorded with counter value 5, want 1", n)
		}
		if err := use(4); !domain.IsKind(err, domain.KindConflict) {
			t.Errorf("a counter that went backwards: %v", err)
		}
		if err := use(0); !domain.IsKind(err, domain.KindConflict) {
			t.Errorf("a counter reset to 0: %v", err)
		}
		if err := use(6); err != nil {
			t.Errorf("the next value: %v", err)
		}
	})
}

func TestPurgeRemovesOnlyEndedSessionsAndCeremonies(t *testing.T) {
	forEngines(t, func(t *testing.T, open opener) {
		s, u := openWeb(t, open)
		ctx := context.Background()
		now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
		sessions := []struct {
			name          string
			created, seen time.Time
			survives      bool
		}{
			{"fresh", now.Add(-time.Hour), now.Add(-time.Minute), true},
			{"idle", now.Add(-20 * time.Hour), now.Add(-13 * time.Hour), false},
			{"too old", now.Add(-8 * 24 * time.Hour), now.Add(-time.Minute), false},
		}
		for _, ss := range sessions {
			if err := s.CreateSession(ctx, &store.WebSession{Hash: []byte(ss.name), UserID: u.ID, CreatedAt: ss.created, LastSeenAt: ss.seen}, domain.AuditEvent{}); err != nil {
				t.Fatal(err)
			}
		}
		s.PutCeremony(ctx, &store.Ceremony{Hash: []byte("old"), Kind: "login", Data: []byte("{}"), ExpiresAt: now.Add(-time.Second)})
		s.PutCeremony(ctx, &store.Ceremony{Hash: []byte("new"), Kind: "login", Data: []byte("{}"), ExpiresAt: now.Add(time.Minute)})
		if err := s.PurgeSessions(ctx, now.Add(-12*time.Hour), now.Add(-7*24*time.Hour), now); err != nil {
			t.Fatal(err)
		}
		for _, ss := range sessions {
			_, err := s.SessionByHash(ctx, []byte(ss.name))
			if (err == nil) != ss.survives {
				t.Errorf("session %s: %v, survives = %v", ss.name, err, ss.survives)
			}
		}
		if _, err := s.TakeCeremony(ctx, []byte("old")); !domain.IsKind(err, domain.KindNotFound) {
			t.Errorf("an expired ceremony survived the purge: %v", err)
		}
		if _, err := s.TakeCeremony(ctx, []byte("new")); err != nil {
			t.Errorf("a live ceremony was purged: %v", err)
		}
	})
}
