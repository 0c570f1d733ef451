package signing

import (
	"fmt"
	"testing"
)

// benchFiles makes n saved SHA-512 states of distinct small artifacts;
// the artifact size does not matter: only the trailer is hashed.
func benchFiles(b *testing.B, n int) []FileToSign {
	b.Helper()
	files := make([]FileToSign, n)
	for i := range files {
		files[i] = FileToSign{Path: fmt.Sprintf("artifact-%03d.tar.gz", i), SHA512State: sha512State(b, []byte(fmt.Sprintf("artifact %d", i)))}
	}
	return files
}

// BenchmarkSignEdDSA is the latency of one signature from a saved state,
// key parsing included, password derivation excluded (target < 5 ms).
func BenchmarkSignEdDSA(b *testing.B) {
	g := newEdDSA(b)
	files := benchFiles(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(g.Secret, files); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignRSA4096 is the same with the RSA-4096 key.
func BenchmarkSignRSA4096(b *testing.B) {
	g := sharedRSA(b)
	files := benchFiles(b, 1)
	for b.Loop() {
		if _, err := Sign(g.Secret, files); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign100Files signs a 100-file release with one call (one
// approval): reports ms per release and µs per file.
func BenchmarkSign100Files(b *testing.B) {
	g := newEdDSA(b)
	files := benchFiles(b, 100)
	for b.Loop() {
		sigs, err := Sign(g.Secret, files)
		if err != nil || len(sigs) != 100 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/100, "µs/file")
}

// BenchmarkArgon2id is one password derivation with the default
// parameters (t=3, m=64 MiB, p=4).
func BenchmarkArgon2id(b *testing.B) {
	salt := make([]byte, argon2SaltSize)
	p := DefaultArgon2Params()
	for b.Loop() {
		if _, err := deriveArgon2([]byte("password"), salt, p, nil, PurposeUse); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenAndSign100Files is the whole server-side cost of a
// 100-file release: unseal with the default parameters, sign, wipe.
func BenchmarkOpenAndSign100Files(b *testing.B) {
	g := newEdDSA(b)
	m := mustMaster(b)
	pw := []byte("password")
	s, err := Seal(g.Secret, g.Fingerprint, m, pw, DefaultArgon2Params())
	if err != nil {
		b.Fatal(err)
	}
	files := benchFiles(b, 100)
	for b.Loop() {
		secret, err := Open(s, g.Fingerprint, m, pw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Sign(secret, files); err != nil {
			b.Fatal(err)
		}
		Wipe(secret)
	}
}
