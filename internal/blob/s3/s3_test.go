package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"trel/internal/blob"
	"trel/internal/blob/blobtest"
	"trel/internal/blob/s3"
	"trel/internal/domain"
	"trel/internal/testutil/services"
)

func open(t *testing.T) *s3.Store {
	t.Helper()
	s, err := s3.Open(context.Background(), services.S3(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3(t *testing.T) {
	services.S3Server(t)
	blobtest.Run(t, func(t *testing.T) blob.Store { return open(t) })
}

// TestLargeUploadsUseSeveralParts sends content of several parts and reads
// it back whole and by range.
func TestLargeUploadsUseSeveralParts(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	data := make([]byte, 2*s3.PartSize+12345)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	b, err := s.Put(ctx, bytes.NewReader(data), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if b.SHA256 != hex.EncodeToString(sum[:]) || b.Size != int64(len(data)) {
		t.Fatalf("%+v", b)
	}
	rc, err := s.Open(ctx, b.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	if _, err := rc.Seek(s3.PartSize-10, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	across := make([]byte, 20)
	if _, err := io.ReadFull(rc, across); err != nil || !bytes.Equal(across, data[s3.PartSize-10:s3.PartSize+10]) {
		t.Fatalf("range across a part boundary: %v", err)
	}
	if n, _ := s.PendingUploads(ctx); n != 0 {
		t.Fatalf("%d multipart uploads left after a complete upload", n)
	}
}

// TestFailedUploadsAbortTheirParts: an upload that fails after its first
// parts were sent leaves no multipart upload and no object.
func TestFailedUploadsAbortTheirParts(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	data := bytes.Repeat([]byte("x"), 2*s3.PartSize+5)
	for _, c := range []struct {
		name string
		r    io.Reader
		max  int64
	}{
		{"interrupted", io.MultiReader(bytes.NewReader(data), failing{}), 1 << 30},
		{"too large", bytes.NewReader(data), int64(len(data) - 1)},
	} {
		name := c.name
		_, err := s.Put(ctx, c.r, c.max)
		if err == nil {
			t.Fatalf("%s: the upload succeeded", name)
		}
		if want := map[string]domain.Kind{"interrupted": domain.KindInvalid, "too large": domain.KindTooLarge}[name]; !domain.IsKind(err, want) {
			t.Fatalf("%s: want %s, got %v", name, want, err)
		}
		if n, err := s.PendingUploads(ctx); n != 0 || err != nil {
			t.Fatalf("%s: %d multipart uploads left behind (%v)", name, n, err)
		}
	}
	sum := sha256.Sum256(data)
	if ok, _ := s.Exists(ctx, hex.EncodeToString(sum[:])); ok {
		t.Fatal("a failed upload is visible")
	}
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
