package signing

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// MasterKeySize is the length of the server master key.
const MasterKeySize = 32

// ErrNoMasterKey means no master key is configured: server-side signing is
// unavailable, everything else keeps working.
var ErrNoMasterKey = errors.New("no signing master key is configured; server-side signing is unavailable")

// MasterKey is the server's key-encryption key, kept outside the database.
// The zero value is not a key. Its String method does not print the key.
type MasterKey struct {
	key [MasterKeySize]byte
	set bool
}

// NewMasterKey makes a random master key (trel admin).
func NewMasterKey() (MasterKey, error) {
	var m MasterKey
	if _, err := io.ReadFull(rand.Reader, m.key[:]); err != nil {
		return MasterKey{}, fmt.Errorf("new master key: %w", err)
	}
	m.set = true
	return m, nil
}

// MasterKeyFromBytes makes a master key from exactly 32 bytes.
func MasterKeyFromBytes(b []byte) (MasterKey, error) {
	if len(b) != MasterKeySize {
		return MasterKey{}, fmt.Errorf("master key: %d bytes; it must be exactly %d", len(b), MasterKeySize)
	}
	var m MasterKey
	copy(m.key[:], b)
	m.set = true
	return m, nil
}

// Valid reports whether m holds a key.
func (m MasterKey) Valid() bool { return m.set }

// ID is a public identifier of the key (16 hex digits), recorded in each
// Sealed so that a wrong master key is told apart from a tampered blob.
func (m MasterKey) ID() string {
	if !m.set {
		return ""
	}
	id, err := hkdf.Key(sha256.New, m.key[:], nil, "trel signing master key id v1", 8)
	if err != nil {
		panic(err) // cannot happen: 8 bytes is far below the HKDF limit
	}
	return hex.EncodeToString(id)
}

// String never shows the key.
func (m MasterKey) String() string {
	if !m.set {
		return "MasterKey(none)"
	}
	return "MasterKey(" + m.ID() + ")"
}

// GoString never shows the key either.
func (m MasterKey) GoString() string { return m.String() }

// Text is the key as 64 hex digits and a newline: the content of a master
// key file or environment variable.
func (m MasterKey) Text() []byte {
	out := make([]byte, 0, 2*MasterKeySize+1)
	out = hex.AppendEncode(out, m.key[:])
	return append(out, '\n')
}

// kek derives the key that wraps the outer layer.
func (m MasterKey) kek() ([]byte, error) {
	if !m.set {
		return nil, ErrNoMasterKey
	}
	k, err := hkdf.Key(sha256.New, m.key[:], nil, "trel signing master wrap v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive master KEK: %w", err)
	}
	return k, nil
}

// parseMasterKey accepts 64 hex digits, standard base64 of 32 bytes (both
// with surrounding white space), or exactly 32 raw bytes.
func parseMasterKey(data []byte, where string) (MasterKey, error) {
	text := bytes.TrimSpace(data)
	if len(text) == 2*MasterKeySize {
		var b [MasterKeySize]byte
		if _, err := hex.Decode(b[:], text); err == nil {
			m, err := MasterKeyFromBytes(b[:])
			clear(b[:])
			return m, err
		}
	}
	if len(text) == base64.StdEncoding.EncodedLen(MasterKeySize) {
		b := make([]byte, MasterKeySize+2)
		if n, err := base64.StdEncoding.Decode(b, text); err == nil && n == MasterKeySize {
			m, err := MasterKeyFromBytes(b[:n])
			clear(b)
			return m, err
		}
		clear(b)
	}
	if len(data) == MasterKeySize {
		return MasterKeyFromBytes(data)
	}
	return MasterKey{}, fmt.Errorf("%s does not hold a %d-byte master key: expected 64 hex digits (as trel admin writes), base64, or exactly %d raw bytes; found %d bytes", where, MasterKeySize, MasterKeySize, len(data))
}

// LoadMasterKey reads the master key file at path. The file must be a
// regular file not readable or writable by group or others (0600 or
// stricter). A missing file gives an error wrapping ErrNoMasterKey and
// fs.ErrNotExist.
func LoadMasterKey(path string) (MasterKey, error) {
	if path == "" {
		return MasterKey{}, ErrNoMasterKey
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return MasterKey{}, fmt.Errorf("%w: master key file %s: %w", ErrNoMasterKey, path, err)
		}
		return MasterKey{}, fmt.Errorf("master key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return MasterKey{}, fmt.Errorf("master key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return MasterKey{}, fmt.Errorf("master key file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return MasterKey{}, fmt.Errorf("master key file %s has permissions %04o; group and others must have no access (chmod 600 %s)", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return MasterKey{}, fmt.Errorf("master key file %s: %w", path, err)
	}
	defer clear(data)
	return parseMasterKey(data, "master key file "+path)
}

// MasterKeyFromEnv reads the master key from the environment variable
// name (64 hex digits or base64), then removes the variable from the
// process environment so that child processes (gpg, tools run by checks)
// do not inherit it. An unset or empty variable gives ErrNoMasterKey.
func MasterKeyFromEnv(name string) (MasterKey, error) {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return MasterKey{}, fmt.Errorf("%w: environment variable %s is not set", ErrNoMasterKey, name)
	}
	m, err := parseMasterKey([]byte(v), "environment variable "+name)
	if err != nil {
		return MasterKey{}, err
	}
	_ = os.Unsetenv(name)
	return m, nil
}

// WriteMasterKeyFile writes m to a new file at path with mode 0600; it
// refuses to overwrite an existing file.
func WriteMasterKeyFile(path string, m MasterKey) error {
	if !m.set {
		return errors.New("write master key: the key is empty")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write master key: %w", err)
	}
	text := m.Text()
	defer clear(text)
	if _, err := f.Write(text); err != nil {
		f.Close()
		return fmt.Errorf("write master key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write master key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write master key %s: %w", path, err)
	}
	return nil
}
