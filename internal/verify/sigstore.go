package verify

import (
	"errors"
	"fmt"

	"trel/internal/openpgp"
	"trel/internal/sigstore"
)

// loadSigstoreKey reads the PEM public key of a key-based bundle. Private
// key material is refused with the openpgp package's error, which covers
// PEM private keys too.
func loadSigstoreKey(p string) (sigstore.PublicKey, error) {
	data, err := readBounded(p, maxKeyFileSize)
	if err != nil {
		return sigstore.PublicKey{}, fmt.Errorf("--key: %w", err)
	}
	if err := openpgp.DetectPrivateKey(data); err != nil {
		return sigstore.PublicKey{}, fmt.Errorf("--key %s: %w", p, err)
	}
	k, err := sigstore.ParsePublicKeyPEM(base(p), data)
	if err != nil {
		return sigstore.PublicKey{}, fmt.Errorf("%w: --key %s is used as the PEM public key of the Sigstore bundle (no --certificate-identity given): %w", ErrUsage, p, err)
	}
	return k, nil
}

// checkSigstore verifies the bundle against the artifact's digests and the
// expected identity or key.
func checkSigstore(opts Options, bundleFile string, key *sigstore.PublicKey, d *digests) (Verification, error) {
	v := Verification{Kind: KindSigstore, File: bundleFile}
	root := sigstore.PublicGoodRoot()
	if opts.TrustedRoot != "" {
		var err error
		root, err = sigstore.LoadTrustedRootFile(base(opts.TrustedRoot), opts.TrustedRoot)
		if err != nil {
			return v, fmt.Errorf("--trusted-root: %w", err)
		}
	}
	verifier, err := sigstore.NewVerifier(root)
	if err != nil {
		return v, fmt.Errorf("sigstore: %w", err)
	}

	b, err := sigstore.LoadBundleFile(bundleFile)
	if errors.Is(err, sigstore.ErrInvalidBundle) {
		v.Code = string(sigstore.ReasonBundleInvalid)
		v.Message = err.Error()
		return v, nil
	}
	if err != nil {
		return v, fmt.Errorf("bundle: %w", err)
	}

	var keys []sigstore.PublicKey
	if key != nil {
		keys = append(keys, *key)
	}
	res, err := verifier.Verify(b, sigstore.Artifact{SHA256: d.sha256, SHA512: d.sha512}, keys)
	if err != nil {
		return v, fmt.Errorf("sigstore: %w", err)
	}
	if !res.Valid {
		v.Code = string(res.ReasonCode)
		v.Message = "the bundle is not valid: " + res.Reason
		if key != nil && res.ReasonCode == sigstore.ReasonNoLogEntry {
			v.Message += "; bundles made by keys trel holds are recorded in trel's public log instead of Rekor: check one with `trel log verify BUNDLE --server URL`"
		}
		return v, nil
	}
	v.Details = &Details{
		Identity:       res.Identity,
		Issuer:         res.Issuer,
		KeyFingerprint: res.KeyFingerprint,
		TrustedRoot:    res.RootName,
		LogIndex:       res.LogIndex,
		TimeSource:     res.TimeSource,
		SignatureTime:  res.SignedAt,
	}

	when := ""
	if !res.SignedAt.IsZero() {
		when = ", at " + res.SignedAt.UTC().Format("2006-01-02 15:04:05 MST")
	}
	switch {
	case key != nil && !res.KeyBased():
		v.Code = "certificate-not-key"
		v.Message = fmt.Sprintf("the bundle is signed with a certificate for %s (issuer %s), not with the key %s; pass --certificate-identity and --certificate-oidc-issuer instead of --key", res.Identity, res.Issuer, base(opts.Key))
	case key != nil:
		v.OK = true
		v.Message = fmt.Sprintf("good Sigstore signature by the key %s (%s), logged in the transparency log (entry %d)%s", base(opts.Key), res.KeyFingerprint, res.LogIndex, when)
	case res.KeyBased():
		v.Code = string(sigstore.ReasonKeyNotRegistered)
		v.Message = "the bundle is signed with a public key, not a certificate identity; pass that key with --key"
	case !identityMatches(opts, res.Identity) || res.Issuer != opts.CertificateOIDCIssuer:
		v.Code = "identity-mismatch"
		expected := opts.CertificateIdentity
		if opts.CertificateIdentityRegexp != "" {
			expected = "identity matching " + opts.CertificateIdentityRegexp
		}
		v.Message = fmt.Sprintf("the bundle is valid but signed by %s (issuer %s), not by the expected %s (issuer %s): it is not from the signer the project names; do not use the file", res.Identity, res.Issuer, expected, opts.CertificateOIDCIssuer)
	default:
		v.OK = true
		v.Message = fmt.Sprintf("good Sigstore signature by %s (issuer %s), logged in the transparency log (entry %d)%s", res.Identity, res.Issuer, res.LogIndex, when)
	}
	return v, nil
}

// identityMatches compares a certificate's identity with the exact one
// expected, or with the anchored regular expression.
func identityMatches(opts Options, identity string) bool {
	if opts.CertificateIdentityRegexp == "" {
		return identity == opts.CertificateIdentity
	}
	re, err := opts.identityPattern()
	return err == nil && re.MatchString(identity)
}
