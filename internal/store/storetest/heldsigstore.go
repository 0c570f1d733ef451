package storetest

import (
	"context"
	"testing"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// heldSigstoreCases: a held key's Sigstore public key is recorded once,
// listed for its owner with the held key's revocation, and cannot change.
func heldSigstoreCases(t *testing.T, newStore func(t *testing.T) store.Store, now time.Time) {
	ctx := context.Background()
	t.Run("ok/held Sigstore keys are recorded once and listed per owner", func(t *testing.T) {
		s := newStore(t)
		u := &domain.User{Username: "held", Email: "held@example.org", CreatedAt: now}
		k := &domain.HeldSigstoreKey{Fingerprint: "CCCC", PublicKey: "-----BEGIN PUBLIC KEY-----\n...", KeyID: "SHA256:abc", CreatedAt: now}
		err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			if err := tx.PutKey(ctx, &domain.Key{Fingerprint: "CCCC", KeyID: "CC", Algorithm: "EdDSA", CreatedAt: now, Armored: "a",
				UploadedByID: u.ID, UploadedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			if err := tx.PutServerKey(ctx, &domain.ServerKey{Fingerprint: "CCCC", UserID: u.ID, Algorithm: "eddsa", Sealed: []byte("{}"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				return err
			}
			if err := tx.PutHeldSigstoreKey(ctx, k); err != nil {
				return err
			}
			return tx.PutHeldSigstoreKey(ctx, k) // the same again: nothing changes
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.HeldSigstoreKeys(ctx, []int64{u.ID})
		if err != nil || len(got) != 1 || got[0].Owner != "held" || got[0].KeyID != "SHA256:abc" || got[0].RevokedAt != nil || !got[0].CreatedAt.Equal(now) {
			t.Fatalf("%+v %v", got, err)
		}
		if none, _ := s.HeldSigstoreKeys(ctx, []int64{u.ID + 100}); len(none) != 0 {
			t.Fatalf("another user's list: %+v", none)
		}
		other := *k
		other.KeyID = "SHA256:other"
		err = s.Tx(ctx, func(tx store.Tx) error { return tx.PutHeldSigstoreKey(ctx, &other) })
		if !domain.IsKind(err, domain.KindConflict) {
			t.Fatalf("another key for the same held key: %v", err)
		}
		sk, _ := s.ServerKey(ctx, "CCCC")
		sk.RevokedAt = &now
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.UpdateServerKey(ctx, sk) }); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.HeldSigstoreKeys(ctx, []int64{u.ID}); len(got) != 1 || got[0].RevokedAt == nil {
			t.Fatalf("revocation not listed: %+v", got)
		}
	})
}
