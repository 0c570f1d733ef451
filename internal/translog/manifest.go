package translog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A release manifest is logged before its log index is known, so the
// published manifest is the logged one with one member added: the logged
// manifest is a JSON object indented by two spaces that ends with "\n}",
// and the published one ends with ",\n  \"log_index\": N\n}\n" instead.
// LoggedManifest undoes exactly that, so that anyone holding the published
// file can recompute the entry and prove its inclusion.

// ManifestEntry is the log entry of a manifest as logged: no key (an
// all-zero fingerprint), the SHA-512 and the SHA-256 of its bytes.
func ManifestEntry(logged []byte, at time.Time) Entry {
	s512 := sha512.Sum512(logged)
	s256 := sha256.Sum256(logged)
	return Entry{Kind: KindReleaseManifest, KeyFingerprint: strings.Repeat("0", 40),
		ArtifactSHA512: hex.EncodeToString(s512[:]), TransactionSHA256: hex.EncodeToString(s256[:]), Time: at}
}

// WithLogIndex returns the manifest to publish: logged with its log index
// as the last member, and a final newline.
func WithLogIndex(logged []byte, index uint64) ([]byte, error) {
	body, ok := bytes.CutSuffix(logged, []byte("\n}"))
	if !ok || !bytes.HasPrefix(logged, []byte("{\n")) {
		return nil, errors.New("manifest: not an indented JSON object")
	}
	out := append(bytes.Clone(body), fmt.Sprintf(",\n  \"log_index\": %d\n}\n", index)...)
	return out, nil
}

var logIndexTail = regexp.MustCompile(`,\n  "log_index": (0|[1-9][0-9]{0,19})\n}\n?$`)

// LoggedManifest recovers the logged manifest and the log index from a
// published manifest file.
func LoggedManifest(published []byte) (logged []byte, index uint64, err error) {
	published = bytes.ReplaceAll(published, []byte("\r\n"), []byte("\n")) // a copy saved on Windows
	m := logIndexTail.FindSubmatchIndex(published)
	if m == nil || !bytes.HasPrefix(published, []byte("{\n")) {
		return nil, 0, errors.New("this is not a trel release manifest with a log index (it should end with a \"log_index\" member)")
	}
	index, err = strconv.ParseUint(string(published[m[2]:m[3]]), 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("the manifest's log index: %w", err)
	}
	logged = append(bytes.Clone(published[:m[0]]), "\n}"...)
	return logged, index, nil
}

// Matches reports whether e is the entry of the logged manifest (whatever
// its time).
func (e Entry) Matches(logged []byte) bool {
	want := ManifestEntry(logged, time.Time{})
	return e.Kind == KindReleaseManifest && strings.EqualFold(e.ArtifactSHA512, want.ArtifactSHA512) &&
		strings.EqualFold(e.TransactionSHA256, want.TransactionSHA256)
}

// NextIndex returns the index the next entry will get: entries appended
// from now on have at least this index.
func (l *Log) NextIndex(ctx context.Context) (uint64, error) {
	n, err := l.reader.NextIndex(ctx)
	if err != nil {
		return 0, fmt.Errorf("translog: next index: %w", err)
	}
	return n, nil
}

// FindManifest looks for the entry of the logged manifest at index from or
// later (a publication interrupted after its append). It first waits
// (bounded by ctx) until a published checkpoint covers every entry
// sequenced so far, so that an entry integrated just before a crash is not
// missed.
func (l *Log) FindManifest(ctx context.Context, logged []byte, from uint64) (uint64, bool, error) {
	next, err := l.NextIndex(ctx)
	if err != nil {
		return 0, false, err
	}
	var cp *Checkpoint
	for {
		cp, err = l.verify.Checkpoint(ctx)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, false, fmt.Errorf("translog: find manifest: %w", err)
		}
		if err == nil && cp.Size >= next {
			break
		}
		select {
		case <-ctx.Done():
			return 0, false, fmt.Errorf("translog: find manifest: waiting for a checkpoint of %d entries: %w", next, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if from >= cp.Size {
		return 0, false, nil
	}
	for ie, err := range l.verify.Entries(ctx, cp, from, cp.Size) {
		if err != nil {
			return 0, false, fmt.Errorf("translog: find manifest: %w", err)
		}
		if ie.Entry.Matches(logged) {
			return ie.Index, true, nil
		}
	}
	return 0, false, nil
}
