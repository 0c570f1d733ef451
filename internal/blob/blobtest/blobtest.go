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
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
