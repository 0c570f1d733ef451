package openpgp

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"
)

// HashSource gives a hash already fed with every byte of the signed
// artifact. Each call returns a fresh hash the caller may finish.
type HashSource interface {
	Hash(h crypto.Hash) (hash.Hash, error)
}

// ContentSource is implemented by sources that can read the artifact again.
// It is only needed for signatures whose digest does not start with the
// artifact bytes: v6 (salted) signatures and text-mode (0x01) signatures.
type ContentSource interface {
	Content() (io.ReadCloser, error)
}

// StateSource restores the hash states the upload path saved after writing
// the whole artifact (encoding.BinaryMarshaler of crypto/sha256 and
// crypto/sha512 digests, before Sum), so no byte is read again.
type StateSource struct {
	SHA256 []byte
	SHA512 []byte
	// Fallback, when set, serves the hashes and content that no saved state
	// covers (e.g. a SHA-384 signature); usually a ReaderSource.
	Fallback HashSource
}

// Hash restores the saved state for h.
func (s StateSource) Hash(h crypto.Hash) (hash.Hash, error) {
	var state []byte
	var fresh hash.Hash
	switch h {
	case crypto.SHA256:
		state, fresh = s.SHA256, sha256.New()
	case crypto.SHA512:
		state, fresh = s.SHA512, sha512.New()
	}
	if fresh == nil || len(state) == 0 {
		if s.Fallback != nil {
			return s.Fallback.Hash(h)
		}
		return nil, fmt.Errorf("no saved hash state for %s (only SHA-256 and SHA-512 states are kept); the artifact must be read again to check this signature", hashName(h))
	}
	u, ok := fresh.(encoding.BinaryUnmarshaler)
	if !ok {
		return nil, fmt.Errorf("%s hash cannot restore a saved state", hashName(h))
	}
	if err := u.UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("restore saved %s state: %w", hashName(h), err)
	}
	return fresh, nil
}

// Content re-reads the artifact through the fallback, when there is one.
func (s StateSource) Content() (io.ReadCloser, error) {
	if cs, ok := s.Fallback.(ContentSource); ok {
		return cs.Content()
	}
	return nil, errors.New("the artifact is only available as saved hash states; it must be read again for this signature")
}

// ReaderSource streams the artifact, opened with Open, for every hash asked
// for. VerifyDetached asks once per hash algorithm.
type ReaderSource struct {
	Open func() (io.ReadCloser, error)
}

// Hash reads the whole artifact into a new h.
func (s ReaderSource) Hash(h crypto.Hash) (hash.Hash, error) {
	if !h.Available() {
		return nil, fmt.Errorf("hash %s is not available", hashName(h))
	}
	rc, err := s.Content()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	d := h.New()
	if _, err := io.Copy(d, rc); err != nil {
		return nil, fmt.Errorf("read artifact: %w", err)
	}
	return d, nil
}

// Content opens the artifact.
func (s ReaderSource) Content() (io.ReadCloser, error) {
	if s.Open == nil {
		return nil, errors.New("ReaderSource has no Open function")
	}
	rc, err := s.Open()
	if err != nil {
		return nil, fmt.Errorf("open artifact: %w", err)
	}
	return rc, nil
}

// BytesSource is an artifact held in memory.
type BytesSource []byte

// Hash hashes the bytes.
func (b BytesSource) Hash(h crypto.Hash) (hash.Hash, error) {
	if !h.Available() {
		return nil, fmt.Errorf("hash %s is not available", hashName(h))
	}
	d := h.New()
	d.Write(b)
	return d, nil
}

// Content returns the bytes.
func (b BytesSource) Content() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(b)), nil
}

// SaveHashStates hashes r with SHA-256 and SHA-512 and returns the states a
// StateSource restores. The upload path does the same while storing a file.
func SaveHashStates(r io.Reader) (StateSource, error) {
	h256, h512 := sha256.New(), sha512.New()
	if _, err := io.Copy(io.MultiWriter(h256, h512), r); err != nil {
		return StateSource{}, fmt.Errorf("hash artifact: %w", err)
	}
	s256, err := h256.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return StateSource{}, fmt.Errorf("save SHA-256 state: %w", err)
	}
	s512, err := h512.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return StateSource{}, fmt.Errorf("save SHA-512 state: %w", err)
	}
	return StateSource{SHA256: s256, SHA512: s512}, nil
}

// cachingSource reads an artifact at most once per hash algorithm: after
// the first call it keeps the hash's state and restores copies from it.
type cachingSource struct {
	src    HashSource
	states map[crypto.Hash][]byte
	errs   map[crypto.Hash]error
}

func newCachingSource(src HashSource) *cachingSource {
	return &cachingSource{src: src, states: map[crypto.Hash][]byte{}, errs: map[crypto.Hash]error{}}
}

func (c *cachingSource) Hash(h crypto.Hash) (hash.Hash, error) {
	if err, ok := c.errs[h]; ok {
		return nil, err
	}
	if st, ok := c.states[h]; ok {
		d := h.New()
		if u, ok := d.(encoding.BinaryUnmarshaler); ok && u.UnmarshalBinary(st) == nil {
			return d, nil
		}
	}
	d, err := c.src.Hash(h)
	if err != nil {
		c.errs[h] = err
		return nil, err
	}
	if m, ok := d.(encoding.BinaryMarshaler); ok {
		if st, err := m.MarshalBinary(); err == nil {
			c.states[h] = st
		}
	}
	return d, nil
}

func (c *cachingSource) Content() (io.ReadCloser, error) {
	if cs, ok := c.src.(ContentSource); ok {
		return cs.Content()
	}
	return nil, errors.New("this artifact source cannot re-read the artifact")
}

// hashName names a hash as OpenPGP users know it.
func hashName(h crypto.Hash) string {
	switch h {
	case crypto.MD5:
		return "MD5"
	case crypto.SHA1:
		return "SHA-1"
	case crypto.RIPEMD160:
		return "RIPEMD-160"
	case crypto.SHA224:
		return "SHA-224"
	case crypto.SHA256:
		return "SHA-256"
	case crypto.SHA384:
		return "SHA-384"
	case crypto.SHA512:
		return "SHA-512"
	case crypto.SHA3_256:
		return "SHA3-256"
	case crypto.SHA3_512:
		return "SHA3-512"
	}
	return fmt.Sprintf("hash-%d", int(h))
}
