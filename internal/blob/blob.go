// Package blob stores artifact content, addressed by its SHA-256 digest.
//
// Content is streamed: Put reads its input once, writes it to a temporary
// file and computes SHA-256 and SHA-512 concurrently in the same pass. The
// file is synced and renamed into place only when complete, so a crash never
// leaves a partial blob visible. The marshalled hash states are returned too,
// so that signature checks can finish a digest without reading the bytes
// again.
package blob

import (
	"context"
	"io"
	"time"

	"trel/internal/domain"
)

// Store is the seam between trel and the place artifact bytes live. The
// local-disk implementation is Disk; an S3 implementation runs the same
// shared test suite (package blobtest).
type Store interface {
	// Put streams r into the store. It fails with a KindTooLarge error when r
	// holds more than max bytes, and leaves nothing behind on any failure.
	Put(ctx context.Context, r io.Reader, max int64) (domain.Blob, error)
	// Open returns the content of the blob with the given hex SHA-256.
	Open(ctx context.Context, sha256 string) (io.ReadSeekCloser, error)
	// Exists reports whether the blob is stored.
	Exists(ctx context.Context, sha256 string) (bool, error)
	// List calls fn for every stored blob with the time it was last
	// written (a Put of the same content writes it again).
	List(ctx context.Context, fn func(sha256 string, written time.Time) error) error
	// Delete removes a blob unless it was written at or after notBefore
	// (a Put racing with the deletion); it reports whether it removed it.
	// A missing blob is not an error.
	Delete(ctx context.Context, sha256 string, notBefore time.Time) (bool, error)

	// Staged content (resumable uploads) arrives in parts over several
	// requests, each part stored durably before the caller records it,
	// and becomes a blob only when complete. The caller computes the
	// digests as the parts go by (Digests), so nothing is read twice.
	//
	// StartStaged prepares a place for the parts and returns its key.
	StartStaged(ctx context.Context) (key string, err error)
	// PutPart stores exactly size bytes of r as the part that starts at
	// offset, numbered n. Each attempt has its own, increasing number, so
	// that an attempt that failed (or lost a race) never replaces the
	// part another attempt stored; only the parts the caller accepted
	// count. A part that fails midway leaves nothing that counts, and a
	// later attempt at the same offset works. Attempts at one key must not
	// run concurrently (the caller holds a lock).
	PutPart(ctx context.Context, key string, n int, offset int64, r io.Reader, size int64) (domain.StagedPart, error)
	// FinishStaged makes the accepted parts, in order, the blob b (whose
	// digests and size the caller computed).
	FinishStaged(ctx context.Context, key string, parts []domain.StagedPart, b domain.Blob) error
	// AbortStaged removes what StartStaged and PutPart stored (a missing
	// key is not an error).
	AbortStaged(ctx context.Context, key string) error
}
