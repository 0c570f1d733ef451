package store

import (
	"context"
	"time"

	"trel/internal/domain"
)

// IncidentReader holds the queries of incident response (suspended users,
// sessions and passkeys seen by administrators, notices) and of the
// counters that limit server-held keys.
type IncidentReader interface {
	// TokenByID returns a token (any user's).
	TokenByID(ctx context.Context, id int64) (*domain.Token, error)
	// UserSessions lists a user's browser sessions, newest first.
	UserSessions(ctx context.Context, userID int64) ([]domain.Session, error)
	// SessionByID returns one session.
	SessionByID(ctx context.Context, id int64) (*domain.Session, error)
	// UserPasskeys lists a user's passkeys, oldest first.
	UserPasskeys(ctx context.Context, userID int64) ([]Passkey, error)
	// PasskeyByID returns one passkey.
	PasskeyByID(ctx context.Context, id int64) (*Passkey, error)
	// Notices lists a user's notices not yet dismissed, oldest first.
	Notices(ctx context.Context, userID int64) ([]domain.Notice, error)
	// ActiveServerKeys counts a user's held keys neither revoked nor retired.
	ActiveServerKeys(ctx context.Context, userID int64) (int, error)
}

// IncidentTx holds the changes of incident response. Every counter is one
// atomic statement: concurrent requests (and replicas) cannot overshoot.
type IncidentTx interface {
	RateCounter
	// SetSuspended suspends (at != nil) or reactivates (nil) a user.
	SetSuspended(ctx context.Context, userID int64, at *time.Time) error
	// EndSessions deletes the sessions matching f and reports how many.
	EndSessions(ctx context.Context, f SessionFilter) (int, error)
	// RemovePasskey deletes one of the user's passkeys, even the last one.
	RemovePasskey(ctx context.Context, userID, id int64) error
	// AddNotice stores a notice for a user.
	AddNotice(ctx context.Context, userID int64, message string, at time.Time) error
	// DismissNotice marks one of the user's notices read.
	DismissNotice(ctx context.Context, userID, id int64, at time.Time) error
	// ReservePasswordAttempt counts one password attempt on a held key
	// before the password is derived, unless the key is locked at now. The
	// attempt that reaches max locks the key until now+lockout. It returns
	// the attempt's number, or ok=false when the key is locked.
	ReservePasswordAttempt(ctx context.Context, fpr string, now time.Time, max int, lockout time.Duration) (n int, ok bool, err error)
	// ClearPasswordAttempts resets the count after the right password in
	// attempt n, unless another attempt locked the key meanwhile (then it
	// reports false).
	ClearPasswordAttempts(ctx context.Context, fpr string, n int, now time.Time) (bool, error)
	// PutServerKeyCapped stores a held key only if the user holds fewer
	// than max active ones (a conflict otherwise).
	PutServerKeyCapped(ctx context.Context, k *domain.ServerKey, max int) error
}

// SessionFilter selects sessions to end: by id, by user, or by the passkey
// that opened them (the first non-zero field).
type SessionFilter struct {
	ID        int64
	UserID    int64
	PasskeyID int64
}
