package openpgp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLoadKeysAccountsForEveryBlockOfRealKeysFiles(t *testing.T) {
	tests := []struct {
		file         string
		blocks       int
		accepted     int
		certs        int
		rejectReason string // substring every rejected block's reason must contain
		firstBlockV3 bool
	}{
		{file: "keys/httpd.KEYS", blocks: 28, accepted: 5, certs: 5, rejectReason: "obsolete and not supported", firstBlockV3: true},
		{file: "keys/ant.KEYS", blocks: 19, accepted: 16, certs: 20, rejectReason: "version 3 key", firstBlockV3: true},
		{file: "keys/kafka.KEYS", blocks: 1, accepted: 1, certs: 2},
		{file: "keys/tomcat.KEYS", blocks: 3, accepted: 3, certs: 3},
		{file: "scenarios/concat12.asc", blocks: 12, accepted: 12, certs: 12},
		{file: "scenarios/bench-KEYS.asc", blocks: 1, accepted: 1, certs: 2},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res := loadFixture(t, tt.file)
			if len(res.Blocks) != tt.blocks || res.Accepted() != tt.accepted || len(res.Certs) != tt.certs {
				t.Fatalf("blocks=%d accepted=%d certs=%d, want %d/%d/%d", len(res.Blocks), res.Accepted(), len(res.Certs), tt.blocks, tt.accepted, tt.certs)
			}
			for i, b := range res.Blocks {
				if b.Index != i+1 {
					t.Errorf("block %d has Index %d", i+1, b.Index)
				}
				switch b.Status {
				case StatusAccepted:
					if len(b.Fingerprints) == 0 {
						t.Errorf("accepted block %d names no fingerprint", b.Index)
					}
				case StatusRejected:
					if b.Reason == "" || !strings.Contains(b.Reason, tt.rejectReason) {
						t.Errorf("rejected block %d reason %q, want it to contain %q", b.Index, b.Reason, tt.rejectReason)
					}
				default:
					t.Errorf("block %d has status %q", b.Index, b.Status)
				}
			}
			if tt.firstBlockV3 && (res.Blocks[0].Status != StatusRejected || !strings.Contains(res.Blocks[0].Reason, "key ID")) {
				t.Errorf("first block: %+v, want a v3 rejection naming the key ID", res.Blocks[0])
			}
		})
	}
}

func TestLoadKeysSummarisesCertificates(t *testing.T) {
	kafka := loadFixture(t, "keys/kafka.KEYS")
	revoked := certByFpr(kafka, "8DC50142588C3C2044B9983B68255A3053038328")
	if revoked == nil || revoked.Revocation == nil || revoked.Revocation.ReasonCode != 1 || revoked.Revocation.Compromised {
		t.Fatalf("kafka revoked key: %+v", revoked)
	}
	live := certByFpr(kafka, "DA2546E49809658B3F5A17756C74016C99369B56")
	if live == nil || live.Revocation != nil || live.Algorithm != "RSA" || live.Bits != 4096 || live.Emails[0] != "nehanarkhede@apache.org" {
		t.Fatalf("kafka live key: %+v", live)
	}

	atr := loadFixture(t, "atr/68FF2E20F02B070D73D416188DE8CC167FE2663A.asc").Certs[0]
	if atr.Algorithm != "EdDSA" || atr.Curve != "Ed25519" || atr.KeyID != "8DE8CC167FE2663A" || atr.Expires == nil {
		t.Fatalf("atr key summary: %+v", atr)
	}
	signing := 0
	for _, s := range atr.Subkeys {
		if s.CanSign {
			signing++
			if s.Fingerprint != "A32F0FCCFF48C94FB971F98581B1A0B8D9D20CBA" {
				t.Errorf("unexpected signing subkey %s", s.Fingerprint)
			}
		}
	}
	if signing != 1 {
		t.Errorf("atr key has %d signing subkeys, want 1", signing)
	}

	old := loadFixture(t, "scenarios/key-old.asc").Certs[0]
	if old.Expires == nil || !old.Expires.Equal(time.Date(2021, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("key-old expires %v, want 2021-12-31", old.Expires)
	}
	for _, file := range []string{"scenarios/KEYS-old-then-new", "scenarios/KEYS-new-then-old"} {
		merged := loadFixture(t, file)
		if len(merged.Certs) != 1 {
			t.Fatalf("%s: %d certs, want the two copies merged into 1", file, len(merged.Certs))
		}
		c := merged.Certs[0]
		if c.Expires == nil || c.Expires.Year() != 2031 || c.SelfSigTime.Year() != 2021 {
			t.Errorf("%s: expires %v selfsig %v, want the newer self-signature (2021, expiring 2031) to win", file, c.Expires, c.SelfSigTime)
		}
	}
}

func TestLoadKeysAttachesRevocations(t *testing.T) {
	tests := []struct {
		file        string
		reasonCode  int
		compromised bool
	}{
		{"scenarios/key-revoked-compromised-merged.asc", 2, true},
		{"scenarios/key-revoked-compromised.asc", 2, true}, // separate block
		{"scenarios/key-revoked-superseded-merged.asc", 1, false},
		{"scenarios/key-revoked-superseded.asc", 1, false}, // separate block
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res := loadFixture(t, tt.file)
			if len(res.Certs) != 1 {
				t.Fatalf("%d certs", len(res.Certs))
			}
			rv := res.Certs[0].Revocation
			if rv == nil || rv.ReasonCode != tt.reasonCode || rv.Compromised != tt.compromised || !rv.Time.Equal(time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("revocation %+v, want code %d compromised=%v at 2022-01-01", rv, tt.reasonCode, tt.compromised)
			}
			for _, b := range res.Blocks {
				if b.Status != StatusAccepted {
					t.Errorf("block %d not accepted: %s", b.Index, b.Reason)
				}
			}
			// The export carries the revocation, also when it came in its own block.
			armored, err := res.Certs[0].Armored()
			if err != nil {
				t.Fatal(err)
			}
			again, err := LoadKeys(bytes.NewReader(armored))
			if err != nil || len(again.Certs) != 1 || again.Certs[0].Revocation == nil || again.Certs[0].Revocation.ReasonCode != tt.reasonCode {
				t.Fatalf("re-loaded export lost the revocation: %v %+v", err, again)
			}
		})
	}
}

func TestKeyRevNoneFixtureHoldsNoRevocation(t *testing.T) {
	// The shared fixture is documented as a reason-less revocation but holds
	// none (see testdata/PROVENANCE.md); sqv also verifies art-rev.asc with it.
	// TestGnuPGInterop covers a real reason-less revocation.
	res := loadFixture(t, "scenarios/key-rev-none.asc")
	if len(res.Certs) != 1 || res.Certs[0].Revocation != nil {
		t.Fatalf("key-rev-none: %+v", res.Certs)
	}
}

func TestLoadKeysRejectsBadInputPerBlock(t *testing.T) {
	good := readFixture(t, "scenarios/key-old.asc")
	tests := []struct {
		name   string
		input  []byte
		blocks int
		reason string
	}{
		{"garbage text", []byte("hello, this is not a key\n"), 1, "no OpenPGP data found"},
		{"empty input", nil, 1, "no OpenPGP data found"},
		{"corrupt base64 then good block", append([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!!\n=AAAA\n-----END PGP PUBLIC KEY BLOCK-----\n"), good...), 2, "corrupt armor"},
		{"binary garbage", []byte{0x99, 0xff, 0xff, 0x01}, 1, "malformed"},
		{"signature is not a key", readFixture(t, "scenarios/artifact.tar.gz.asc"), 1, "not a key"},
		{"message block", []byte("-----BEGIN PGP MESSAGE-----\n\nowE=\n-----END PGP MESSAGE-----\n"), 1, "not a key"},
		{"rsa key with huge exponent", rsaKeyPacket(1, []byte{1, 0, 0, 0, 1}), 1, "unusually large public exponent"},
		{"rsa key with even exponent", rsaKeyPacket(1, []byte{4}), 1, "unusual public exponent 4"},
		{"unsupported algorithm", rsaKeyPacket(99, []byte{1, 0, 1}), 1, "unsupported or malformed key packet"},
		{"key without self-signature", rsaKeyPacket(1, []byte{1, 0, 1}), 1, "no valid self-signature"},
		{"lone revocation for unknown key", []byte(lastBlock(string(readFixture(t, "scenarios/key-revoked-compromised.asc")))), 1, "not in this file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := LoadKeys(bytes.NewReader(tt.input))
			if err != nil {
				t.Fatalf("LoadKeys: %v (bad keys must be reported per block, not as an error)", err)
			}
			if len(res.Blocks) != tt.blocks {
				t.Fatalf("%d blocks, want %d: %+v", len(res.Blocks), tt.blocks, res.Blocks)
			}
			if b := res.Blocks[0]; b.Status != StatusRejected || !strings.Contains(b.Reason, tt.reason) {
				t.Fatalf("block 1: %+v, want rejected with %q", b, tt.reason)
			}
			if tt.blocks == 2 && res.Blocks[1].Status != StatusAccepted {
				t.Fatalf("the good block after a bad one was not accepted: %+v", res.Blocks[1])
			}
		})
	}
}

// rsaKeyPacket builds a bare v4 public key packet (no user ID, no
// self-signature) with a 2048-bit modulus and the given exponent bytes.
func rsaKeyPacket(algo byte, exponent []byte) []byte {
	body := []byte{4, 0x5e, 0x0b, 0xe1, 0x00, algo, 0x08, 0x00}
	n := bytes.Repeat([]byte{0xc3}, 256)
	body = append(body, n...)
	eBits := (len(exponent)-1)*8 + bitLen(exponent[0])
	body = append(body, byte(eBits>>8), byte(eBits))
	body = append(body, exponent...)
	return append([]byte{0xc6, 0xc0 + byte((len(body)-192)>>8), byte(len(body) - 192)}, body...)
}

func bitLen(b byte) int {
	n := 0
	for ; b != 0; b >>= 1 {
		n++
	}
	return n
}

// lastBlock returns the last armored block of s.
func lastBlock(s string) string {
	return s[strings.LastIndex(s, "-----BEGIN"):]
}

func TestLoadKeysEnforcesBounds(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 100)
	if _, err := LoadKeysWithOptions(bytes.NewReader(big), LoadOptions{MaxBytes: 99}); !errors.Is(err, ErrInputTooLarge) {
		t.Errorf("oversized input: err %v, want ErrInputTooLarge", err)
	}
	concat := readFixture(t, "scenarios/concat12.asc")
	if _, err := LoadKeysWithOptions(bytes.NewReader(concat), LoadOptions{MaxBlocks: 11}); !errors.Is(err, ErrInputTooLarge) {
		t.Errorf("13 blocks with limit 11: err %v, want ErrInputTooLarge", err)
	}
	if res, err := LoadKeysWithOptions(bytes.NewReader(concat), LoadOptions{MaxBlocks: 12}); err != nil || len(res.Certs) != 12 {
		t.Errorf("12 blocks with limit 12: %v", err)
	}
}

func TestLoadKeysReadsBinaryKeyring(t *testing.T) {
	res := loadFixture(t, "scenarios/bench-KEYS.asc")
	var bin []byte
	for _, c := range res.Certs {
		bin = append(bin, c.serialize()...)
	}
	again, err := LoadKeys(bytes.NewReader(bin))
	if err != nil || len(again.Certs) != 2 || again.Blocks[0].Type != "binary" {
		t.Fatalf("binary keyring: %v %+v", err, again)
	}
}

func TestMergeOnlyAdds(t *testing.T) {
	old := loadFixture(t, "scenarios/key-old.asc").Certs[0]
	newer := loadFixture(t, "scenarios/key-new.asc").Certs[0]
	revoked := loadFixture(t, "scenarios/key-revoked-compromised.asc").Certs[0]
	unrevoked := loadFixture(t, "scenarios/key-rev-none.asc").Certs[0]

	merged, changed, err := Merge(old, newer)
	if err != nil || !changed {
		t.Fatalf("merge old+new: changed=%v err=%v", changed, err)
	}
	if merged.Expires == nil || merged.Expires.Year() != 2031 {
		t.Errorf("merged expiry %v, want the extended 2031 expiry", merged.Expires)
	}
	if old.Expires.Year() != 2021 {
		t.Errorf("Merge modified its input: old expiry now %v", old.Expires)
	}
	back, changed, err := Merge(merged, old)
	if err != nil || changed || back.Expires.Year() != 2031 {
		t.Errorf("merging the older copy again: changed=%v expires=%v err=%v, want no change and 2031 kept", changed, back.Expires, err)
	}
	kept, changed, err := Merge(revoked, unrevoked)
	if err != nil || changed || kept.Revocation == nil || !kept.Revocation.Compromised {
		t.Errorf("an upload without the revocation dropped it: changed=%v rev=%+v err=%v", changed, kept.Revocation, err)
	}
	added, changed, err := Merge(unrevoked, revoked)
	if err != nil || !changed || added.Revocation == nil {
		t.Errorf("a new revocation was not added: changed=%v err=%v", changed, err)
	}
	if _, _, err := Merge(old, revoked); err == nil || !strings.Contains(err.Error(), "fingerprint mismatch") {
		t.Errorf("merging different keys: err %v, want fingerprint mismatch", err)
	}
}

func TestStrengthPolicy(t *testing.T) {
	grandfather := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := StrengthPolicy{MinRSABits: 4096, GrandfatherBefore: grandfather}
	tests := []struct {
		name    string
		cert    *Cert
		wantErr string
	}{
		{"rsa 4096 accepted", &Cert{Algorithm: "RSA", Bits: 4096, Created: grandfather.AddDate(0, 1, 0)}, ""},
		{"new rsa 2048 refused", &Cert{Algorithm: "RSA", Bits: 2048, Created: grandfather.AddDate(0, 1, 0)}, "below the required 4096"},
		{"old rsa 2048 grandfathered", &Cert{Algorithm: "RSA", Bits: 2048, Created: grandfather.AddDate(-5, 0, 0)}, ""},
		{"old rsa 1024 refused", &Cert{Algorithm: "RSA", Bits: 1024, Created: grandfather.AddDate(-5, 0, 0)}, "below the 2048 bits allowed"},
		{"eddsa accepted", &Cert{Algorithm: "EdDSA", Curve: "Ed25519", Bits: 256}, ""},
		{"ecdsa p256 accepted", &Cert{Algorithm: "ECDSA", Curve: "P256", Bits: 256}, ""},
		{"ecdsa secp256k1 refused", &Cert{Algorithm: "ECDSA", Curve: "SecP256k1", Bits: 256}, "P-256 or stronger"},
		{"dsa refused", &Cert{Algorithm: "DSA", Bits: 1024}, "DSA"},
		{"weak signing subkey refused", &Cert{Algorithm: "EdDSA", Curve: "Ed25519", Subkeys: []Subkey{{Algorithm: "RSA", Bits: 1024, CanSign: true, Created: grandfather}}}, "signing subkey"},
		{"weak encryption subkey ignored", &Cert{Algorithm: "EdDSA", Curve: "Ed25519", Subkeys: []Subkey{{Algorithm: "ElGamal", Bits: 1024}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Check(tt.cert)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrWeakKey) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want ErrWeakKey containing %q", err, tt.wantErr)
			}
		})
	}
	// Real keys: the httpd DSA keys fail, tomcat's RSA-4096 keys pass.
	for _, c := range loadFixture(t, "keys/httpd.KEYS").Certs {
		if err := p.Check(c); err == nil {
			t.Errorf("httpd %s (%s-%d) passed the policy", c.Fingerprint, c.Algorithm, c.Bits)
		}
	}
	for _, c := range loadFixture(t, "keys/tomcat.KEYS").Certs {
		if err := p.Check(c); err != nil {
			t.Errorf("tomcat %s: %v", c.Fingerprint, err)
		}
	}
}
