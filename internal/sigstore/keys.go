package sigstore

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/signature"
)

// PublicKey is a registered long-lived signing key for key-based bundles
// (bundles that carry a public-key hint instead of a certificate).
type PublicKey struct {
	// Name is the operator's label for the key.
	Name string
	// Fingerprint is "SHA256:" + unpadded base64 of SHA-256 over the
	// key's DER (SubjectPublicKeyInfo) encoding, like ssh-keygen -l.
	Fingerprint string
	// Unlogged marks a key whose signatures trel logs in its own public
	// log instead of Rekor (keys held by trel): its bundles may carry no
	// Rekor entry, and then need a timestamp from a trusted timestamp
	// authority instead.
	Unlogged bool

	key crypto.PublicKey
}

// ParsePublicKeyPEM parses one PEM "PUBLIC KEY" block (ECDSA, RSA or
// Ed25519).
func ParsePublicKeyPEM(name string, data []byte) (PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return PublicKey{}, errors.New("no PEM block found in public key")
	}
	if block.Type != "PUBLIC KEY" {
		return PublicKey{}, fmt.Errorf("PEM block is %q, want \"PUBLIC KEY\"", block.Type)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return PublicKey{}, fmt.Errorf("parsing public key: %w", err)
	}
	return PublicKey{Name: name, Fingerprint: fingerprint(block.Bytes), key: key}, nil
}

// PEM is the key as a PEM "PUBLIC KEY" block.
func (k PublicKey) PEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// trustedMaterial exposes one key to sigstore-go whatever hint the bundle
// names: the hint is unauthenticated, so we try each registered key rather
// than trust the bundle to pick one.
func (k PublicKey) trustedMaterial() (root.TrustedMaterial, error) {
	verifier, err := signature.LoadDefaultVerifier(k.key)
	if err != nil {
		return nil, fmt.Errorf("public key %q: %w", k.Name, err)
	}
	// No validity window: the operator registered the key and removes it
	// when it is no longer trusted.
	expiring := root.NewExpiringKey(verifier, time.Time{}, time.Time{})
	return root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return expiring, nil
	}), nil
}

// PublicKeyOf wraps a public key (ECDSA, RSA or Ed25519) with its name and
// fingerprint.
func PublicKeyOf(key crypto.PublicKey, name string) (PublicKey, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return PublicKey{}, fmt.Errorf("public key %q: %w", name, err)
	}
	return PublicKey{Name: name, Fingerprint: fingerprint(der), key: key}, nil
}
