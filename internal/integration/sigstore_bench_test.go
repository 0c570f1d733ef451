package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"testing"

	"trel/internal/sigstore"
)

// BenchmarkSigstoreSign measures signing against the private instance on
// loopback: a Fulcio certificate (once per `trel sign` run), a keyless
// bundle (signature, TSA timestamp, Rekor v2 entry with its inclusion
// proof, verification) and a key-based bundle (signature, TSA timestamp,
// verification), as keys held by trel make them.
//
//	go test -run '^$' -bench BenchmarkSigstoreSign -benchtime 10x ./internal/integration
func BenchmarkSigstoreSign(b *testing.B) {
	inst := privateSigstore(b)
	in, err := sigstore.LoadInstance(sigstore.InstanceOptions{SigningConfig: inst.SigningConfigPath, TrustedRoot: inst.TrustedRootPath})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("certificate", func(b *testing.B) {
		for b.Loop() {
			if _, err := in.NewSigner(ctx, sigstore.SignerOptions{IdentityToken: inst.OIDC.EmailToken("bench@example.org")}); err != nil {
				b.Fatal(err)
			}
		}
	})
	keyless, err := in.NewSigner(ctx, sigstore.SignerOptions{IdentityToken: inst.OIDC.EmailToken("bench@example.org")})
	if err != nil {
		b.Fatal(err)
	}
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyBased, err := in.NewSigner(ctx, sigstore.SignerOptions{Key: priv})
	if err != nil {
		b.Fatal(err)
	}
	for name, s := range map[string]*sigstore.Signer{"keyless-bundle": keyless, "key-based-bundle": keyBased} {
		b.Run(name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				d := sha256.Sum256([]byte(fmt.Sprint(name, i)))
				if _, err := s.SignDigest(ctx, d[:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
