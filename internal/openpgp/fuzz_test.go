package openpgp

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func addFixtureSeeds(f *testing.F, pattern string) {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds for %s: %v", pattern, err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

func FuzzLoadKeys(f *testing.F) {
	addFixtureSeeds(f, "*/*")
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := LoadKeys(bytes.NewReader(data))
		if err != nil {
			return // private key material or over the bounds
		}
		if len(res.Blocks) == 0 {
			t.Fatal("no block accounted for")
		}
		for _, b := range res.Blocks {
			if b.Status == StatusRejected && b.Reason == "" {
				t.Fatalf("block %d rejected without a reason", b.Index)
			}
			if b.Status != StatusRejected && b.Status != StatusAccepted {
				t.Fatalf("block %d status %q", b.Index, b.Status)
			}
		}
		for _, c := range res.Certs {
			armored, err := c.Armored()
			if err != nil {
				t.Fatalf("export %s: %v", c.Fingerprint, err)
			}
			again, err := LoadKeys(bytes.NewReader(armored))
			if err != nil || len(again.Certs) != 1 || again.Certs[0].Fingerprint != c.Fingerprint {
				t.Fatalf("export of %s does not load back: %v", c.Fingerprint, err)
			}
		}
	})
}

func FuzzVerifyDetached(f *testing.F) {
	addFixtureSeeds(f, "scenarios/*.asc")
	addFixtureSeeds(f, "atr/*.asc")
	var keys []*Cert
	for _, file := range []string{"scenarios/bench-KEYS.asc", "scenarios/key-old.asc", "scenarios/key-revoked-compromised.asc", "atr/68FF2E20F02B070D73D416188DE8CC167FE2663A.asc"} {
		keys = append(keys, loadFixture(f, file).Certs...)
	}
	data := readFixture(f, "scenarios/artifact.tar.gz")
	state, err := SaveHashStates(bytes.NewReader(data))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sig []byte) {
		res := VerifyDetached(sig, keys, state, VerifyOptions{Now: fixtureNow})
		fromBytes := VerifyDetached(sig, keys, BytesSource(data), VerifyOptions{Now: fixtureNow})
		if res.Valid != fromBytes.Valid {
			t.Fatalf("state says %v, bytes say %v", res.Valid, fromBytes.Valid)
		}
		if !res.Valid && res.ReasonCode == "" {
			t.Fatal("invalid without a reason code")
		}
		good := false
		for _, s := range res.Signatures {
			if s.Valid {
				good = true
				if s.SignerFingerprint == "" {
					t.Fatal("valid signature without signer")
				}
			} else if s.ReasonCode == "" || s.Reason == "" {
				t.Fatal("invalid signature without reason")
			}
		}
		if good != res.Valid {
			t.Fatalf("overall %v but a valid signature: %v", res.Valid, good)
		}
	})
}
