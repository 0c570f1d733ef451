package signing

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

func baseTx() Transaction {
	return Transaction{
		User:           "alice",
		KeyFingerprint: "0123456789ABCDEF0123456789ABCDEF01234567",
		Project:        "widget",
		Version:        "1.2.0",
		Revision:       3,
		Files: []TxFile{
			{Path: "widget-1.2.0.tar.gz", Size: 1000, SHA512: strings.Repeat("ab", 64)},
			{Path: "widget-1.2.0-bin.zip", Size: 2000, SHA512: strings.Repeat("cd", 64)},
		},
	}
}

func TestCanonicalJSONIsFixed(t *testing.T) {
	got, err := CanonicalJSON(baseTx())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"format":1,"user":"alice","key":"0123456789ABCDEF0123456789ABCDEF01234567","project":"widget","version":"1.2.0","revision":3,"files":[` +
		`{"path":"widget-1.2.0-bin.zip","size":2000,"sha512":"` + strings.Repeat("cd", 64) + `"},` +
		`{"path":"widget-1.2.0.tar.gz","size":1000,"sha512":"` + strings.Repeat("ab", 64) + `"}]}`
	if string(got) != want {
		t.Fatalf("canonical JSON changed (that breaks pending approvals):\n got %s\nwant %s", got, want)
	}
	// No HTML escaping: "<" stays as is.
	tx := baseTx()
	tx.Files[0].Path = "a<b>&c"
	got, err = CanonicalJSON(tx)
	if err != nil || !bytes.Contains(got, []byte(`"a<b>&c"`)) {
		t.Fatalf("%s %v", got, err)
	}
}

func TestChallengeIsStableForTheSameTransaction(t *testing.T) {
	var nonce [32]byte
	nonce[0] = 9
	c1, err := Challenge(baseTx(), nonce)
	if err != nil {
		t.Fatal(err)
	}
	canon, _ := CanonicalJSON(baseTx())
	manual := sha256.Sum256(append(append([]byte("trel-sign-approval-v1\x00"), nonce[:]...), canon...))
	if c1 != manual {
		t.Fatal("challenge is not SHA-256(tag || nonce || canonical)")
	}
	cases := []struct {
		name string
		edit func(tx *Transaction)
	}{
		{"identical", func(tx *Transaction) {}},
		{"files in another order", func(tx *Transaction) { tx.Files[0], tx.Files[1] = tx.Files[1], tx.Files[0] }},
		{"digest in upper case", func(tx *Transaction) { tx.Files[0].SHA512 = strings.ToUpper(tx.Files[0].SHA512) }},
		{"fingerprint in lower case with spaces", func(tx *Transaction) {
			tx.KeyFingerprint = "0123 4567 89ab cdef 0123 4567 89ab cdef 0123 4567"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tx := baseTx()
			tc.edit(&tx)
			c2, err := Challenge(tx, nonce)
			if err != nil {
				t.Fatal(err)
			}
			if c2 != c1 {
				t.Fatal("the same transaction gave another challenge")
			}
			if err := VerifyChallenge(tx, nonce, c1[:]); err != nil {
				t.Fatalf("VerifyChallenge: %v", err)
			}
		})
	}
}

func TestChallengeChangesWithAnyField(t *testing.T) {
	var nonce [32]byte
	base, err := Challenge(baseTx(), nonce)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(tx *Transaction, n *[32]byte)
	}{
		{"one digest bit", func(tx *Transaction, _ *[32]byte) { tx.Files[1].SHA512 = "cc" + tx.Files[1].SHA512[2:] }},
		{"path", func(tx *Transaction, _ *[32]byte) { tx.Files[0].Path = "widget-1.2.0.tar.gz.evil" }},
		{"size", func(tx *Transaction, _ *[32]byte) { tx.Files[0].Size++ }},
		{"revision", func(tx *Transaction, _ *[32]byte) { tx.Revision++ }},
		{"user", func(tx *Transaction, _ *[32]byte) { tx.User = "mallory" }},
		{"key", func(tx *Transaction, _ *[32]byte) { tx.KeyFingerprint = "1123456789ABCDEF0123456789ABCDEF01234567" }},
		{"project", func(tx *Transaction, _ *[32]byte) { tx.Project = "gadget" }},
		{"version", func(tx *Transaction, _ *[32]byte) { tx.Version = "1.2.1" }},
		{"a file removed", func(tx *Transaction, _ *[32]byte) { tx.Files = tx.Files[:1] }},
		{"a file added", func(tx *Transaction, _ *[32]byte) {
			tx.Files = append(tx.Files, TxFile{Path: "extra", Size: 1, SHA512: strings.Repeat("00", 64)})
		}},
		{"digests swapped between files", func(tx *Transaction, _ *[32]byte) {
			tx.Files[0].SHA512, tx.Files[1].SHA512 = tx.Files[1].SHA512, tx.Files[0].SHA512
		}},
		{"nonce", func(_ *Transaction, n *[32]byte) { n[31] = 1 }},
		{"kind: a Sigstore bundle, not an OpenPGP signature", func(tx *Transaction, _ *[32]byte) {
			tx.Kind = KindSigstore
			for i := range tx.Files {
				tx.Files[i].SHA256 = strings.Repeat("ef", 32)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tx := baseTx()
			n := nonce
			tc.edit(&tx, &n)
			c, err := Challenge(tx, n)
			if err != nil {
				t.Fatal(err)
			}
			if c == base {
				t.Fatal("a changed transaction gave the same challenge")
			}
			if err := VerifyChallenge(tx, n, base[:]); !errors.Is(err, ErrChallengeMismatch) {
				t.Fatalf("VerifyChallenge of the original approval: %v, want ErrChallengeMismatch", err)
			}
		})
	}
	if err := VerifyChallenge(baseTx(), nonce, base[:31]); !errors.Is(err, ErrChallengeMismatch) {
		t.Fatalf("a truncated challenge: %v", err)
	}
}

func TestCanonicalJSONRefusesAmbiguousTransactions(t *testing.T) {
	cases := []struct {
		name string
		edit func(tx *Transaction)
		want string
	}{
		{"invalid UTF-8 path", func(tx *Transaction) { tx.Files[0].Path = "a\xff" }, "UTF-8"},
		{"invalid UTF-8 user", func(tx *Transaction) { tx.User = "\xfe" }, "UTF-8"},
		{"duplicate path", func(tx *Transaction) { tx.Files[1].Path = tx.Files[0].Path }, "listed twice"},
		{"short digest", func(tx *Transaction) { tx.Files[0].SHA512 = "abcd" }, "128 hex"},
		{"SHA-256 digest", func(tx *Transaction) { tx.Files[0].SHA512 = strings.Repeat("ab", 32) }, "128 hex"},
		{"non-hex digest", func(tx *Transaction) { tx.Files[0].SHA512 = strings.Repeat("zz", 64) }, "128 hex"},
		{"negative size", func(tx *Transaction) { tx.Files[0].Size = -1 }, "negative size"},
		{"no files", func(tx *Transaction) { tx.Files = nil }, "no files"},
		{"revision zero", func(tx *Transaction) { tx.Revision = 0 }, "revision 0"},
		{"empty user", func(tx *Transaction) { tx.User = "" }, "empty user"},
		{"empty path", func(tx *Transaction) { tx.Files[0].Path = "" }, "empty path"},
		{"bad fingerprint", func(tx *Transaction) { tx.KeyFingerprint = "ABCD" }, "40 hex"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tx := baseTx()
			tc.edit(&tx)
			if _, err := CanonicalJSON(tx); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CanonicalJSON: %v, want an error containing %q", err, tc.want)
			}
			if err := VerifyChallenge(tx, [32]byte{}, make([]byte, 32)); err == nil {
				t.Fatal("VerifyChallenge accepted an invalid transaction")
			}
		})
	}
}

func TestCanonicalJSONDoesNotReorderTheCallersFiles(t *testing.T) {
	tx := baseTx()
	first := tx.Files[0].Path
	if _, err := CanonicalJSON(tx); err != nil {
		t.Fatal(err)
	}
	if tx.Files[0].Path != first {
		t.Fatal("CanonicalJSON sorted the caller's slice")
	}
	d1, err := TransactionDigest(tx)
	if err != nil || len(d1) != 64 {
		t.Fatalf("TransactionDigest: %q %v", d1, err)
	}
	tx.Revision++
	if d2, _ := TransactionDigest(tx); d2 == d1 {
		t.Fatal("TransactionDigest ignores the revision")
	}
}
