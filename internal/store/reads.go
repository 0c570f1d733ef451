package store

import (
	"context"

	"trel/internal/domain"
)

// RevisionReads are the narrow reads of the busiest requests (check
// listings, downloads, uploads): one query each, no manifest. Embedded in Reader.
type RevisionReads interface {
	// ReleaseByKeys returns a release found by its project's key and its
	// version: what ProjectByKey then ReleaseByVersion return, in one
	// query (NotFound if either is missing).
	ReleaseByKeys(ctx context.Context, projectKey, version string) (*domain.Release, error)
	// RevisionCheckRun returns the check run of a release's revision
	// number (its RevisionID is the revision's id); NotFound if the
	// revision does not exist or was never checked.
	RevisionCheckRun(ctx context.Context, releaseID int64, number int) (*domain.CheckRun, error)
	// RevisionFile returns one file of a release's revision number, nil
	// when the revision (which exists) has no such file.
	RevisionFile(ctx context.Context, releaseID int64, number int, path string) (*domain.File, error)
}
