package store

import (
	"context"

	"trel/internal/domain"
)

// RevisionReads are the narrow reads of the busiest requests (check
// listings, downloads): one query each, no manifest. Embedded in Reader.
type RevisionReads interface {
	// RevisionID returns the id of a release's revision number.
	RevisionID(ctx context.Context, releaseID int64, number int) (int64, error)
	// RevisionFile returns one file of a release's revision number, nil
	// when the revision (which exists) has no such file.
	RevisionFile(ctx context.Context, releaseID int64, number int, path string) (*domain.File, error)
}
