package signing

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// ApprovalTag is the domain tag of approval challenges.
const ApprovalTag = "trel-sign-approval-v1\x00"

// Limits on transactions.
const (
	MaxTxFiles   = 10000
	maxTxTextLen = 4096
)

// ErrChallengeMismatch means an approval does not commit to this
// transaction and nonce.
var ErrChallengeMismatch = errors.New("the approval was given for other files, digests or key")

// TxFile is one file of a signing transaction.
type TxFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA512 string `json:"sha512"` // hex
	// SHA256 (hex) is set for Sigstore transactions: the digest the
	// bundle signs, so the approval commits to it too.
	SHA256 string `json:"sha256,omitempty"`
}

// Transaction is what a release manager approves with a passkey: this user
// signs these files of this revision with this key.
type Transaction struct {
	User           string
	KeyFingerprint string
	Project        string
	Version        string
	Revision       int
	Files          []TxFile
	// Kind is what the key makes: KindOpenPGP ("", .asc signatures) or
	// KindSigstore (.sigstore.json bundles). The approval commits to it.
	Kind string
}

// Kinds of signatures a transaction makes.
const (
	KindOpenPGP  = ""
	KindSigstore = "sigstore"
)

// canonicalTx fixes the field order and names of the encoding.
type canonicalTx struct {
	Format   int      `json:"format"`
	User     string   `json:"user"`
	Key      string   `json:"key"`
	Project  string   `json:"project"`
	Version  string   `json:"version"`
	Revision int      `json:"revision"`
	Files    []TxFile `json:"files"`
	// Kind is omitted for OpenPGP, so those transactions encode as they
	// always did.
	Kind string `json:"kind,omitempty"`
}

// CanonicalJSON encodes tx deterministically: fixed field order, files
// sorted by path, digests in lower-case hex, fingerprint in upper-case hex,
// no HTML escaping, no trailing newline. Invalid UTF-8, empty fields,
// duplicate paths, negative sizes and malformed digests are refused, so two
// different transactions never encode alike.
func CanonicalJSON(tx Transaction) ([]byte, error) {
	c := canonicalTx{Format: 1, User: tx.User, Project: tx.Project, Version: tx.Version, Revision: tx.Revision, Kind: tx.Kind}
	if tx.Kind != KindOpenPGP && tx.Kind != KindSigstore {
		return nil, fmt.Errorf("transaction: unknown kind %q", tx.Kind)
	}
	for _, f := range [][2]string{{"user", tx.User}, {"project", tx.Project}, {"version", tx.Version}} {
		if err := checkText(f[0], f[1]); err != nil {
			return nil, err
		}
	}
	fpr, err := normalizeFingerprint(tx.KeyFingerprint)
	if err != nil {
		return nil, fmt.Errorf("transaction: %w", err)
	}
	c.Key = fpr
	if tx.Revision < 1 {
		return nil, fmt.Errorf("transaction: revision %d; revisions start at 1", tx.Revision)
	}
	if len(tx.Files) == 0 {
		return nil, errors.New("transaction: no files")
	}
	if len(tx.Files) > MaxTxFiles {
		return nil, fmt.Errorf("transaction: %d files; at most %d per approval", len(tx.Files), MaxTxFiles)
	}
	c.Files = make([]TxFile, len(tx.Files))
	for i, f := range tx.Files {
		if err := checkText("path", f.Path); err != nil {
			return nil, err
		}
		if f.Size < 0 {
			return nil, fmt.Errorf("transaction: %s: negative size", f.Path)
		}
		d := strings.ToLower(f.SHA512)
		if b, err := hex.DecodeString(d); err != nil || len(b) != 64 {
			return nil, fmt.Errorf("transaction: %s: SHA-512 %q is not 128 hex digits", f.Path, f.SHA512)
		}
		d256 := strings.ToLower(f.SHA256)
		if b, err := hex.DecodeString(d256); err != nil || (len(b) != 32 && d256 != "") {
			return nil, fmt.Errorf("transaction: %s: SHA-256 %q is not 64 hex digits", f.Path, f.SHA256)
		}
		if (d256 != "") != (tx.Kind == KindSigstore) {
			return nil, fmt.Errorf("transaction: %s: a SHA-256 digest goes with Sigstore transactions, and only with them", f.Path)
		}
		c.Files[i] = TxFile{Path: f.Path, Size: f.Size, SHA512: d, SHA256: d256}
	}
	slices.SortFunc(c.Files, func(a, b TxFile) int { return strings.Compare(a.Path, b.Path) })
	for i := 1; i < len(c.Files); i++ {
		if c.Files[i].Path == c.Files[i-1].Path {
			return nil, fmt.Errorf("transaction: %s is listed twice", c.Files[i].Path)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("transaction: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func checkText(what, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("transaction: empty %s", what)
	case len(v) > maxTxTextLen:
		return fmt.Errorf("transaction: %s longer than %d bytes", what, maxTxTextLen)
	case !utf8.ValidString(v):
		return fmt.Errorf("transaction: %s is not valid UTF-8", what)
	}
	return nil
}

// Challenge is the WebAuthn challenge committing to tx:
// SHA-256(ApprovalTag || nonce || CanonicalJSON(tx)). nonce must be 32
// fresh random bytes, stored server-side with the ceremony, single use.
func Challenge(tx Transaction, nonce [32]byte) ([32]byte, error) {
	canon, err := CanonicalJSON(tx)
	if err != nil {
		return [32]byte{}, err
	}
	h := sha256.New()
	h.Write([]byte(ApprovalTag))
	h.Write(nonce[:])
	h.Write(canon)
	var out [32]byte
	h.Sum(out[:0])
	return out, nil
}

// VerifyChallenge recomputes the challenge from tx (rebuilt by the server
// from the digests it is about to sign, never taken from the request) and
// compares it in constant time with the challenge the assertion signed.
func VerifyChallenge(tx Transaction, nonce [32]byte, challenge []byte) error {
	want, err := Challenge(tx, nonce)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(want[:], challenge) != 1 {
		return ErrChallengeMismatch
	}
	return nil
}

// TransactionDigest is SHA-256 of CanonicalJSON(tx), hex: the
// transaction's name in audit events and in the transparency log.
func TransactionDigest(tx Transaction) (string, error) {
	canon, err := CanonicalJSON(tx)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}
