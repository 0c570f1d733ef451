package openpgp

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fixtureNow is after every fixture signature (the newest is 2026-11-25).
var fixtureNow = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return data
}

func loadFixture(t testing.TB, name string) *LoadResult {
	t.Helper()
	res, err := LoadKeys(bytes.NewReader(readFixture(t, name)))
	if err != nil {
		t.Fatalf("LoadKeys(%s): %v", name, err)
	}
	return res
}

func certByFpr(res *LoadResult, fpr string) *Cert {
	for _, c := range res.Certs {
		if c.Fingerprint == fpr {
			return c
		}
	}
	return nil
}
