package openpgp

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	pgpv1 "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func BenchmarkLoadKeys(b *testing.B) {
	for _, file := range []string{"keys/httpd.KEYS", "keys/ant.KEYS", "keys/kafka.KEYS", "keys/tomcat.KEYS", "scenarios/bench-KEYS.asc", "scenarios/concat12.asc"} {
		data := readFixture(b, file)
		b.Run(filepath.Base(file), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := LoadKeys(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// bigSigned writes a 64 MiB random file, signs it with a fresh Ed25519 key
// using hash h, and returns the file path, the signature and the key.
func bigSigned(b *testing.B, h crypto.Hash) (string, []byte, []*Cert) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "artifact.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, 64<<20); err != nil {
		b.Fatal(err)
	}
	f.Close()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, DefaultHash: h, Time: func() time.Time { return time.Now().Add(-time.Hour) }}
	e, err := pgpv1.NewEntity("Bench", "", "bench@example.org", cfg)
	if err != nil {
		b.Fatal(err)
	}
	in, _ := os.Open(path)
	defer in.Close()
	var sig bytes.Buffer
	if err := pgpv1.ArmoredDetachSign(&sig, e, in, &packet.Config{DefaultHash: h}); err != nil {
		b.Fatal(err)
	}
	var pub bytes.Buffer
	e.Serialize(&pub)
	res, err := LoadKeys(&pub)
	if err != nil || len(res.Certs) != 1 {
		b.Fatalf("load bench key: %v", err)
	}
	return path, sig.Bytes(), res.Certs
}

func benchVerify(b *testing.B, fromState bool) {
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA512} {
		path, sig, keys := bigSigned(b, h)
		in, _ := os.Open(path)
		state, err := SaveHashStates(in)
		in.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(hashName(h), func(b *testing.B) {
			var src HashSource = ReaderSource{Open: func() (io.ReadCloser, error) { return os.Open(path) }}
			if fromState {
				src = state
			} else {
				b.SetBytes(64 << 20)
			}
			for b.Loop() {
				if res := VerifyDetached(sig, keys, src, VerifyOptions{}); !res.Valid {
					b.Fatal(res.Reason)
				}
			}
		})
	}
}

// BenchmarkVerifyFromState finishes the saved hash state: no byte is read.
func BenchmarkVerifyFromState(b *testing.B) { benchVerify(b, true) }

// BenchmarkVerifyReading streams the 64 MiB file from disk for each verification.
func BenchmarkVerifyReading(b *testing.B) { benchVerify(b, false) }
