package translog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
)

// Entry kinds.
const (
	// KindSignature records one detached signature made by trel.
	KindSignature = "signature"
	// KindReleaseManifest records the manifest of a release (ArtifactSHA512
	// is then the SHA-512 of the canonical manifest).
	KindReleaseManifest = "release-manifest"
)

// EntryVersion is the value of the "v" member of every entry this package
// writes. A reader refuses entries of any other version.
const EntryVersion = 1

// maxEntrySize bounds the size of one encoded entry that a reader accepts.
// A canonical entry is about 420 bytes.
const maxEntrySize = 1024

// Entry is one leaf of the log.
//
// Only digests, a key fingerprint and a time are logged: no file names, user
// names or release names, so that a draft that is never released leaks
// nothing but digests.
type Entry struct {
	// Kind is KindSignature or KindReleaseManifest.
	Kind string
	// KeyFingerprint is the OpenPGP fingerprint of the signing key, 40 (v4)
	// or 64 (v6) hex digits. Encoded in upper case.
	KeyFingerprint string
	// ArtifactSHA512 is the SHA-512 of the signed artifact (for
	// KindReleaseManifest: of the canonical manifest), 128 hex digits.
	// Encoded in lower case.
	ArtifactSHA512 string
	// SignatureSHA256 is the SHA-256 of the released signature file (the
	// armored .asc, exactly as served), 64 hex digits. Required for
	// KindSignature, may be empty for KindReleaseManifest.
	SignatureSHA256 string
	// TransactionSHA256 is the SHA-256 of the canonical signing transaction
	// the release manager approved, 64 hex digits.
	TransactionSHA256 string
	// Time is when trel made the signature. Encoded in UTC with a precision
	// of one second.
	Time time.Time
}

// wireEntry is the JSON shape of an Entry; the member order here is the
// canonical order.
type wireEntry struct {
	V                 int    `json:"v"`
	Kind              string `json:"kind"`
	Key               string `json:"key"`
	ArtifactSHA512    string `json:"artifact_sha512"`
	SignatureSHA256   string `json:"signature_sha256"`
	TransactionSHA256 string `json:"transaction_sha256"`
	Time              string `json:"time"`
}

const entryTimeLayout = "2006-01-02T15:04:05Z"

// Marshal returns the canonical encoding of e, which is the leaf data stored
// in the log (its Merkle leaf hash is the RFC 6962 leaf hash of these bytes).
//
// The encoding is one line of JSON, without a trailing newline, with exactly
// these members in this order and no whitespace:
//
//	{"v":1,"kind":"signature","key":"<FPR>","artifact_sha512":"<hex>","signature_sha256":"<hex>","transaction_sha256":"<hex>","time":"2026-11-25T14:02:25Z"}
//
// The fingerprint is upper-case hex, the digests lower-case hex, the time
// UTC truncated to the second in the layout shown. Every value is
// plain ASCII that needs no JSON escaping. Marshal normalizes case and time
// zone, so two Entries that differ only in those encode identically; it
// refuses an entry with a missing or malformed field.
func (e Entry) Marshal() ([]byte, error) {
	w, err := e.wire()
	if err != nil {
		return nil, err
	}
	// Every value has been validated as hex, a fixed kind string or a fixed
	// time layout, none needs escaping: plain %s formatting is canonical.
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"v":%d,"kind":"%s","key":"%s","artifact_sha512":"%s","signature_sha256":"%s","transaction_sha256":"%s","time":"%s"}`,
		w.V, w.Kind, w.Key, w.ArtifactSHA512, w.SignatureSHA256, w.TransactionSHA256, w.Time)
	return b.Bytes(), nil
}

// LeafHash returns the RFC 6962 Merkle leaf hash of e's canonical encoding.
func (e Entry) LeafHash() ([]byte, error) {
	data, err := e.Marshal()
	if err != nil {
		return nil, err
	}
	return rfc6962.DefaultHasher.HashLeaf(data), nil
}

// wire validates and normalizes e.
func (e Entry) wire() (wireEntry, error) {
	w := wireEntry{
		V:                 EntryVersion,
		Kind:              e.Kind,
		Key:               NormalizeFingerprint(e.KeyFingerprint),
		ArtifactSHA512:    strings.ToLower(e.ArtifactSHA512),
		SignatureSHA256:   strings.ToLower(e.SignatureSHA256),
		TransactionSHA256: strings.ToLower(e.TransactionSHA256),
	}
	switch e.Kind {
	case KindSignature:
		if !isHex(w.SignatureSHA256, 64) {
			return wireEntry{}, fmt.Errorf("entry: signature_sha256 must be 64 hex digits, got %q", e.SignatureSHA256)
		}
	case KindReleaseManifest:
		if w.SignatureSHA256 != "" && !isHex(w.SignatureSHA256, 64) {
			return wireEntry{}, fmt.Errorf("entry: signature_sha256 must be empty or 64 hex digits, got %q", e.SignatureSHA256)
		}
	default:
		return wireEntry{}, fmt.Errorf("entry: unknown kind %q (want %q or %q)", e.Kind, KindSignature, KindReleaseManifest)
	}
	if !isHex(w.Key, 40) && !isHex(w.Key, 64) {
		return wireEntry{}, fmt.Errorf("entry: key fingerprint must be 40 or 64 hex digits, got %q", e.KeyFingerprint)
	}
	if !isHex(w.ArtifactSHA512, 128) {
		return wireEntry{}, fmt.Errorf("entry: artifact_sha512 must be 128 hex digits, got %q", e.ArtifactSHA512)
	}
	if !isHex(w.TransactionSHA256, 64) {
		return wireEntry{}, fmt.Errorf("entry: transaction_sha256 must be 64 hex digits, got %q", e.TransactionSHA256)
	}
	if e.Time.IsZero() {
		return wireEntry{}, errors.New("entry: time is missing")
	}
	t := e.Time.UTC().Truncate(time.Second)
	if t.Year() < 2000 || t.Year() > 9999 {
		return wireEntry{}, fmt.Errorf("entry: time %v out of range", e.Time)
	}
	w.Time = t.Format(entryTimeLayout)
	return w, nil
}

// ParseEntry decodes one leaf. It accepts only the canonical encoding that
// Marshal produces: unknown members, another version, non-canonical case,
// order or spacing are all refused, so every entry has exactly one encoding.
func ParseEntry(data []byte) (Entry, error) {
	if len(data) > maxEntrySize {
		return Entry{}, fmt.Errorf("entry: %d bytes is larger than the limit of %d", len(data), maxEntrySize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w wireEntry
	if err := dec.Decode(&w); err != nil {
		return Entry{}, fmt.Errorf("entry: decode: %w", err)
	}
	if w.V != EntryVersion {
		return Entry{}, fmt.Errorf("entry: version %d is not supported (want %d)", w.V, EntryVersion)
	}
	t, err := time.Parse(entryTimeLayout, w.Time)
	if err != nil {
		return Entry{}, fmt.Errorf("entry: time: %w", err)
	}
	e := Entry{
		Kind:              w.Kind,
		KeyFingerprint:    w.Key,
		ArtifactSHA512:    w.ArtifactSHA512,
		SignatureSHA256:   w.SignatureSHA256,
		TransactionSHA256: w.TransactionSHA256,
		Time:              t,
	}
	canonical, err := e.Marshal()
	if err != nil {
		return Entry{}, err
	}
	if !bytes.Equal(canonical, data) {
		return Entry{}, errors.New("entry: not in canonical encoding")
	}
	return e, nil
}

// NormalizeFingerprint returns fpr in the form used in entries: upper-case
// hex without spaces (as gpg prints it, "ABCD 1234 ...", is accepted) and
// without a "0x" prefix.
func NormalizeFingerprint(fpr string) string {
	s := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(fpr), " ", ""))
	return strings.TrimPrefix(s, "0X")
}

// isHex reports whether s is exactly n hex digits (either case).
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
