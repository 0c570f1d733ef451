// Package blobtest is the test suite every blob.Store implementation runs:
// the local disk and S3.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"trel/internal/blob"
	"trel/internal/domain"
)

// Run exercises s. newStore returns a fresh, empty store.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	ctx := context.Background()

	t.Run("ok/put returns both digests and the size, and open returns the bytes", func(t *testing.T) {
		s := newStore(t)
		data := bytes.Repeat([]byte("trel"), 700_000) // spans several chunks
		b, err := s.Put(ctx, bytes.NewReader(data), 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		s256, s512 := sha256.Sum256(data), sha512.Sum512(data)
		if b.SHA256 != hex.EncodeToString(s256[:]) || b.SHA512 != hex.EncodeToString(s512[:]) || b.Size != int64(len(data)) {
			t.Fatalf("wrong digests or size: %+v", b)
		}
		if len(b.SHA256State) == 0 || len(b.SHA512State) == 0 {
			t.Fatal("hash states were not saved")
		}
		rc, err := s.Open(ctx, b.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		got, _ := io.ReadAll(rc)
		if !bytes.Equal(got, data) {
			t.Fatal("content differs")
		}
	})

	t.Run("ok/seeks read ranges", func(t *testing.T) {
		s := newStore(t)
		data := []byte("0123456789abcdefghij")
		b, err := s.Put(ctx, bytes.NewReader(data), 100)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := s.Open(ctx, b.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if n, err := rc.Seek(0, io.SeekEnd); n != 20 || err != nil {
			t.Fatalf("size by seeking to the end: %d %v", n, err)
		}
		if _, err := rc.Seek(10, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		part := make([]byte, 5)
		if _, err := io.ReadFull(rc, part); err != nil || string(part) != "abcde" {
			t.Fatalf("range read %q %v", part, err)
		}
		if _, err := rc.Seek(-3, io.SeekEnd); err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(rc)
		if string(rest) != "hij" {
			t.Fatalf("tail %q", rest)
		}
	})

	t.Run("ok/empty content", func(t *testing.T) {
		s := newStore(t)
		b, err := s.Put(ctx, strings.NewReader(""), 10)
		if err != nil || b.Size != 0 || b.SHA256 != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
			t.Fatalf("%+v %v", b, err)
		}
	})

	t.Run("ok/the same content twice is stored once", func(t *testing.T) {
		s := newStore(t)
		a, err1 := s.Put(ctx, strings.NewReader("same"), 10)
		b, err2 := s.Put(ctx, strings.NewReader("same"), 10)
		if err1 != nil || err2 != nil || a.SHA256 != b.SHA256 {
			t.Fatal(err1, err2)
		}
	})

	t.Run("fail/over the limit leaves nothing", func(t *testing.T) {
		s := newStore(t)
		data := strings.Repeat("x", 101)
		_, err := s.Put(ctx, strings.NewReader(data), 100)
		if !domain.IsKind(err, domain.KindTooLarge) {
			t.Fatalf("want too large, got %v", err)
		}
		sum := sha256.Sum256([]byte(data))
		if ok, _ := s.Exists(ctx, hex.EncodeToString(sum[:])); ok {
			t.Fatal("an oversize upload was stored")
		}
		if ok, _ := s.Exists(ctx, hex.EncodeToString(sha256.New().Sum(nil))); ok {
			t.Fatal("an oversize upload left an empty blob")
		}
	})

	t.Run("fail/an interrupted stream leaves nothing", func(t *testing.T) {
		s := newStore(t)
		r := io.MultiReader(strings.NewReader("partial"), errReader{})
		if _, err := s.Put(ctx, r, 100); err == nil {
			t.Fatal("an interrupted upload succeeded")
		}
		sum := sha256.Sum256([]byte("partial"))
		if ok, _ := s.Exists(ctx, hex.EncodeToString(sum[:])); ok {
			t.Fatal("a partial upload is visible")
		}
	})

	t.Run("fail/a cancelled context stops the upload", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Put(cctx, strings.NewReader("data"), 100); err == nil {
			t.Fatal("a cancelled upload succeeded")
		}
	})

	t.Run("ok/list names every blob with its write time, delete spares what was written again", func(t *testing.T) {
		s := newStore(t)
		a, _ := s.Put(ctx, strings.NewReader("first"), 100)
		b, _ := s.Put(ctx, strings.NewReader("second"), 100)
		seen := map[string]time.Time{}
		if err := s.List(ctx, func(sha string, at time.Time) error { seen[sha] = at; return nil }); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 2 || seen[a.SHA256].IsZero() || seen[b.SHA256].IsZero() {
			t.Fatalf("listed %v", seen)
		}
		// A cutoff before the write time protects the blob (a Put that
		// raced with the sweep); one after it lets it go.
		if gone, err := s.Delete(ctx, a.SHA256, seen[a.SHA256]); err != nil || gone {
			t.Fatalf("deleted a blob written at the cutoff: %v %v", gone, err)
		}
		if gone, err := s.Delete(ctx, a.SHA256, seen[a.SHA256].Add(time.Second)); err != nil || !gone {
			t.Fatalf("delete: %v %v", gone, err)
		}
		if ok, _ := s.Exists(ctx, a.SHA256); ok {
			t.Fatal("a deleted blob still exists")
		}
		if gone, err := s.Delete(ctx, a.SHA256, time.Now().Add(time.Hour)); err != nil || gone {
			t.Fatalf("deleting a missing blob: %v %v", gone, err)
		}
		if ok, _ := s.Exists(ctx, b.SHA256); !ok {
			t.Fatal("the other blob went too")
		}
		// Content stored again after a deletion is back.
		if _, err := s.Put(ctx, strings.NewReader("first"), 100); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.Exists(ctx, a.SHA256); !ok {
			t.Fatal("content put again is missing")
		}
		if _, err := s.Delete(ctx, "../../x", time.Now()); !domain.IsKind(err, domain.KindInvalid) {
			t.Fatalf("a malformed digest: %v", err)
		}
	})

	t.Run("fail/open of a missing or malformed digest", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Open(ctx, strings.Repeat("0", 64)); !domain.IsKind(err, domain.KindNotFound) {
			t.Fatalf("missing: %v", err)
		}
		for _, bad := range []string{"../../etc/passwd", strings.Repeat("G", 64), "abc"} {
			if _, err := s.Open(ctx, bad); !domain.IsKind(err, domain.KindInvalid) {
				t.Fatalf("malformed %q: %v", bad, err)
			}
		}
	})
	runStaged(t, newStore)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// runStaged covers staged content (resumable uploads): parts of at least
// 5 MiB (S3's minimum for all but the last), a part that fails midway
// and is sent again at its offset as a new attempt, a part that lost a
// race to another attempt, and abort. As the caller guarantees, every
// attempt starts right after the last accepted part.
func runStaged(t *testing.T, newStore func(t *testing.T) blob.Store) {
	ctx := context.Background()
	const partSize = 5 << 20
	data := make([]byte, 2*partSize+1234)
	for i := range data {
		data[i] = byte(i*7 + i/5000)
	}
	put := func(t *testing.T, s blob.Store, key string, n, part int, r io.Reader) (domain.StagedPart, error) {
		t.Helper()
		off := int64(part * partSize)
		size := min(int64(len(data))-off, partSize)
		return s.PutPart(ctx, key, n, off, r, size)
	}
	chunk := func(part int) io.Reader {
		return bytes.NewReader(data[part*partSize : min(len(data), (part+1)*partSize)])
	}

	t.Run("ok/staged parts become one blob; failed and losing attempts do not count", func(t *testing.T) {
		s := newStore(t)
		key, err := s.StartStaged(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p1, err := put(t, s, key, 1, 0, chunk(0))
		if err != nil {
			t.Fatal(err)
		}
		// Part 2's first attempt dies after 1 MiB (the client was killed).
		broken := io.MultiReader(bytes.NewReader(data[partSize:partSize+1<<20]), errReader{})
		if _, err := put(t, s, key, 2, 1, broken); err == nil {
			t.Fatal("a part that failed midway was accepted")
		}
		// An attempt with other bytes that loses the race: stored, never accepted.
		if _, err := put(t, s, key, 3, 1, bytes.NewReader(make([]byte, partSize))); err != nil {
			t.Fatal(err)
		}
		p2, err := put(t, s, key, 4, 1, chunk(1))
		if err != nil {
			t.Fatal(err)
		}
		// A part shorter than announced is refused.
		if _, err := s.PutPart(ctx, key, 5, 2*partSize, strings.NewReader("short"), 1234); err == nil {
			t.Fatal("a short part was accepted")
		}
		p3, err := put(t, s, key, 6, 2, chunk(2))
		if err != nil {
			t.Fatal(err)
		}
		d, _ := blob.ResumeDigests(nil)
		if err := d.Copy(nil, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		b, err := d.Blob()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.FinishStaged(ctx, key, []domain.StagedPart{p1, p2, p3}, b); err != nil {
			t.Fatal(err)
		}
		rc, err := s.Open(ctx, b.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		got, _ := io.ReadAll(rc)
		if !bytes.Equal(got, data) {
			t.Fatalf("the staged blob differs from what was sent (%d bytes of %d)", len(got), len(data))
		}
		if ok, _ := s.Exists(ctx, b.SHA256); !ok {
			t.Fatal("the staged blob does not exist")
		}
	})

	t.Run("ok/an aborted staged upload takes no more parts", func(t *testing.T) {
		s := newStore(t)
		key, err := s.StartStaged(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := put(t, s, key, 1, 0, chunk(0)); err != nil {
			t.Fatal(err)
		}
		if err := s.AbortStaged(ctx, key); err != nil {
			t.Fatal(err)
		}
		if err := s.AbortStaged(ctx, key); err != nil {
			t.Fatalf("a second abort: %v", err)
		}
		if _, err := put(t, s, key, 2, 1, chunk(1)); !domain.IsKind(err, domain.KindNotFound) {
			t.Fatalf("a part after the abort: %v", err)
		}
	})

	t.Run("fail/malformed staging keys", func(t *testing.T) {
		s := newStore(t)
		for _, key := range []string{"", "../../etc/passwd", strings.Repeat("g", 32)} {
			if _, err := s.PutPart(ctx, key, 1, 0, strings.NewReader("x"), 1); !domain.IsKind(err, domain.KindInvalid) {
				t.Fatalf("key %q: %v", key, err)
			}
		}
	})

	t.Run("ok/digests resume from a saved state", func(t *testing.T) {
		d, _ := blob.ResumeDigests(nil)
		if err := d.Copy(nil, bytes.NewReader(data[:partSize]), partSize); err != nil {
			t.Fatal(err)
		}
		state, err := d.State()
		if err != nil {
			t.Fatal(err)
		}
		d2, err := blob.ResumeDigests(state)
		if err != nil {
			t.Fatal(err)
		}
		if err := d2.Copy(nil, bytes.NewReader(data[partSize:]), int64(len(data)-partSize)); err != nil {
			t.Fatal(err)
		}
		b, _ := d2.Blob()
		s256, s512 := sha256.Sum256(data), sha512.Sum512(data)
		if b.SHA256 != hex.EncodeToString(s256[:]) || b.SHA512 != hex.EncodeToString(s512[:]) || b.Size != int64(len(data)) {
			t.Fatalf("resumed digests differ: %+v", b)
		}
		if err := d2.Copy(nil, strings.NewReader("toolong"), 3); err == nil {
			t.Fatal("more bytes than announced were accepted")
		}
		if _, err := blob.ResumeDigests([]byte{1, 2}); err == nil {
			t.Fatal("a malformed state was accepted")
		}
	})
}
