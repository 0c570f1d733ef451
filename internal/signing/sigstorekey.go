package signing

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
)

// SigstoreKeyTag is the HKDF salt of held keys' Sigstore keys.
const SigstoreKeyTag = "trel-sigstore-p256-v1"

// DeriveSigstoreKey derives the ECDSA P-256 key a held key signs Sigstore
// bundles with: HKDF-SHA256 of the held key's secret (as the vault keeps
// it), salted with SigstoreKeyTag and bound to the fingerprint, read as the
// private scalar; the rare output that is not a valid scalar is skipped by
// counting on. It is deterministic, so nothing more is stored: the same
// master key and password that open the OpenPGP key open this one, and it
// stops with it (revoked, retired, expired). Sigstore clients verify P-256
// everywhere, which neither EdDSA-legacy OpenPGP keys nor RSA-4096 PKCS#1
// v1.5 would give for free.
func DeriveSigstoreKey(secret []byte, fingerprint string) (*ecdsa.PrivateKey, error) {
	if len(secret) == 0 || fingerprint == "" {
		return nil, errors.New("derive sigstore key: empty secret or fingerprint")
	}
	for i := range 16 {
		d, err := hkdf.Key(sha256.New, secret, []byte(SigstoreKeyTag), fmt.Sprintf("%s/%d", fingerprint, i), 32)
		if err != nil {
			return nil, fmt.Errorf("derive sigstore key: %w", err)
		}
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
		Wipe(d)
		if err == nil {
			return k, nil
		}
	}
	return nil, errors.New("derive sigstore key: no valid scalar (this cannot happen in practice)")
}
