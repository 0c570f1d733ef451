package openpgp

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"time"

	pgpv1 "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// ErrPassphrase means the secret key is protected and the passphrase given
// (possibly none) does not unlock it.
var ErrPassphrase = errors.New("the passphrase is missing or wrong")

// SigningKey is a decrypted secret key ready to make detached signatures.
type SigningKey struct {
	// Fingerprint of the primary key.
	Fingerprint string
	// SubkeyFingerprint of the signing subkey; empty when the primary signs.
	SubkeyFingerprint string

	entity *pgpv1.Entity
	keyID  uint64
}

// ReadSecretKey reads an armored or binary secret key, picks the newest
// valid signing-capable subkey (or the primary key when it is the only one
// allowed to sign) and decrypts it with passphrase. Expired and revoked keys
// are refused. Only use it for keys the user or the service itself made:
// foreign secret keys can carry unbounded Argon2 parameters.
func ReadSecretKey(data []byte, passphrase []byte) (*SigningKey, error) {
	var list pgpv1.EntityList
	var err error
	if bytes.Contains(data, armorMarker) {
		list, err = pgpv1.ReadArmoredKeyRing(bytes.NewReader(data))
	} else {
		list, err = pgpv1.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	var e *pgpv1.Entity
	for _, cand := range list {
		if cand.PrivateKey != nil {
			e = cand
			break
		}
	}
	if e == nil {
		return nil, errors.New("read secret key: the data holds no secret key")
	}
	now := time.Now()
	if e.Revoked(now) {
		return nil, fmt.Errorf("secret key %X is revoked; it must not sign anything", e.PrimaryKey.Fingerprint)
	}
	self, _ := e.PrimarySelfSignature()
	if self == nil {
		return nil, fmt.Errorf("secret key %X has no valid self-signature", e.PrimaryKey.Fingerprint)
	}
	if e.PrimaryKey.KeyExpired(self, now) {
		return nil, fmt.Errorf("secret key %X has expired; extend it (gpg --quick-set-expire) or create a new one", e.PrimaryKey.Fingerprint)
	}
	key, ok := e.SigningKey(now)
	if !ok {
		return nil, fmt.Errorf("secret key %X has no valid signing key (expired, revoked, or none with the signing flag)", e.PrimaryKey.Fingerprint)
	}
	if key.PrivateKey == nil || key.PrivateKey.Dummy() {
		return nil, fmt.Errorf("secret key %X: the secret part of signing key %X is missing (stub or smartcard key)", e.PrimaryKey.Fingerprint, key.PublicKey.Fingerprint)
	}
	if key.PrivateKey.Encrypted {
		if err := key.PrivateKey.Decrypt(passphrase); err != nil {
			return nil, fmt.Errorf("decrypt signing key %X: %w", key.PublicKey.Fingerprint, ErrPassphrase)
		}
	}
	k := &SigningKey{
		Fingerprint: fmt.Sprintf("%X", e.PrimaryKey.Fingerprint),
		entity:      e,
		keyID:       key.PublicKey.KeyId,
	}
	if key.PublicKey.KeyId != e.PrimaryKey.KeyId {
		k.SubkeyFingerprint = fmt.Sprintf("%X", key.PublicKey.Fingerprint)
	}
	return k, nil
}

// SignDetached writes an armored detached SHA-512 signature of data to w.
// The armor keeps its CRC line and ends with a newline: gpg 2.2 exits with
// status 2 on armor without the checksum.
func (k *SigningKey) SignDetached(w io.Writer, data io.Reader) error {
	aw, err := armor.Encode(w, "PGP SIGNATURE", nil)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	cfg := &packet.Config{DefaultHash: crypto.SHA512, SigningKeyId: k.keyID}
	if err := pgpv1.DetachSign(aw, k.entity, data, cfg); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	if err := aw.Close(); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	return nil
}
