package signing

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	pgp "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Algorithm of a generated key.
type Algorithm string

// Algorithms Generate can make.
const (
	// AlgorithmEdDSA is Ed25519 with the legacy OpenPGP algorithm 22
	// (EdDSALegacy), which gpg 2.2 and sqv 1.1 verify.
	AlgorithmEdDSA Algorithm = "eddsa"
	// AlgorithmRSA4096 is RSA with a 4096-bit modulus.
	AlgorithmRSA4096 Algorithm = "rsa4096"
)

// Key lifetimes.
const (
	DefaultExpiry = 2 * 365 * 24 * time.Hour
	// MinExpiry is the shortest lifetime Generate accepts.
	MinExpiry = 24 * time.Hour
	// MaxExpiryYears is the longest lifetime: five calendar years.
	MaxExpiryYears = 5
)

// GenerateOptions describe a new key.
type GenerateOptions struct {
	Name  string // the account's display name
	Email string // the account's email address
	// Algorithm is AlgorithmEdDSA when empty.
	Algorithm Algorithm
	// Expiry is the key's lifetime from creation; DefaultExpiry when zero,
	// at most MaxExpiryYears calendar years.
	Expiry time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Generated is a new key. Secret is unencrypted: seal it and Wipe it.
type Generated struct {
	Fingerprint string // 40 upper-case hex digits
	KeyID       string // 16 upper-case hex digits
	Algorithm   Algorithm
	UserID      string // "Name <email>"
	Created     time.Time
	Expires     time.Time
	// PublicKey is the armored public key, with the CRC line and a
	// trailing newline.
	PublicKey []byte
	// Secret is the binary transferable secret key, not encrypted.
	Secret []byte
}

// Generate makes a new OpenPGP v4 key whose primary key certifies and
// signs; see the package documentation for the choices.
func Generate(opts GenerateOptions) (*Generated, error) {
	opts.Name = strings.TrimSpace(opts.Name)
	if err := checkUserID(opts.Name, opts.Email); err != nil {
		return nil, err
	}
	alg := opts.Algorithm
	if alg == "" {
		alg = AlgorithmEdDSA
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	created := now().UTC().Truncate(time.Second)
	expiry := opts.Expiry
	if expiry == 0 {
		expiry = DefaultExpiry
	}
	maxExpiry := created.AddDate(MaxExpiryYears, 0, 0).Sub(created)
	switch {
	case expiry < MinExpiry:
		return nil, fmt.Errorf("generate key: expiry %s is too short; choose at least %s", expiry, MinExpiry)
	case expiry > maxExpiry:
		return nil, fmt.Errorf("generate key: expiry %s is longer than %d years; choose a shorter one (the key can be extended later)", expiry.Round(time.Hour), MaxExpiryYears)
	}
	lifetime := uint32(expiry / time.Second)
	cfg := &packet.Config{
		DefaultHash:                           crypto.SHA512,
		DefaultCipher:                         packet.CipherAES256,
		Time:                                  func() time.Time { return created },
		KeyLifetimeSecs:                       lifetime,
		NonDeterministicSignaturesViaNotation: boolPtr(false),
	}

	var e *pgp.Entity
	switch alg {
	case AlgorithmEdDSA:
		cfg.Algorithm = packet.PubKeyAlgoEdDSA
		cfg.Curve = packet.Curve25519
		var err error
		e, err = pgp.NewEntity(opts.Name, "", opts.Email, cfg)
		if err != nil {
			return nil, fmt.Errorf("generate EdDSA key: %w", err)
		}
		// NewEntity adds an encryption subkey; a release signing key has
		// no use for it and it would be one more secret to keep.
		e.Subkeys = nil
	case AlgorithmRSA4096:
		// Built by hand: NewEntity would also make an RSA-4096
		// encryption subkey, which costs seconds and is never used.
		rk, err := rsa.GenerateKey(rand.Reader, 4096)
		if err != nil {
			return nil, fmt.Errorf("generate RSA key: %w", err)
		}
		primary := packet.NewSignerPrivateKey(created, rk)
		e = &pgp.Entity{
			PrimaryKey: &primary.PublicKey,
			PrivateKey: primary,
			Identities: make(map[string]*pgp.Identity),
		}
		if err := e.AddUserId(opts.Name, "", opts.Email, cfg); err != nil {
			return nil, fmt.Errorf("generate RSA key: %w", err)
		}
	default:
		return nil, fmt.Errorf("generate key: unknown algorithm %q (use %q or %q)", alg, AlgorithmEdDSA, AlgorithmRSA4096)
	}
	if e.PrimaryKey.Version != 4 {
		return nil, fmt.Errorf("generate key: made a v%d key, want v4", e.PrimaryKey.Version)
	}

	g := &Generated{
		Fingerprint: fmt.Sprintf("%X", e.PrimaryKey.Fingerprint),
		KeyID:       fmt.Sprintf("%016X", e.PrimaryKey.KeyId),
		Algorithm:   alg,
		Created:     created,
		Expires:     created.Add(time.Duration(lifetime) * time.Second),
	}
	for id := range e.Identities {
		g.UserID = id
	}
	pub, err := armoredPublicKey(e)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	g.PublicKey = pub
	sec, err := serializeSecret(e)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	g.Secret = sec
	wipeEntity(e)
	return g, nil
}

func boolPtr(b bool) *bool { return &b }

// checkUserID refuses names and addresses that would make a misleading or
// malformed user ID.
func checkUserID(name, email string) error {
	switch {
	case name == "":
		return errors.New("generate key: the name is empty")
	case len(name) > 200:
		return errors.New("generate key: the name is longer than 200 bytes")
	case !utf8.ValidString(name):
		return errors.New("generate key: the name is not valid UTF-8")
	case strings.ContainsAny(name, "()<>\x00\r\n"):
		return fmt.Errorf("generate key: the name %q contains one of ( ) < > or a control character", name)
	}
	if len(email) > 254 || strings.ContainsAny(email, "()<>\x00\r\n \t") {
		return fmt.Errorf("generate key: %q is not a plain email address", email)
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return fmt.Errorf("generate key: %q is not a plain email address", email)
	}
	return nil
}

// armoredPublicKey exports the public key, with the CRC line and a
// trailing newline.
func armoredPublicKey(e *pgp.Entity) ([]byte, error) {
	var buf bytes.Buffer
	aw, err := armor.Encode(&buf, "PGP PUBLIC KEY BLOCK", nil)
	if err != nil {
		return nil, fmt.Errorf("armor public key: %w", err)
	}
	if err := e.Serialize(aw); err != nil {
		return nil, fmt.Errorf("serialize public key: %w", err)
	}
	if err := aw.Close(); err != nil {
		return nil, fmt.Errorf("armor public key: %w", err)
	}
	buf.WriteString("\n")
	return buf.Bytes(), nil
}

// serializeSecret writes the unencrypted transferable secret key. The
// self-signatures are kept as they are (not re-signed).
func serializeSecret(e *pgp.Entity) ([]byte, error) {
	var buf bytes.Buffer
	if err := e.SerializePrivateWithoutSigning(&buf, nil); err != nil {
		Wipe(buf.Bytes())
		return nil, fmt.Errorf("serialize secret key: %w", err)
	}
	return buf.Bytes(), nil
}

// maxSecretBytes bounds the secret key Sign parses.
const maxSecretBytes = 64 << 10

// readSecret parses a secret key made by Generate: one v4 entity whose
// primary key holds unencrypted secret material.
func readSecret(secret []byte) (*pgp.Entity, error) {
	if len(secret) == 0 {
		return nil, errors.New("read secret key: empty")
	}
	if len(secret) > maxSecretBytes {
		return nil, fmt.Errorf("read secret key: %d bytes is larger than any key trel makes", len(secret))
	}
	e, err := pgp.ReadEntity(packet.NewReader(bytes.NewReader(secret)))
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	if e.PrivateKey == nil || e.PrivateKey.Dummy() {
		return nil, errors.New("read secret key: the data holds no secret key material")
	}
	if e.PrivateKey.Encrypted {
		return nil, errors.New("read secret key: the secret key is S2K-encrypted; trel only keeps keys sealed by its vault")
	}
	if e.PrimaryKey.Version != 4 {
		return nil, fmt.Errorf("read secret key: v%d key; trel signs with v4 keys only", e.PrimaryKey.Version)
	}
	return e, nil
}

// RevocationReason says why a key is revoked; the values are OpenPGP's.
type RevocationReason uint8

// Revocation reasons.
const (
	// RevokeNoReason invalidates every signature, like RevokeCompromised.
	RevokeNoReason RevocationReason = RevocationReason(packet.NoReason)
	// RevokeSuperseded and RevokeRetired keep older signatures valid.
	RevokeSuperseded RevocationReason = RevocationReason(packet.KeySuperseded)
	RevokeRetired    RevocationReason = RevocationReason(packet.KeyRetired)
	// RevokeCompromised invalidates every signature the key ever made.
	RevokeCompromised RevocationReason = RevocationReason(packet.KeyCompromised)
)

// Revoked is a key with its revocation signature.
type Revoked struct {
	// PublicKey is the armored public key including the revocation, for
	// KEYS files.
	PublicKey []byte
	// Secret is the updated secret key (with the revocation), to seal
	// again; Sign refuses it.
	Secret []byte
	// Revocation is the armored revocation signature alone.
	Revocation []byte
	RevokedAt  time.Time
}

// Revoke makes a key revocation signature dated now with the given reason
// and text.
func Revoke(secret []byte, reason RevocationReason, text string, now time.Time) (*Revoked, error) {
	switch reason {
	case RevokeNoReason, RevokeSuperseded, RevokeRetired, RevokeCompromised:
	default:
		return nil, fmt.Errorf("revoke key: unknown reason %d", reason)
	}
	if !utf8.ValidString(text) || len(text) > 1000 {
		return nil, errors.New("revoke key: the reason text must be valid UTF-8 of at most 1000 bytes")
	}
	e, err := readSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("revoke key: %w", err)
	}
	defer wipeEntity(e)
	at := now.UTC().Truncate(time.Second)
	cfg := &packet.Config{
		DefaultHash:                           crypto.SHA512,
		Time:                                  func() time.Time { return at },
		NonDeterministicSignaturesViaNotation: boolPtr(false),
	}
	if err := e.RevokeKey(packet.ReasonForRevocation(reason), text, cfg); err != nil {
		return nil, fmt.Errorf("revoke key: %w", err)
	}
	rev := e.Revocations[len(e.Revocations)-1]
	out := &Revoked{RevokedAt: at}
	if out.PublicKey, err = armoredPublicKey(e); err != nil {
		return nil, fmt.Errorf("revoke key: %w", err)
	}
	if out.Secret, err = serializeSecret(e); err != nil {
		return nil, fmt.Errorf("revoke key: %w", err)
	}
	var buf bytes.Buffer
	if err := armorPacket(&buf, "PGP PUBLIC KEY BLOCK", rev.Serialize); err != nil {
		return nil, fmt.Errorf("revoke key: %w", err)
	}
	out.Revocation = buf.Bytes()
	return out, nil
}

// armorPacket armors what write writes, with the CRC line and a trailing
// newline.
func armorPacket(w *bytes.Buffer, blockType string, write func(io.Writer) error) error {
	aw, err := armor.Encode(w, blockType, nil)
	if err != nil {
		return fmt.Errorf("armor: %w", err)
	}
	if err := write(aw); err != nil {
		return err
	}
	if err := aw.Close(); err != nil {
		return fmt.Errorf("armor: %w", err)
	}
	w.WriteString("\n")
	return nil
}
