package signing

import (
	"bytes"
	"crypto"
	"crypto/sha512"
	"crypto/subtle"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	pgp "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Errors of Sign.
var (
	ErrKeyExpired     = errors.New("the signing key has expired")
	ErrKeyRevoked     = errors.New("the signing key is revoked")
	ErrKeyNotYetValid = errors.New("the signing key is not valid yet (created after the signature time)")
	ErrDigestMismatch = errors.New("the data does not have the approved SHA-512 digest")
)

// FileToSign is one artifact to sign: either the SHA-512 state saved at
// upload (preferred: the bytes are not read again) or a reader.
type FileToSign struct {
	// Path names the file in errors and in the result.
	Path string
	// SHA512State is the encoding.BinaryMarshaler output of a crypto/sha512
	// SHA-512 digest after every byte of the file was written, before Sum.
	SHA512State []byte
	// Reader is read to the end when SHA512State is empty.
	Reader io.Reader
	// ExpectSHA512, when set (hex), is the digest the user approved; Sign
	// refuses the file (ErrDigestMismatch) when the data has another one.
	ExpectSHA512 string
}

// Signature is the detached signature of one file.
type Signature struct {
	Path string
	// Armored is the "PGP SIGNATURE" block with the CRC line and a
	// trailing newline: the content of the .asc file.
	Armored []byte
	// SHA512 is the hex SHA-512 of the signed data.
	SHA512 string
	// Created is the signature creation time.
	Created time.Time
	// Fingerprint of the key that signed.
	Fingerprint string
}

// SignOptions tune SignWithOptions.
type SignOptions struct {
	// Now is the clock giving the signature creation time; time.Now when nil.
	Now func() time.Time
}

// Sign signs every file with the secret key (made by Generate and opened
// from the vault), dated now. Either all files are signed or an error is
// returned. Sign does not wipe secret; the caller does.
func Sign(secret []byte, files []FileToSign) ([]Signature, error) {
	return SignWithOptions(secret, files, SignOptions{})
}

// SignWithOptions is Sign with an injectable clock.
func SignWithOptions(secret []byte, files []FileToSign, opts SignOptions) ([]Signature, error) {
	if len(files) == 0 {
		return nil, errors.New("sign: no files")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	at := now().UTC().Truncate(time.Second)
	e, err := readSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	defer wipeEntity(e)
	if err := usable(e, at); err != nil {
		return nil, fmt.Errorf("sign: key %X: %w", e.PrimaryKey.Fingerprint, err)
	}
	fpr := fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
	cfg := &packet.Config{
		DefaultHash:                           crypto.SHA512,
		Time:                                  func() time.Time { return at },
		NonDeterministicSignaturesViaNotation: boolPtr(false),
	}
	out := make([]Signature, 0, len(files))
	for i, f := range files {
		name := f.Path
		if name == "" {
			name = fmt.Sprintf("file %d", i+1)
		}
		h, err := dataHash(f)
		if err != nil {
			return nil, fmt.Errorf("sign %s: %w", name, err)
		}
		// Sum does not change the state: the trailer is written after.
		digest := hex.EncodeToString(h.Sum(nil))
		if f.ExpectSHA512 != "" {
			want := strings.ToLower(strings.TrimSpace(f.ExpectSHA512))
			if subtle.ConstantTimeCompare([]byte(want), []byte(digest)) != 1 {
				return nil, fmt.Errorf("sign %s: %w", name, ErrDigestMismatch)
			}
		}
		armored, err := signHash(h, e.PrivateKey, at, cfg)
		if err != nil {
			return nil, fmt.Errorf("sign %s: %w", name, err)
		}
		out = append(out, Signature{Path: f.Path, Armored: armored, SHA512: digest, Created: at, Fingerprint: fpr})
	}
	return out, nil
}

// usable refuses revoked keys, and keys expired or not yet valid at time at.
func usable(e *pgp.Entity, at time.Time) error {
	// Any revocation stops the key, whatever its reason and date: a
	// server-held key never signs again once revoked, even with a clock
	// set before the revocation.
	if len(e.Revocations) > 0 || e.Revoked(at) {
		return ErrKeyRevoked
	}
	self, _ := e.PrimarySelfSignature()
	if self == nil {
		return errors.New("the key has no valid self-signature")
	}
	if at.Before(e.PrimaryKey.CreationTime) {
		return ErrKeyNotYetValid
	}
	if e.PrimaryKey.KeyExpired(self, at) || self.SigExpired(at) {
		return ErrKeyExpired
	}
	if self.FlagsValid && !self.FlagSign {
		return errors.New("the key is not allowed to sign")
	}
	return nil
}

// dataHash gives a SHA-512 hash fed with every byte of the file.
func dataHash(f FileToSign) (hash.Hash, error) {
	h := sha512.New()
	if len(f.SHA512State) > 0 {
		u, ok := h.(encoding.BinaryUnmarshaler)
		if !ok {
			return nil, errors.New("SHA-512 cannot restore a saved state")
		}
		if err := u.UnmarshalBinary(f.SHA512State); err != nil {
			return nil, fmt.Errorf("restore saved SHA-512 state: %w", err)
		}
		return h, nil
	}
	if f.Reader == nil {
		return nil, errors.New("neither a saved SHA-512 state nor a reader")
	}
	if _, err := io.Copy(h, f.Reader); err != nil {
		return nil, fmt.Errorf("read data: %w", err)
	}
	return h, nil
}

// signHash finishes h (the data already written) with a v4 binary
// signature's trailer, signs it and armors the packet.
func signHash(h hash.Hash, priv *packet.PrivateKey, at time.Time, cfg *packet.Config) ([]byte, error) {
	keyID := priv.PublicKey.KeyId
	sig := &packet.Signature{
		Version:      4,
		SigType:      packet.SigTypeBinary,
		PubKeyAlgo:   priv.PublicKey.PubKeyAlgo,
		Hash:         crypto.SHA512,
		CreationTime: at,
		IssuerKeyId:  &keyID,
	}
	if err := sig.Sign(h, priv, cfg); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	var buf bytes.Buffer
	if err := armorPacket(&buf, "PGP SIGNATURE", sig.Serialize); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
