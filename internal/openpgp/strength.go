package openpgp

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// StrengthPolicy decides which key algorithms and sizes trel accepts.
// RSA keys need MinRSABits (4096 when zero); keys created before
// GrandfatherBefore may be RSA down to 2048 bits. EdDSA/Ed25519/Ed448 and
// ECDSA on P-256 or stronger curves are accepted; DSA, ElGamal and other
// algorithms are refused.
type StrengthPolicy struct {
	MinRSABits        int
	GrandfatherBefore time.Time
}

// ErrWeakKey is matched (errors.Is) by StrengthPolicy.Check errors.
var ErrWeakKey = errors.New("key too weak")

const grandfatheredRSABits = 2048

// Check returns an error (errors.Is ErrWeakKey) naming every weak part of c:
// the primary key and any signing-capable subkey.
func (p StrengthPolicy) Check(c *Cert) error {
	var problems []string
	if err := p.checkKey(c.Algorithm, c.Bits, c.Curve, c.Created); err != nil {
		problems = append(problems, "primary key "+c.Fingerprint+": "+err.Error())
	}
	for _, s := range c.Subkeys {
		if !s.CanSign {
			continue // encryption subkeys never sign releases
		}
		if err := p.checkKey(s.Algorithm, s.Bits, s.Curve, s.Created); err != nil {
			problems = append(problems, "signing subkey "+s.Fingerprint+": "+err.Error())
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrWeakKey, strings.Join(problems, "; "))
	}
	return nil
}

// checkKey judges one key; the reason says what the owner should use instead.
func (p StrengthPolicy) checkKey(alg string, bits int, curve string, created time.Time) error {
	min := p.MinRSABits
	if min <= 0 {
		min = 4096
	}
	switch alg {
	case "RSA":
		if bits >= min {
			return nil
		}
		if !p.GrandfatherBefore.IsZero() && created.Before(p.GrandfatherBefore) && bits >= grandfatheredRSABits {
			return nil
		}
		if !p.GrandfatherBefore.IsZero() && created.Before(p.GrandfatherBefore) {
			return fmt.Errorf("RSA %d bits is below the %d bits allowed for keys created before %s; create an RSA-%d or Ed25519 key", bits, grandfatheredRSABits, p.GrandfatherBefore.Format("2006-01-02"), min)
		}
		return fmt.Errorf("RSA %d bits is below the required %d bits; create an RSA-%d or Ed25519 key", bits, min, min)
	case "EdDSA", "Ed25519", "Ed448":
		return nil
	case "ECDSA":
		switch curve {
		case "P256", "P384", "P521", "BrainpoolP256", "BrainpoolP384", "BrainpoolP512":
			return nil
		}
		return fmt.Errorf("ECDSA on curve %q is not accepted; use P-256 or stronger, or Ed25519", curve)
	case "DSA":
		return fmt.Errorf("DSA (%d bits) is no longer accepted; create an RSA-%d or Ed25519 key", bits, min)
	case "ElGamal":
		return errors.New("ElGamal cannot be used for signing")
	}
	return fmt.Errorf("%s keys are not accepted; create an RSA-%d or Ed25519 key", alg, min)
}
