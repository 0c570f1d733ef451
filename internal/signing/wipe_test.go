package signing

import (
	"bytes"
	"crypto/rsa"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/eddsa"
)

func TestWipeEntityZeroesParsedKeyMaterial(t *testing.T) {
	for _, g := range []*Generated{newEdDSA(t), sharedRSA(t)} {
		e, err := readSecret(g.Secret)
		if err != nil {
			t.Fatal(err)
		}
		wipeEntity(e)
		switch k := e.PrivateKey.PrivateKey.(type) {
		case *eddsa.PrivateKey:
			if len(k.D) == 0 || !bytes.Equal(k.D, make([]byte, len(k.D))) {
				t.Fatalf("EdDSA scalar not zeroed: %x", k.D)
			}
		case *rsa.PrivateKey:
			if k.D.Sign() != 0 || k.Primes[0].Sign() != 0 || k.Primes[1].Sign() != 0 {
				t.Fatal("RSA private exponent or primes not zeroed")
			}
		default:
			t.Fatalf("unexpected key type %T", k)
		}
	}
}
