package translog

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Signer is the checkpoint signing key of a log together with its public
// verifier key.
type Signer struct {
	signer   note.Signer
	verifier string
}

// Origin returns the log origin, which is the key name: the first line of
// every checkpoint.
func (s *Signer) Origin() string { return s.signer.Name() }

// VerifierKey returns the public verifier key in note.NewVerifier format
// ("<origin>+<hash>+<base64>"), the string trel publishes.
func (s *Signer) VerifierKey() string { return s.verifier }

// NoteSigner returns the underlying note signer.
func (s *Signer) NoteSigner() note.Signer { return s.signer }

// NewSigner builds a Signer from an Ed25519 note private key string
// ("PRIVATE+KEY+<name>+<hash>+<base64>", as written by note.GenerateKey).
func NewSigner(skey string) (*Signer, error) {
	skey = strings.TrimSpace(skey)
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	// "PRIVATE+KEY+name+hash+key": the name cannot contain '+' (the base64
	// key can), so the key material is everything after the fourth '+'.
	fields := strings.SplitN(skey, "+", 5)
	if len(fields) != 5 {
		return nil, errors.New("checkpoint key: malformed")
	}
	raw, err := base64.StdEncoding.DecodeString(fields[4])
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	const algEd25519 = 1
	if len(raw) != 1+ed25519.SeedSize || raw[0] != algEd25519 {
		return nil, errors.New("checkpoint key: not an Ed25519 note key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(signer.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	if verifier.KeyHash() != signer.KeyHash() {
		return nil, errors.New("checkpoint key: derived verifier does not match the signer")
	}
	return &Signer{signer: signer, verifier: vkey}, nil
}

// LoadOrCreateSigner reads the checkpoint signing key from path, or, when
// the file does not exist, generates a new Ed25519 key named origin and
// writes it there with mode 0600 (atomically: a concurrent creator either
// wins or reads the winner's key).
//
// The file holds the note private key string and a newline. Loading refuses
// a file that group or others may read or write, and a key whose name is not
// origin: changing the origin of an existing log would break every client.
// Keep the file outside the log directory (e.g. DATA/log.key next to
// DATA/log).
func LoadOrCreateSigner(path, origin string) (*Signer, error) {
	if err := checkOrigin(origin); err != nil {
		return nil, err
	}
	s, err := loadSigner(path)
	if errors.Is(err, fs.ErrNotExist) {
		s, err = createSigner(path, origin)
		if errors.Is(err, fs.ErrExist) {
			s, err = loadSigner(path)
		}
	}
	if err != nil {
		return nil, err
	}
	if s.Origin() != origin {
		return nil, fmt.Errorf("checkpoint key %s is for origin %q, not %q", path, s.Origin(), origin)
	}
	return s, nil
}

// checkOrigin checks that origin is usable as a note key name.
func checkOrigin(origin string) error {
	if origin == "" {
		return errors.New("log origin is empty")
	}
	for _, r := range origin {
		if r <= ' ' || r == '+' || r > '~' {
			return fmt.Errorf("log origin %q: only printable ASCII without spaces or '+' is allowed", origin)
		}
	}
	return nil
}

func loadSigner(path string) (*Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("checkpoint key %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("checkpoint key %s has mode %#o: it must not be accessible by group or others (chmod 600)", path, perm)
	}
	buf, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("checkpoint key %s: %w", path, err)
	}
	s, err := NewSigner(string(buf))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func createSigner(path, origin string) (*Signer, error) {
	skey, _, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, fmt.Errorf("generate checkpoint key: %w", err)
	}
	s, err := NewSigner(skey)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".log-key-*")
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp uses mode 0600; make sure of it whatever the umask.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	if _, err := tmp.WriteString(skey + "\n"); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	// Link fails if path exists, so an existing key is never replaced.
	if err := os.Link(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	return s, nil
}
