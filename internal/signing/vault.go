package signing

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Errors of the vault. They name the factor that failed, never the byte.
var (
	// ErrWrongPassword: the password (or passkey PRF output) does not open
	// the inner layer.
	ErrWrongPassword = errors.New("wrong signing password")
	// ErrWrongMasterKey: the blob was sealed under another master key.
	ErrWrongMasterKey = errors.New("the sealed key was wrapped by another server master key")
	// ErrTampered: the blob fails authentication under a factor we hold,
	// or belongs to another key.
	ErrTampered = errors.New("the sealed key is damaged, was altered, or belongs to another key")
	// ErrWrongFactor: the key is sealed with the other kind of user factor.
	ErrWrongFactor = errors.New("the sealed key is protected by another kind of factor")
)

// Factor is the user's factor of a sealed key.
type Factor string

// Factors.
const (
	FactorPassword   Factor = "password-argon2id"
	FactorPasskeyPRF Factor = "passkey-prf"
)

// PRFSize is the length of a WebAuthn PRF output.
const PRFSize = 32

const (
	vaultVersion = 1
	dataKeySize  = 32
	nonceSize    = 12
	tagSize      = 16
	innerSize    = nonceSize + dataKeySize + tagSize
	outerSize    = nonceSize + innerSize + tagSize
	maxSealed    = 64 << 10
)

// Sealed is a secret key at rest: the row the database keeps (it marshals
// to JSON). Alone it opens nothing.
type Sealed struct {
	Version     int    `json:"v"`
	Fingerprint string `json:"fingerprint"`
	Factor      Factor `json:"factor"`
	// Argon2 is set for FactorPassword.
	Argon2 *Argon2Params `json:"argon2,omitempty"`
	// Salt of Argon2id, or of HKDF for FactorPasskeyPRF.
	Salt        []byte `json:"salt"`
	MasterKeyID string `json:"master_key_id"`
	// WrappedKey is nonce || GCM(master KEK, innerNonce || GCM(user KEK, data key)).
	WrappedKey []byte `json:"wrapped_key"`
	// SealedSecret is nonce || GCM(data key, secret key).
	SealedSecret []byte `json:"sealed_secret"`
}

// Seal encrypts secret (from Generate) for the key with the given
// fingerprint under a fresh data key, wrapped by password through
// Argon2id with params and then by the master key.
func Seal(secret []byte, fingerprint string, master MasterKey, password []byte, params Argon2Params) (*Sealed, error) {
	return sealPassword(nil, secret, fingerprint, master, password, params)
}

// Seal is the package's Seal, deriving with the permit's slot.
func (pm *Permit) Seal(secret []byte, fingerprint string, master MasterKey, password []byte, params Argon2Params) (*Sealed, error) {
	return sealPassword(pm, secret, fingerprint, master, password, params)
}

func sealPassword(pm *Permit, secret []byte, fingerprint string, master MasterKey, password []byte, params Argon2Params) (*Sealed, error) {
	if len(password) == 0 {
		return nil, errors.New("seal: the signing password is empty")
	}
	if err := params.Check(); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	salt, err := randomBytes(argon2SaltSize)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	kek, err := deriveArgon2(password, salt, params, pm, PurposeCreate)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	defer clear(kek)
	p := params
	return seal(secret, fingerprint, master, &Sealed{Factor: FactorPassword, Argon2: &p, Salt: salt}, kek)
}

// SealWithPRF is Seal with a passkey's 32-byte PRF output as the user's
// factor instead of a password (HKDF-SHA256 to the KEK).
func SealWithPRF(secret []byte, fingerprint string, master MasterKey, prf []byte) (*Sealed, error) {
	salt, err := randomBytes(32)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	kek, err := prfKEK(prf, salt)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	defer clear(kek)
	return seal(secret, fingerprint, master, &Sealed{Factor: FactorPasskeyPRF, Salt: salt}, kek)
}

func seal(secret []byte, fingerprint string, master MasterKey, s *Sealed, userKEK []byte) (*Sealed, error) {
	fpr, err := normalizeFingerprint(fingerprint)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if !master.Valid() {
		return nil, fmt.Errorf("seal: %w", ErrNoMasterKey)
	}
	// The secret must be the key this row is for.
	e, err := readSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	got := fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
	wipeEntity(e)
	if got != fpr {
		return nil, fmt.Errorf("seal: the secret key is %s, not %s", got, fpr)
	}
	s.Version = vaultVersion
	s.Fingerprint = fpr
	s.MasterKeyID = master.ID()

	dataKey, err := randomBytes(dataKeySize)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	defer clear(dataKey)
	s.SealedSecret, err = gcmSeal(dataKey, secret, secretAAD(fpr))
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if err := wrap(s, master, dataKey, userKEK); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return s, nil
}

// wrap sets s.WrappedKey: the data key under userKEK, then under the
// master key. s's other fields must be final (they are authenticated).
func wrap(s *Sealed, master MasterKey, dataKey, userKEK []byte) error {
	inner, err := gcmSeal(userKEK, dataKey, layerAAD("inner", s, ""))
	if err != nil {
		return err
	}
	return wrapOuter(s, master, inner)
}

func wrapOuter(s *Sealed, master MasterKey, inner []byte) error {
	mk, err := master.kek()
	if err != nil {
		return err
	}
	defer clear(mk)
	s.MasterKeyID = master.ID()
	s.WrappedKey, err = gcmSeal(mk, inner, layerAAD("outer", s, s.MasterKeyID))
	return err
}

// Open decrypts a key sealed with a password. fingerprint is the key row's
// fingerprint (not taken from s). The caller must Wipe the result.
func Open(s *Sealed, fingerprint string, master MasterKey, password []byte) ([]byte, error) {
	return (*Permit)(nil).Open(s, fingerprint, master, password)
}

// Open is the package's Open, deriving with the permit's slot (a nil
// permit takes a slot of its own).
func (pm *Permit) Open(s *Sealed, fingerprint string, master MasterKey, password []byte) ([]byte, error) {
	return open(s, fingerprint, master, FactorPassword, func(s *Sealed) ([]byte, error) {
		return deriveArgon2(password, s.Salt, *s.Argon2, pm, PurposeUse)
	})
}

// OpenWithPRF decrypts a key sealed with SealWithPRF.
func OpenWithPRF(s *Sealed, fingerprint string, master MasterKey, prf []byte) ([]byte, error) {
	return open(s, fingerprint, master, FactorPasskeyPRF, func(s *Sealed) ([]byte, error) {
		return prfKEK(prf, s.Salt)
	})
}

func open(s *Sealed, fingerprint string, master MasterKey, factor Factor, userKEK func(*Sealed) ([]byte, error)) ([]byte, error) {
	dataKey, err := unwrap(s, fingerprint, master, factor, userKEK)
	if err != nil {
		return nil, fmt.Errorf("open sealed key: %w", err)
	}
	defer clear(dataKey)
	secret, err := gcmOpen(dataKey, s.SealedSecret, secretAAD(s.Fingerprint))
	if err != nil {
		return nil, fmt.Errorf("open sealed key: %w", ErrTampered)
	}
	return secret, nil
}

// unwrap checks s and returns its data key.
func unwrap(s *Sealed, fingerprint string, master MasterKey, factor Factor, userKEK func(*Sealed) ([]byte, error)) ([]byte, error) {
	inner, err := openOuter(s, fingerprint, master)
	if err != nil {
		return nil, err
	}
	if s.Factor != factor {
		return nil, fmt.Errorf("%w: sealed with %s, opened with %s", ErrWrongFactor, s.Factor, factor)
	}
	kek, err := userKEK(s)
	if err != nil {
		return nil, err
	}
	defer clear(kek)
	dataKey, err := gcmOpen(kek, inner, layerAAD("inner", s, ""))
	if err != nil {
		// The outer layer proved inner authentic: only the factor is wrong.
		return nil, ErrWrongPassword
	}
	if len(dataKey) != dataKeySize {
		clear(dataKey)
		return nil, ErrTampered
	}
	return dataKey, nil
}

// openOuter checks the structure and bounds of s, then removes the
// master-key layer; the result is the inner layer.
func openOuter(s *Sealed, fingerprint string, master MasterKey) ([]byte, error) {
	if s == nil {
		return nil, errors.New("no sealed key")
	}
	fpr, err := normalizeFingerprint(fingerprint)
	if err != nil {
		return nil, err
	}
	if err := checkShape(s); err != nil {
		return nil, err
	}
	if s.Fingerprint != fpr {
		return nil, fmt.Errorf("%w: sealed for key %s, not %s", ErrTampered, s.Fingerprint, fpr)
	}
	if !master.Valid() {
		return nil, ErrNoMasterKey
	}
	if s.MasterKeyID != master.ID() {
		return nil, fmt.Errorf("%w (sealed under master key %s, the configured one is %s)", ErrWrongMasterKey, s.MasterKeyID, master.ID())
	}
	mk, err := master.kek()
	if err != nil {
		return nil, err
	}
	defer clear(mk)
	inner, err := gcmOpen(mk, s.WrappedKey, layerAAD("outer", s, s.MasterKeyID))
	if err != nil || len(inner) != innerSize {
		return nil, ErrTampered
	}
	return inner, nil
}

// checkShape refuses malformed rows before any cryptographic work,
// including Argon2 parameters outside the bounds.
func checkShape(s *Sealed) error {
	if s.Version != vaultVersion {
		return fmt.Errorf("%w: vault format version %d (this trel reads %d)", ErrTampered, s.Version, vaultVersion)
	}
	if _, err := normalizeFingerprint(s.Fingerprint); err != nil {
		return fmt.Errorf("%w: %w", ErrTampered, err)
	}
	switch s.Factor {
	case FactorPassword:
		if s.Argon2 == nil || len(s.Salt) != argon2SaltSize {
			return fmt.Errorf("%w: password factor without Argon2 parameters or salt", ErrTampered)
		}
		if err := s.Argon2.Check(); err != nil {
			return err
		}
	case FactorPasskeyPRF:
		if s.Argon2 != nil || len(s.Salt) != 32 {
			return fmt.Errorf("%w: passkey factor with a bad salt", ErrTampered)
		}
	default:
		return fmt.Errorf("%w: unknown factor %q", ErrTampered, s.Factor)
	}
	if len(s.WrappedKey) != outerSize {
		return fmt.Errorf("%w: wrapped key of %d bytes", ErrTampered, len(s.WrappedKey))
	}
	if len(s.SealedSecret) < nonceSize+tagSize+1 || len(s.SealedSecret) > maxSealed {
		return fmt.Errorf("%w: sealed secret of %d bytes", ErrTampered, len(s.SealedSecret))
	}
	return nil
}

// Rewrap changes the password of a password-sealed key (new salt, new
// parameters); the master key stays. The data key and SealedSecret are
// unchanged.
func Rewrap(s *Sealed, master MasterKey, oldPassword, newPassword []byte, params Argon2Params) (*Sealed, error) {
	return (*Permit)(nil).Rewrap(s, master, oldPassword, newPassword, params)
}

// Rewrap is the package's Rewrap; both derivations use the permit's slot
// (a nil permit takes a slot of its own for each).
func (pm *Permit) Rewrap(s *Sealed, master MasterKey, oldPassword, newPassword []byte, params Argon2Params) (*Sealed, error) {
	if len(newPassword) == 0 {
		return nil, errors.New("rewrap: the new signing password is empty")
	}
	if err := params.Check(); err != nil {
		return nil, fmt.Errorf("rewrap: %w", err)
	}
	if s == nil {
		return nil, errors.New("rewrap: no sealed key")
	}
	dataKey, err := unwrap(s, s.Fingerprint, master, FactorPassword, func(s *Sealed) ([]byte, error) {
		return deriveArgon2(oldPassword, s.Salt, *s.Argon2, pm, PurposeUse)
	})
	if err != nil {
		return nil, fmt.Errorf("rewrap: %w", err)
	}
	defer clear(dataKey)
	salt, err := randomBytes(argon2SaltSize)
	if err != nil {
		return nil, fmt.Errorf("rewrap: %w", err)
	}
	kek, err := deriveArgon2(newPassword, salt, params, pm, PurposeUse)
	if err != nil {
		return nil, fmt.Errorf("rewrap: %w", err)
	}
	defer clear(kek)
	p := params
	out := &Sealed{
		Version:      vaultVersion,
		Fingerprint:  s.Fingerprint,
		Factor:       FactorPassword,
		Argon2:       &p,
		Salt:         salt,
		SealedSecret: bytes.Clone(s.SealedSecret),
	}
	if err := wrap(out, master, dataKey, kek); err != nil {
		return nil, fmt.Errorf("rewrap: %w", err)
	}
	return out, nil
}

// SwitchToPRF re-wraps a password-sealed key so that a passkey's PRF
// output replaces the password; the password is needed once, to prove the
// change is the owner's.
func SwitchToPRF(s *Sealed, master MasterKey, password, prf []byte) (*Sealed, error) {
	if s == nil {
		return nil, errors.New("switch to passkey: no sealed key")
	}
	dataKey, err := unwrap(s, s.Fingerprint, master, FactorPassword, func(s *Sealed) ([]byte, error) {
		return deriveArgon2(password, s.Salt, *s.Argon2, nil, PurposeUse)
	})
	if err != nil {
		return nil, fmt.Errorf("switch to passkey: %w", err)
	}
	defer clear(dataKey)
	salt, err := randomBytes(32)
	if err != nil {
		return nil, fmt.Errorf("switch to passkey: %w", err)
	}
	kek, err := prfKEK(prf, salt)
	if err != nil {
		return nil, fmt.Errorf("switch to passkey: %w", err)
	}
	defer clear(kek)
	out := &Sealed{Version: vaultVersion, Fingerprint: s.Fingerprint, Factor: FactorPasskeyPRF, Salt: salt, SealedSecret: bytes.Clone(s.SealedSecret)}
	if err := wrap(out, master, dataKey, kek); err != nil {
		return nil, fmt.Errorf("switch to passkey: %w", err)
	}
	return out, nil
}

// SwitchToPassword re-wraps a passkey-sealed key under a password (for
// example before the passkey is removed).
func SwitchToPassword(s *Sealed, master MasterKey, prf, password []byte, params Argon2Params) (*Sealed, error) {
	if s == nil {
		return nil, errors.New("switch to password: no sealed key")
	}
	if len(password) == 0 {
		return nil, errors.New("switch to password: the signing password is empty")
	}
	if err := params.Check(); err != nil {
		return nil, fmt.Errorf("switch to password: %w", err)
	}
	dataKey, err := unwrap(s, s.Fingerprint, master, FactorPasskeyPRF, func(s *Sealed) ([]byte, error) {
		return prfKEK(prf, s.Salt)
	})
	if err != nil {
		return nil, fmt.Errorf("switch to password: %w", err)
	}
	defer clear(dataKey)
	salt, err := randomBytes(argon2SaltSize)
	if err != nil {
		return nil, fmt.Errorf("switch to password: %w", err)
	}
	kek, err := deriveArgon2(password, salt, params, nil, PurposeUse)
	if err != nil {
		return nil, fmt.Errorf("switch to password: %w", err)
	}
	defer clear(kek)
	p := params
	out := &Sealed{Version: vaultVersion, Fingerprint: s.Fingerprint, Factor: FactorPassword, Argon2: &p, Salt: salt, SealedSecret: bytes.Clone(s.SealedSecret)}
	if err := wrap(out, master, dataKey, kek); err != nil {
		return nil, fmt.Errorf("switch to password: %w", err)
	}
	return out, nil
}

// RotateMaster re-wraps the outer layer of s from oldMaster to newMaster
// without any user factor: the inner layer is moved as it is. Run it for
// every sealed key (trel admin rotate-master-key), then retire oldMaster.
func RotateMaster(s *Sealed, oldMaster, newMaster MasterKey) (*Sealed, error) {
	if s == nil {
		return nil, errors.New("rotate master key: no sealed key")
	}
	if !newMaster.Valid() {
		return nil, fmt.Errorf("rotate master key: the new key: %w", ErrNoMasterKey)
	}
	inner, err := openOuter(s, s.Fingerprint, oldMaster)
	if err != nil {
		return nil, fmt.Errorf("rotate master key: %w", err)
	}
	out := &Sealed{
		Version:      s.Version,
		Fingerprint:  s.Fingerprint,
		Factor:       s.Factor,
		Salt:         bytes.Clone(s.Salt),
		SealedSecret: bytes.Clone(s.SealedSecret),
	}
	if s.Argon2 != nil {
		p := *s.Argon2
		out.Argon2 = &p
	}
	if err := wrapOuter(out, newMaster, inner); err != nil {
		return nil, fmt.Errorf("rotate master key: %w", err)
	}
	return out, nil
}

func prfKEK(prf, salt []byte) ([]byte, error) {
	if len(prf) != PRFSize {
		return nil, fmt.Errorf("passkey PRF output of %d bytes, want %d", len(prf), PRFSize)
	}
	k, err := hkdf.Key(sha256.New, prf, salt, "trel signing passkey prf wrap v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive passkey KEK: %w", err)
	}
	return k, nil
}

// normalizeFingerprint accepts a v4 fingerprint in hex, with or without
// spaces, and returns it in upper case.
func normalizeFingerprint(fpr string) (string, error) {
	f := strings.ToUpper(strings.ReplaceAll(fpr, " ", ""))
	if len(f) != 40 {
		return "", fmt.Errorf("fingerprint %q is not 40 hex digits", fpr)
	}
	if _, err := hex.DecodeString(f); err != nil {
		return "", fmt.Errorf("fingerprint %q is not hex", fpr)
	}
	return f, nil
}

// secretAAD binds the sealed secret to its key: domain tag, key id and
// fingerprint.
func secretAAD(fpr string) []byte {
	var b []byte
	b = appendField(b, "trel-signing-secret-v1")
	b = appendField(b, fpr[24:]) // key id
	b = appendField(b, fpr)
	return b
}

// layerAAD authenticates everything the wrapping layers depend on: key,
// factor, KDF parameters and salt (and, for the outer layer, the master
// key id), each length-prefixed.
func layerAAD(layer string, s *Sealed, masterID string) []byte {
	var b []byte
	b = appendField(b, "trel-signing-"+layer+"-v1")
	b = binary.BigEndian.AppendUint32(b, uint32(s.Version))
	b = appendField(b, s.Fingerprint[24:])
	b = appendField(b, s.Fingerprint)
	b = appendField(b, string(s.Factor))
	if s.Argon2 != nil {
		b = binary.BigEndian.AppendUint32(b, s.Argon2.Time)
		b = binary.BigEndian.AppendUint32(b, s.Argon2.MemoryKiB)
		b = append(b, s.Argon2.Threads)
	} else {
		b = binary.BigEndian.AppendUint32(b, 0)
		b = binary.BigEndian.AppendUint32(b, 0)
		b = append(b, 0)
	}
	b = appendField(b, string(s.Salt))
	b = appendField(b, masterID)
	return b
}

func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}
	return b, nil
}

// gcmSeal returns nonce || AES-256-GCM(key, plaintext, aad).
func gcmSeal(key, plaintext, aad []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce, err := randomBytes(nonceSize)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plaintext, aad), nil
}

// gcmOpen opens nonce || ciphertext.
func gcmOpen(key, blob, aad []byte) ([]byte, error) {
	if len(blob) < nonceSize+tagSize {
		return nil, errors.New("ciphertext too short")
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return aead.Open(nil, blob[:nonceSize], blob[nonceSize:], aad)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("AES-256 key of %d bytes", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	return cipher.NewGCM(block)
}
