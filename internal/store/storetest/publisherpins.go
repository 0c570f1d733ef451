package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// runPublisherPins: a publisher keeps the ids it was pinned to first;
// of concurrent first pins with different ids exactly one holds.
func runPublisherPins(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("ok/the first pin holds, also against concurrent ones", func(t *testing.T) {
		ctx := context.Background()
		s := newStore(t)
		now := time.Now().UTC().Truncate(time.Microsecond)
		c := &domain.Committee{Key: "alpha", Name: "Alpha", CreatedAt: now}
		p := &domain.Project{Key: "alpha-lib", Name: "Alpha Lib", CreatedAt: now}
		err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.CreateCommittee(ctx, c); err != nil {
				return err
			}
			p.CommitteeID = c.ID
			return tx.CreateProject(ctx, p)
		})
		if err != nil {
			t.Fatal(err)
		}
		pin := func(publisher int64, ids string) string {
			var got string
			if err := s.Tx(ctx, func(tx store.Tx) (err error) {
				got, err = tx.PinPublisher(ctx, p.ID, publisher, ids, now)
				return err
			}); err != nil {
				t.Error(err)
			}
			return got
		}
		if got := pin(1, "repository_id=1"); got != "repository_id=1" {
			t.Fatalf("first pin: %q", got)
		}
		if got := pin(1, "repository_id=2"); got != "repository_id=1" {
			t.Fatalf("second pin replaced the first: %q", got)
		}
		results := make([]string, 8)
		var wg sync.WaitGroup
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = pin(2, string(rune('a'+i)))
			}()
		}
		wg.Wait()
		for _, r := range results {
			if r != results[0] || r == "" {
				t.Fatalf("concurrent pins disagree: %q", results)
			}
		}
	})
}
