package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

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

// TestLargeUploadsAreNeverCopied: a multipart upload stays where it was
// uploaded (data/<id>); objects/<sha> is an empty pointer to it and a
// marker names it. The same content again keeps one copy and writes the
// pointer again (the sweep's guard); Delete removes pointer, marker and
// data.
func TestLargeUploadsAreNeverCopied(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), (s3.PartSize+1000)/16)
	b, err := s.Put(ctx, bytes.NewReader(data), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	objects, err := s.Keys(ctx, "objects/")
	if err != nil {
		t.Fatal(err)
	}
	dataKeys, _ := s.Keys(ctx, "data/")
	if len(objects) != 2 || len(dataKeys) != 1 {
		t.Fatalf("objects %v, data %v: want a pointer and a marker, and one data object", objects, dataKeys)
	}
	var id string
	for k, size := range dataKeys {
		id = strings.TrimPrefix(k, "data/")
		if size != int64(len(data)) {
			t.Fatalf("data/%s holds %d bytes, want %d", id, size, len(data))
		}
	}
	if size, ok := objects["objects/"+b.SHA256]; !ok || size != 0 {
		t.Fatalf("objects/%s: %d bytes (%v), want an empty pointer", b.SHA256, size, ok)
	}
	if _, ok := objects["objects/"+b.SHA256+"."+id]; !ok {
		t.Fatalf("no marker naming data/%s in %v", id, objects)
	}
	if staging, _ := s.Keys(ctx, "uploads/"); len(staging) != 0 {
		t.Fatalf("staging objects left: %v", staging)
	}

	var first time.Time
	s.List(ctx, func(sha string, at time.Time) error { first = at; return nil })
	time.Sleep(1100 * time.Millisecond) // object times have a resolution of a second
	if _, err := s.Put(ctx, bytes.NewReader(data), 1<<30); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Keys(ctx, "data/"); len(again) != 1 {
		t.Fatalf("the same content twice is stored %d times", len(again))
	}
	var second time.Time
	s.List(ctx, func(sha string, at time.Time) error { second = at; return nil })
	if !second.After(first) {
		t.Fatalf("storing the content again did not renew its time (%v, then %v)", first, second)
	}
	if gone, err := s.Delete(ctx, b.SHA256, time.Now().Add(time.Minute)); !gone || err != nil {
		t.Fatalf("delete: %v %v", gone, err)
	}
	for _, dir := range []string{"objects/", "data/"} {
		if left, _ := s.Keys(ctx, dir); len(left) != 0 {
			t.Fatalf("%s after delete: %v", dir, left)
		}
	}
}

// TestCleanRemovesDataNoPointerNames: data left by a replica that died
// after completing an upload (no marker, or a marker without pointer) is
// removed once old enough; data a pointer names is kept.
func TestCleanRemovesDataNoPointerNames(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	data := bytes.Repeat([]byte("x"), s3.PartSize+1)
	b, err := s.Put(ctx, bytes.NewReader(data), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	kept, _ := s.Keys(ctx, "data/")
	other := strings.Repeat("a", 64)
	for _, k := range []string{"data/died-before-marker", "data/died-before-pointer", "objects/" + other + ".died-before-pointer"} {
		if err := s.PutRaw(ctx, k, "partial"); err != nil {
			t.Fatal(err)
		}
	}
	// Younger than the cutoff: kept (their uploads may still be running).
	if err := s.CleanBefore(ctx, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.Keys(ctx, "data/"); len(all) != 3 {
		t.Fatalf("young data removed: %v", all)
	}
	if err := s.CleanBefore(ctx, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	left, _ := s.Keys(ctx, "data/")
	if len(left) != 1 || len(kept) != 1 {
		t.Fatalf("after Clean: %v, want only %v", left, kept)
	}
	for k := range kept {
		if _, ok := left[k]; !ok {
			t.Fatalf("Clean removed the data of a stored blob: %v", left)
		}
	}
	if objects, _ := s.Keys(ctx, "objects/"); len(objects) != 2 {
		t.Fatalf("objects after Clean: %v, want the blob's pointer and marker", objects)
	}
	rc, err := s.Open(ctx, b.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("the kept blob reads back wrong")
	}
}

// TestReadingABlobCostsOneRequestPerObject: opening and reading content
// that fitted in one part is one GET; a multipart blob is its pointer and
// its data; a read elsewhere than where the body stands is one more.
func TestReadingABlobCostsOneRequestPerObject(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	small, err := s.Put(ctx, strings.NewReader("small content\n"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	large, err := s.Put(ctx, bytes.NewReader(bytes.Repeat([]byte("0123456789abcdef"), (s3.PartSize+100)/16)), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	n := s.CountRequests()
	read := func(sha string, seek int64) []byte {
		t.Helper()
		rc, err := s.Open(ctx, sha)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if _, err := rc.Seek(seek, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, c := range []struct {
		name     string
		sha      string
		seek     int64
		want     int64 // bytes read
		requests int64
	}{
		{"small, whole", small.SHA256, 0, small.Size, 1},
		{"small, from an offset", small.SHA256, 6, small.Size - 6, 2},
		{"multipart, whole", large.SHA256, 0, large.Size, 2},
		{"multipart, from an offset", large.SHA256, s3.PartSize, large.Size - s3.PartSize, 2},
	} {
		n.Store(0)
		if got := read(c.sha, c.seek); int64(len(got)) != c.want {
			t.Errorf("%s: read %d bytes, want %d", c.name, len(got), c.want)
		}
		if got := n.Load(); got != c.requests {
			t.Errorf("%s: %d requests, want %d", c.name, got, c.requests)
		}
	}
	if got := read(small.SHA256, 0); string(got) != "small content\n" {
		t.Fatalf("read back %q", got)
	}
	if _, err := s.Open(ctx, strings.Repeat("0", 64)); !domain.IsKind(err, domain.KindNotFound) {
		t.Fatalf("a missing blob: %v", err)
	}
}
