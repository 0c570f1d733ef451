package store

import (
	"context"

	"trel/internal/domain"
)

// HeldSigstoreReader reads the Sigstore public keys of keys trel holds.
type HeldSigstoreReader interface {
	// HeldSigstoreKeys lists the keys held for the given users, with their
	// held key's revocation and retirement times.
	HeldSigstoreKeys(ctx context.Context, userIDs []int64) ([]domain.HeldSigstoreKey, error)
}

// HeldSigstoreWriter records them.
type HeldSigstoreWriter interface {
	// PutHeldSigstoreKey records a held key's Sigstore public key; the same
	// key again changes nothing, another one for the same held key is a
	// conflict (it is derived, so it cannot change).
	PutHeldSigstoreKey(ctx context.Context, k *domain.HeldSigstoreKey) error
}
