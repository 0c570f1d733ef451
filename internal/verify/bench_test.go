package verify

import (
	"bufio"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"trel/internal/openpgp"
)

// largeSize is the size of the generated artifact of BenchmarkVerifyLarge.
const largeSize = 256 << 20

// writeLargeRelease writes a pseudo-random artifact of size bytes into dir,
// signs it with a key made now (openpgp.SigningKey, SHA-512) and writes its
// .sha512; it returns the artifact and the public key file.
func writeLargeRelease(b *testing.B, dir string, size int64) (artifact, keyFile string) {
	b.Helper()
	artifact = filepath.Join(dir, "large-1.0.tar.gz")
	f, err := os.Create(artifact)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	h := sha512.New()
	src := rand.NewChaCha8([32]byte{1, 2, 3})
	if _, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(src, size)); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(artifact+".sha512", []byte(hex.EncodeToString(h.Sum(nil))+"  large-1.0.tar.gz\n"), 0o644); err != nil {
		b.Fatal(err)
	}

	priv, pub := newOpenPGPKey(b)
	signer, err := openpgp.ReadSecretKey(priv, nil)
	if err != nil {
		b.Fatal(err)
	}
	in, err := os.Open(artifact)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	sig, err := os.Create(artifact + ".asc")
	if err != nil {
		b.Fatal(err)
	}
	if err := signer.SignDetached(sig, in); err != nil {
		b.Fatal(err)
	}
	if err := sig.Close(); err != nil {
		b.Fatal(err)
	}
	keyFile = filepath.Join(dir, "KEYS")
	if err := os.WriteFile(keyFile, pub, 0o644); err != nil {
		b.Fatal(err)
	}
	return artifact, keyFile
}

// BenchmarkVerifyLarge verifies a 256 MiB artifact with its OpenPGP
// signature (SHA-512) and .sha512, reading it once. The artifact stays in
// the page cache between iterations, so this measures hashing, not disk.
func BenchmarkVerifyLarge(b *testing.B) {
	artifact, keys := writeLargeRelease(b, b.TempDir(), largeSize)
	b.SetBytes(largeSize)
	b.ResetTimer()
	for b.Loop() {
		rep, err := Verify(Options{Artifact: artifact, Keys: keys})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK || len(rep.Verifications) != 2 {
			b.Fatalf("not verified: %+v", rep)
		}
	}
}

// BenchmarkHashLarge compares the parallel single pass with hashing both
// digests one after the other through io.MultiWriter.
func BenchmarkHashLarge(b *testing.B) {
	artifact, _ := writeLargeRelease(b, b.TempDir(), largeSize)
	b.Run("parallel", func(b *testing.B) {
		b.SetBytes(largeSize)
		for b.Loop() {
			if _, err := hashFile(artifact); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("multiwriter", func(b *testing.B) {
		b.SetBytes(largeSize)
		for b.Loop() {
			f, err := os.Open(artifact)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, chunkSize)
			if _, err := io.CopyBuffer(io.MultiWriter(sha256.New(), sha512.New()), f, buf); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
}
