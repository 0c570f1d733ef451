package openpgp

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"unicode/utf8"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// ErrPrivateKeyMaterial is matched (errors.Is) by every error that reports
// private key material in an upload.
var ErrPrivateKeyMaterial = errors.New("private key material")

// PrivateKeyError says which kind of private key was found. It never carries
// any of the key's bytes.
type PrivateKeyError struct {
	Kind string // e.g. "OpenPGP secret key packet", "OpenSSH private key"
}

func (e *PrivateKeyError) Error() string {
	return "this is private key material (" + e.Kind + "); it was not stored. " +
		"Anything that has seen it must be considered to have a copy: treat the key as compromised, " +
		"revoke it and create a new one, then upload only the PUBLIC key (gpg --armor --export KEYID)"
}

// Is makes errors.Is(err, ErrPrivateKeyMaterial) true.
func (e *PrivateKeyError) Is(target error) bool { return target == ErrPrivateKeyMaterial }

// pemPrivate matches PEM and armor headers of private keys: PGP PRIVATE KEY
// BLOCK, OPENSSH/RSA/EC/DSA PRIVATE KEY, PKCS#8 PRIVATE KEY and ENCRYPTED
// PRIVATE KEY.
var pemPrivate = regexp.MustCompile(`-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----`)

// DetectPrivateKey returns a *PrivateKeyError (errors.Is ErrPrivateKeyMaterial)
// when data contains private key material in any form we know: armored or
// PEM headers, PuTTY key files, or binary OpenPGP secret-key packets (tags 5
// and 7), also when they hide inside an armored "PUBLIC KEY BLOCK".
func DetectPrivateKey(data []byte) error {
	if m := pemPrivate.FindSubmatch(data); m != nil {
		kind := string(bytes.TrimSpace(m[1]))
		switch {
		case len(m[2]) > 0:
			kind = "armored OpenPGP private key block"
		case kind == "":
			kind = "PKCS#8 PEM private key"
		default:
			kind = kind + " PEM private key"
		}
		return &PrivateKeyError{Kind: kind}
	}
	if bytes.Contains(data, []byte("PuTTY-User-Key-File-")) {
		return &PrivateKeyError{Kind: "PuTTY private key"}
	}
	// Binary secret keys are never valid UTF-8 (their MPIs are random);
	// text that merely starts with a non-ASCII letter must not be walked as
	// packets, or "Ś" (0xC5) would read as a secret-key tag.
	if !utf8.Valid(data) && hasSecretPacket(data) {
		return &PrivateKeyError{Kind: "OpenPGP secret key packet"}
	}
	// Armored blocks of any type may carry secret packets inside. Decode
	// from every armor header on its own, so that blocks glued together on
	// one line cannot hide one another.
	rest, seen := data, 0
	for seen < maxBlocksDefault*4 {
		i := bytes.Index(rest, armorMarker)
		if i < 0 {
			break
		}
		seen++
		block, err := armor.Decode(bytes.NewReader(rest[i:]))
		rest = rest[i+len(armorMarker):]
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(block.Body, int64(len(data))))
		if len(body) > 0 && hasSecretPacket(body) {
			return &PrivateKeyError{Kind: "OpenPGP secret key packet inside an armored block"}
		}
	}
	return nil
}

// hasSecretPacket walks binary packet headers looking for tags 5 and 7.
func hasSecretPacket(data []byte) bool {
	found := false
	scanTags(data, func(tag int) {
		if tag == tagSecretKey || tag == tagSecretSubkey {
			found = true
		}
	})
	return found
}
