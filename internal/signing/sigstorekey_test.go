package signing

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// TestDeriveSigstoreKeyIsStableAndBound: the same secret and fingerprint
// give the same key (nothing to store); another secret or fingerprint
// gives another key; the key signs and verifies.
func TestDeriveSigstoreKeyIsStableAndBound(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 100)
	a, err := DeriveSigstoreKey(secret, "FPR1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DeriveSigstoreKey(append([]byte(nil), secret...), "FPR1")
	if !a.Equal(b) {
		t.Fatal("the derivation is not deterministic")
	}
	other, _ := DeriveSigstoreKey(secret, "FPR2")
	changed := append([]byte(nil), secret...)
	changed[0] ^= 1
	third, _ := DeriveSigstoreKey(changed, "FPR1")
	if a.Equal(other) || a.Equal(third) {
		t.Fatal("the key does not depend on both the secret and the fingerprint")
	}
	sum := sha256.Sum256([]byte("artifact"))
	sig, err := ecdsa.SignASN1(rand.Reader, a, sum[:])
	if err != nil || !ecdsa.VerifyASN1(&a.PublicKey, sum[:], sig) {
		t.Fatal("signature does not verify")
	}
	if _, err := DeriveSigstoreKey(nil, "FPR1"); err == nil {
		t.Fatal("an empty secret was accepted")
	}
}
