package store

import (
	"context"
	"time"

	"trel/internal/domain"
)

// ContentReader holds the queries of storage hygiene, secret scanning and
// publication (embedded in Reader).
type ContentReader interface {
	// StorageUsage returns the bytes counted against a release and a user.
	StorageUsage(ctx context.Context, releaseID, userID int64) (domain.StorageUsage, error)
	// CleanScans maps each of the digests that the secret scanner of the
	// given version (or a later one) found clean to true.
	CleanScans(ctx context.Context, sha256s []string, version int) (map[string]bool, error)
	// UnreferencedBlobs lists up to limit blobs that no revision references
	// and that were last uploaded before the given time.
	UnreferencedBlobs(ctx context.Context, before time.Time, limit int) ([]string, error)
	// Publication returns a release's publication (KindNotFound when it
	// was never started).
	Publication(ctx context.Context, releaseID int64) (*domain.Publication, error)
	// UnfinishedPublications lists the publications still in the
	// publishing state.
	UnfinishedPublications(ctx context.Context) ([]domain.Publication, error)
}

// ContentTx holds the writes (embedded in Tx).
type ContentTx interface {
	// ChargeUpload records that userID uploaded the blob (already stored
	// with PutBlob) to the release, refreshes the blob's upload time, and,
	// the first time this content reaches this release, counts its size
	// against the release and the user. When that would pass a non-zero
	// quota nothing is recorded and a KindTooLarge error says the quota
	// and the usage.
	ChargeUpload(ctx context.Context, releaseID, userID int64, sha256 string, q domain.Quota, at time.Time) error
	// RecordCleanScan notes that the secret scanner of the given version
	// read the blob and found nothing.
	RecordCleanScan(ctx context.Context, sha256 string, version int, at time.Time) error
	// DeleteUnreferencedBlob deletes the blob's rows (its uploads, with
	// their usage, and its scan) if no revision references it and it was
	// last uploaded before the given time; it reports whether it did. The
	// stored bytes are the caller's to remove.
	DeleteUnreferencedBlob(ctx context.Context, sha256 string, before time.Time) (bool, error)
	// StartPublication records p (state publishing); a conflict when the
	// release already has a publication.
	StartPublication(ctx context.Context, p *domain.Publication) error
	// ClaimPublication takes an unfinished publication for until: when
	// force is false only if nobody holds it now. It reports whether the
	// claim was taken.
	ClaimPublication(ctx context.Context, releaseID int64, now, until time.Time, force bool) (bool, error)
	// SetPublicationLogIndex records the log entry of the manifest.
	SetPublicationLogIndex(ctx context.Context, releaseID int64, index uint64) error
	// FinishPublication marks the publication published.
	FinishPublication(ctx context.Context, releaseID int64, at time.Time) error
}
