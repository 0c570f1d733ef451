package store

import (
	"context"
	"time"

	"trel/internal/domain"
)

// UploadSessionReader reads resumable uploads. It is embedded in Reader.
type UploadSessionReader interface {
	// UploadSession returns one session (KindNotFound when there is none).
	UploadSession(ctx context.Context, id string) (*domain.UploadSession, error)
	// UploadSessions lists a user's sessions not yet expired at now, of one
	// release when releaseID > 0, oldest first.
	UploadSessions(ctx context.Context, userID, releaseID int64, now time.Time) ([]domain.UploadSession, error)
	// ExpiredUploadSessions lists up to limit sessions expired at now.
	ExpiredUploadSessions(ctx context.Context, now time.Time, limit int) ([]domain.UploadSession, error)
}

// UploadSessionTx changes resumable uploads. Every change is one
// conditional statement, so that concurrent requests on any replica
// cannot both advance, claim or complete a session. It is embedded in Tx.
type UploadSessionTx interface {
	// CreateUploadSession inserts s unless the user already holds maxOpen
	// unexpired sessions that are not completed, or those sessions' sizes
	// plus s.Size exceed maxBytes; ok is false then. The counts and the
	// insert are one conditional insert; it must be the transaction's
	// first statement.
	CreateUploadSession(ctx context.Context, s *domain.UploadSession, maxOpen int, maxBytes int64, now time.Time) (ok bool, err error)
	// NextUploadPart numbers one attempt to send the chunk at offset: it
	// returns the part number and moves the counter, if the session is
	// open, unexpired at now and has received exactly offset bytes.
	NextUploadPart(ctx context.Context, id string, offset int64, now time.Time) (part int, ok bool, err error)
	// AdvanceUploadSession records an accepted chunk: received goes from
	// `from` to s.Received with s's parts, hash and scanner states, only if
	// the session is still open at `from` (ok false otherwise).
	AdvanceUploadSession(ctx context.Context, s *domain.UploadSession, from int64, now time.Time) (ok bool, err error)
	// ClaimUploadSession moves an open, unexpired session that received
	// all its bytes to completing, or takes over one left completing
	// since before stale (its request died). ok is false otherwise.
	ClaimUploadSession(ctx context.Context, id string, now, stale time.Time) (ok bool, err error)
	// ReopenUploadSession gives a completing session back (its completion
	// failed in a way that may be retried).
	ReopenUploadSession(ctx context.Context, id string, now time.Time) error
	// FinishUploadSession marks a completing session completed, with its
	// content and the revision made of it (nil: none).
	FinishUploadSession(ctx context.Context, id, sha256 string, revision *int, now time.Time) (ok bool, err error)
	// DeleteUploadSession removes a session, only in one of the given
	// states when any are given; ok is false when it was not removed.
	DeleteUploadSession(ctx context.Context, id string, states ...string) (ok bool, err error)
}
