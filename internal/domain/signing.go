package domain

import "time"

// ServerKey is a signing key trel generated and holds for a user.
type ServerKey struct {
	Fingerprint    string     `json:"fingerprint"`
	UserID         int64      `json:"-"`
	Owner          string     `json:"owner"`
	Algorithm      string     `json:"algorithm"`
	Sealed         []byte     `json:"-"` // the vault's JSON; never leaves the server
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	RevokedAt      *time.Time `json:"revoked_at,omitempty"`
	RetiredAt      *time.Time `json:"retired_at,omitempty"`
	FailedAttempts int        `json:"failed_attempts"`
	LockedUntil    *time.Time `json:"locked_until,omitempty"`
}

// Usable says why the key may not sign at now, or "" when it may.
func (k *ServerKey) Usable(now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return "the key is revoked"
	case k.RetiredAt != nil:
		return "the key is retired"
	case !now.Before(k.ExpiresAt):
		return "the key expired on " + k.ExpiresAt.UTC().Format("2006-01-02")
	case k.LockedUntil != nil && now.Before(*k.LockedUntil):
		return "the key is locked after too many wrong passwords until " + k.LockedUntil.UTC().Format(time.RFC3339)
	}
	return ""
}

// SigningRequest is a transaction waiting for the release manager's
// passkey approval.
type SigningRequest struct {
	ID          int64      `json:"id"`
	UserID      int64      `json:"-"`
	Fingerprint string     `json:"fingerprint"`
	ReleaseID   int64      `json:"-"`
	Revision    int        `json:"revision"`
	Tx          []byte     `json:"-"` // canonical transaction JSON
	Nonce       []byte     `json:"-"`
	Challenge   []byte     `json:"-"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	UsedAt      *time.Time `json:"used_at,omitempty"`
}

// SigningEvent is one audited attempt of server-side signing.
type SigningEvent struct {
	ID           int64        `json:"id"`
	Time         time.Time    `json:"time"`
	User         string       `json:"user"`
	UserID       int64        `json:"-"`
	ClientIP     string       `json:"client_ip"`
	RequestID    int64        `json:"request_id,omitempty"`
	Fingerprint  string       `json:"fingerprint"`
	CredentialID []byte       `json:"credential_id,omitempty"`
	AAGUID       []byte       `json:"aaguid,omitempty"`
	Flags        int          `json:"flags"`
	SignCount    uint32       `json:"sign_count"`
	Assertion    []byte       `json:"assertion,omitempty"`
	Tx           string       `json:"transaction"`
	Files        []SignedFile `json:"files"`
	Outcome      string       `json:"outcome"`
}

// SignedFile is one file signed by the server.
type SignedFile struct {
	Path            string `json:"path"`
	SHA512          string `json:"sha512"`
	SignatureSHA256 string `json:"signature_sha256,omitempty"`
	LogIndex        uint64 `json:"log_index,omitempty"`
}
