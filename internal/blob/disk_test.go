package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"trel/internal/blob"
	"trel/internal/blob/blobtest"
)

func TestDisk(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		d, err := blob.NewDisk(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

// TestSavedStateFinishesTheHash proves the saved states are the states
// after the last byte: restoring one and writing a suffix gives the hash of
// content+suffix, which is what signature checks rely on.
func TestSavedStateFinishesTheHash(t *testing.T) {
	data := bytes.Repeat([]byte{1, 2, 3}, 1<<20)
	b, err := blob.HashCopy(io.Discard, bytes.NewReader(data), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	suffix := []byte("trailer")
	h := sha512.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(b.SHA512State); err != nil {
		t.Fatal(err)
	}
	h.Write(suffix)
	want := sha512.Sum512(append(append([]byte{}, data...), suffix...))
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("sha512 state does not continue the content's hash")
	}
	h2 := sha256.New()
	h2.(encoding.BinaryUnmarshaler).UnmarshalBinary(b.SHA256State)
	h2.Write(suffix)
	want2 := sha256.Sum256(append(append([]byte{}, data...), suffix...))
	if !bytes.Equal(h2.Sum(nil), want2[:]) {
		t.Fatal("sha256 state does not continue the content's hash")
	}
}

func TestCleanTempRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	d, err := blob.NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "tmp", "upload-123"), []byte("half"), 0o600)
	// Staged uploads survive restarts, unless older than their lifetime.
	ctx := context.Background()
	live, _ := d.StartStaged(ctx)
	stale, _ := d.StartStaged(ctx)
	old := time.Now().Add(-blob.StagedLifetime - time.Hour)
	os.Chtimes(filepath.Join(dir, "staged", stale), old, old)
	if err := d.CleanTemp(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Fatalf("%d leftovers remain", len(ents))
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "staged")); len(ents) != 1 || ents[0].Name() != live {
		t.Fatalf("staged uploads after the clean-up: %v (live %s)", ents, live)
	}
}

// BenchmarkHashCopy measures the single pass that stores and hashes an
// upload; compare with BenchmarkSHA512Only to see the cost of hashing
// twice (the two hashes run in parallel).
func BenchmarkHashCopy(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := blob.HashCopy(io.Discard, bytes.NewReader(data), 1<<40); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSHA512Only(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		h := sha512.New()
		h.Write(data)
		h.Sum(nil)
	}
}
