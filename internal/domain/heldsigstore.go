package domain

import "time"

// HeldSigstoreKey is the Sigstore (ECDSA P-256) public key of a signing key
// trel holds: the key signs key-based Sigstore bundles after the same
// passkey approval as OpenPGP signatures. Its private half is derived from
// the held key's secret and never stored.
type HeldSigstoreKey struct {
	// Fingerprint is the held OpenPGP key's.
	Fingerprint string `json:"fingerprint"`
	UserID      int64  `json:"-"`
	Owner       string `json:"owner"`
	// PublicKey is the PEM "PUBLIC KEY" block; KeyID is "SHA256:" and the
	// unpadded base64 SHA-256 of its DER.
	PublicKey string     `json:"public_key"`
	KeyID     string     `json:"key_id"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
}
