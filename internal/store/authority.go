package store

import (
	"context"

	"trel/internal/domain"
)

// AuthorityReader holds the queries that keep release authority current:
// which keys signed published releases (historic keys) and which deleted
// keys a user may restore.
type AuthorityReader interface {
	// PublishedSigners maps the fingerprint of every key that signed a
	// published release of the committee to those releases
	// ("project version"), sorted.
	PublishedSigners(ctx context.Context, committeeID int64) (map[string][]string, error)
	// DeletedKeys lists the soft-deleted keys a user owns, sorted by
	// fingerprint (with subkeys and committee links).
	DeletedKeys(ctx context.Context, ownerID int64) ([]domain.Key, error)
}

// AuthorityWriter holds the writes that end or restore authority.
type AuthorityWriter interface {
	// RemoveReleaseManager ends one release-manager role; a missing role
	// is a domain.KindNotFound error.
	RemoveReleaseManager(ctx context.Context, releaseID, userID int64) error
	// EndReleaseManagerRoles ends the user's release-manager roles in the
	// committee's releases that are not yet published and returns them
	// ("project version"), sorted.
	EndReleaseManagerRoles(ctx context.Context, committeeID, userID int64) ([]string, error)
	// RestoreKey clears a key's deletion; owner and links are as they were.
	RestoreKey(ctx context.Context, fingerprint string) error
	// AddPublishedSigner records that a key signed a published release.
	AddPublishedSigner(ctx context.Context, releaseID int64, fingerprint string) error
	// SetVoteBinding freezes whether a vote counted as binding (when its
	// round is resolved).
	SetVoteBinding(ctx context.Context, releaseID int64, round int, userID int64, binding bool) error
}
