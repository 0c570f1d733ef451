package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// runTokenLineage: revoking a token's descendants reaches children and
// grandchildren, leaves other tokens and already revoked ones alone, and
// stops at a cycle.
func runTokenLineage(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("ok/revoking descendants reaches every generation once", func(t *testing.T) {
		ctx := context.Background()
		s := newStore(t)
		now := time.Now().UTC().Truncate(time.Microsecond)
		u := &domain.User{Username: "alice", Email: "alice@example.org", CreatedAt: now}
		toks := make([]*domain.Token, 6)
		err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			for i := range toks {
				toks[i] = &domain.Token{UserID: u.ID, Label: "t", Prefix: "trel_x", Hash: []byte{byte(i)}, CreatedAt: now}
				if err := tx.CreateToken(ctx, toks[i]); err != nil {
					return err
				}
			}
			// 0 made 1 and 2, 2 made 3; 4 stands alone; 5 (made by 3)
			// is revoked already.
			for _, p := range [][2]int{{1, 0}, {2, 0}, {3, 2}, {5, 3}} {
				if err := tx.SetTokenParent(ctx, toks[p[0]].ID, toks[p[1]].ID); err != nil {
					return err
				}
			}
			return tx.RevokeToken(ctx, u.ID, toks[5].ID, now)
		})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		if err := s.Tx(ctx, func(tx store.Tx) error {
			got, err = tx.RevokeDescendants(ctx, toks[0].ID, now)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if want := []int64{toks[1].ID, toks[2].ID, toks[3].ID}; !reflect.DeepEqual(got, want) {
			t.Fatalf("revoked %v, want %v", got, want)
		}
		for i, revoked := range []bool{false, true, true, true, false, true} {
			tk, err := s.TokenByHash(ctx, []byte{byte(i)})
			if err != nil || (tk.RevokedAt != nil) != revoked {
				t.Errorf("token %d: %+v %v, want revoked %v", i, tk, err, revoked)
			}
		}
		// A cycle (only possible by hand) ends the walk.
		if err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.SetTokenParent(ctx, toks[4].ID, toks[4].ID); err != nil {
				return err
			}
			got, err = tx.RevokeDescendants(ctx, toks[4].ID, now)
			return err
		}); err != nil || !reflect.DeepEqual(got, []int64{toks[4].ID}) {
			t.Fatalf("cycle: %v %v", got, err)
		}
	})
}
