package store

import (
	"context"
	"time"

	"trel/internal/domain"
)

// WebStore holds what the web interface needs beside the Store: passkeys,
// one-time enrollment links, browser sessions and pending WebAuthn
// ceremonies. Secrets are passed and stored as SHA-256 hashes only.
// Methods that take an audit event write it in the same transaction as the
// change.
type WebStore interface {
	// UserHandle returns the user's WebAuthn user handle, storing
	// newHandle as that handle the first time it is asked for.
	UserHandle(ctx context.Context, userID int64, newHandle []byte) ([]byte, error)
	// UserIDByHandle finds the user of a WebAuthn user handle.
	UserIDByHandle(ctx context.Context, handle []byte) (int64, error)

	// Passkeys lists a user's passkeys, oldest first.
	Passkeys(ctx context.Context, userID int64) ([]Passkey, error)
	// AddPasskey stores pk. When enrollmentID > 0 it also consumes that
	// enrollment link in the same transaction, and fails with a conflict
	// when the link was used meanwhile or expired before at.
	AddPasskey(ctx context.Context, pk *Passkey, enrollmentID int64, at time.Time, ev domain.AuditEvent) error
	// UpdatePasskeyUse records a successful sign-in with the passkey. The
	// signature counter must advance (or stay 0 for authenticators without
	// one): otherwise, as when a copy of the authenticator used the value
	// concurrently, it fails with a conflict and records nothing.
	UpdatePasskeyUse(ctx context.Context, id int64, signCount uint32, backupState bool, credential []byte, at time.Time) error
	// DeletePasskey removes one of the user's passkeys; removing the last
	// one is refused with a conflict.
	DeletePasskey(ctx context.Context, userID, id int64, ev domain.AuditEvent) error

	// CreateEnrollment stores a new enrollment link (its hash) and sets e.ID.
	CreateEnrollment(ctx context.Context, e *Enrollment, ev domain.AuditEvent) error
	// EnrollmentByHash finds a link, used or not.
	EnrollmentByHash(ctx context.Context, hash []byte) (*Enrollment, error)
	// OpenEnrollments lists links neither used nor expired at now, newest first.
	OpenEnrollments(ctx context.Context, now time.Time) ([]Enrollment, error)

	// CreateSession stores a new browser session, with its audit event.
	CreateSession(ctx context.Context, s *WebSession, ev domain.AuditEvent) error
	// SessionByHash finds a session.
	SessionByHash(ctx context.Context, hash []byte) (*WebSession, error)
	// TouchSession records activity on a session (for the idle timeout).
	TouchSession(ctx context.Context, hash []byte, at time.Time) error
	// DeleteSession ends one session; a missing session is not an error.
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteUserSessions ends every session of a user and reports how many.
	DeleteUserSessions(ctx context.Context, userID int64, ev domain.AuditEvent) (int, error)
	// CountSessions counts a user's sessions.
	CountSessions(ctx context.Context, userID int64) (int, error)
	// PurgeSessions deletes sessions idle since before idleBefore or created
	// before createdBefore, and ceremonies expired before now.
	PurgeSessions(ctx context.Context, idleBefore, createdBefore, now time.Time) error

	// PutCeremony stores a pending WebAuthn ceremony.
	PutCeremony(ctx context.Context, c *Ceremony) error
	// TakeCeremony returns and deletes a ceremony in one step, so that it
	// can be finished at most once.
	TakeCeremony(ctx context.Context, hash []byte) (*Ceremony, error)
}

// Passkey is a user's WebAuthn credential.
type Passkey struct {
	ID             int64  `json:"id"`
	UserID         int64  `json:"user_id"`
	Name           string `json:"name"`
	CredentialID   []byte `json:"-"`
	SignCount      uint32 `json:"sign_count"`
	BackupEligible bool   `json:"backup_eligible"`
	BackupState    bool   `json:"backup_state"`
	// Credential is the WebAuthn library's credential record (JSON): public
	// key, flags, attestation. The columns above summarise it.
	Credential []byte     `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// Notice, when set, is left for the user in the same transaction
	// (a passkey added while they already had one).
	Notice string `json:"-"`
}

// Enrollment is a one-time link with which a user registers a passkey.
type Enrollment struct {
	ID        int64
	UserID    int64
	Username  string // filled by reads
	Hash      []byte
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
	// Notice, when set, is left for the user in the same transaction
	// (a re-enrollment of someone who already has passkeys).
	Notice string
}

// WebSession is a signed-in browser.
type WebSession struct {
	ID         int64
	Hash       []byte
	UserID     int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	ClientIP   string
	UserAgent  string
	PasskeyID  int64 // the passkey that opened it (0: unknown)
}

// Ceremony is a WebAuthn registration or sign-in between its begin and
// finish steps.
type Ceremony struct {
	Hash         []byte
	Kind         string // "register" or "login"
	UserID       int64  // the registering user; 0 for a sign-in
	EnrollmentID int64  // the enrollment link being used, if any
	PasskeyName  string
	Data         []byte // the library's SessionData, JSON
	ExpiresAt    time.Time
}
