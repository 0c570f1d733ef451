package signing

import (
	"crypto/rsa"
	"math/big"

	pgp "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/eddsa"
)

// Wipe zeroes b. Use it on the secret Open returns and on passwords once
// they are no longer needed. See the package documentation for what Go
// cannot wipe.
func Wipe(b []byte) {
	clear(b)
}

// wipeEntity zeroes the parsed secret key material of e's primary key.
func wipeEntity(e *pgp.Entity) {
	if e == nil || e.PrivateKey == nil {
		return
	}
	switch k := e.PrivateKey.PrivateKey.(type) {
	case *eddsa.PrivateKey:
		clear(k.D)
	case *rsa.PrivateKey:
		wipeInt(k.D)
		for _, p := range k.Primes {
			wipeInt(p)
		}
		wipeInt(k.Precomputed.Dp)
		wipeInt(k.Precomputed.Dq)
		wipeInt(k.Precomputed.Qinv)
	}
}

func wipeInt(n *big.Int) {
	if n == nil {
		return
	}
	clear(n.Bits())
	n.SetInt64(0)
}
