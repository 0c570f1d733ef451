package sigstore

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Verdict combines both stages: the cryptographic Result and the trust
// decision. Trusted is true only for a valid bundle signed by a registered
// key or by one of the trusted identities.
type Verdict struct {
	Result      *Result   `json:"result"`
	Trusted     bool      `json:"trusted"`
	Matched     *Identity `json:"matched,omitempty"`
	Explanation string    `json:"explanation"`
}

// Check runs Verify and then MatchIdentity. Key-based bundles are trusted
// when they verify against one of keys; certificate-based bundles when
// their signer matches one of ids.
func (v *Verifier) Check(b *Bundle, a Artifact, ids []Identity, keys []PublicKey) (*Verdict, error) {
	r, err := v.Verify(b, a, keys)
	if err != nil {
		return nil, err
	}
	switch {
	case !r.Valid:
		return &Verdict{Result: r, Explanation: "the bundle is not valid: " + r.Reason}, nil
	case r.KeyBased():
		return &Verdict{Result: r, Trusted: true,
			Explanation: fmt.Sprintf("signed with the registered key %q (%s)", r.KeyName, r.KeyFingerprint)}, nil
	}
	matched, why := MatchIdentity(r, ids)
	return &Verdict{Result: r, Trusted: matched != nil, Matched: matched, Explanation: why}, nil
}

// DigestReader computes the SHA-256 and SHA-512 digests of a stream in one
// pass, without holding it in memory.
func DigestReader(r io.Reader) (Artifact, error) {
	h256, h512 := sha256.New(), sha512.New()
	if _, err := io.Copy(io.MultiWriter(h256, h512), r); err != nil {
		return Artifact{}, fmt.Errorf("reading artifact: %w", err)
	}
	return Artifact{SHA256: h256.Sum(nil), SHA512: h512.Sum(nil)}, nil
}

// DigestFile streams a file through DigestReader.
func DigestFile(path string) (Artifact, error) {
	f, err := os.Open(path)
	if err != nil {
		return Artifact{}, fmt.Errorf("opening artifact: %w", err)
	}
	defer f.Close()
	return DigestReader(f)
}

// VerifyFile is for downloaders: it digests the file at path by streaming,
// loads the bundle at bundlePath and runs Check. A bundle that does not
// load is an untrusted verdict (code ReasonBundleInvalid), not an
// error; errors are I/O failures and bugs.
func (v *Verifier) VerifyFile(path, bundlePath string, ids []Identity, keys []PublicKey) (*Verdict, error) {
	a, err := DigestFile(path)
	if err != nil {
		return nil, err
	}
	b, err := LoadBundleFile(bundlePath)
	if err != nil {
		if errors.Is(err, ErrInvalidBundle) {
			r := invalid(ReasonBundleInvalid, err.Error(), err)
			return &Verdict{Result: r, Explanation: "the bundle is not valid: " + r.Reason}, nil
		}
		return nil, err
	}
	return v.Check(b, a, ids, keys)
}

// ParseArtifactArg interprets a conformance-style artifact argument:
// "sha256:" followed by 64 hex digits is a digest, anything else a path.
func ParseArtifactArg(s string) (digest []byte, path string, err error) {
	hexDigest, ok := strings.CutPrefix(s, "sha256:")
	if !ok {
		if s == "" {
			return nil, "", errors.New("no artifact given")
		}
		return nil, s, nil
	}
	if len(hexDigest) != 64 {
		return nil, "", fmt.Errorf("sha256 digest must be 64 hex digits, got %d characters", len(hexDigest))
	}
	digest, err = hex.DecodeString(hexDigest)
	if err != nil {
		return nil, "", fmt.Errorf("sha256 digest is not hex: %w", err)
	}
	return digest, "", nil
}

// ConformanceOptions mirrors the sigstore-conformance CLI:
//
//	verify-bundle [--staging] --bundle FILE
//	  (--certificate-identity I --certificate-oidc-issuer U | --key K)
//	  [--trusted-root FILE] FILE_OR_DIGEST
type ConformanceOptions struct {
	Bundle                string // --bundle
	CertificateIdentity   string // --certificate-identity (exact SAN)
	CertificateOIDCIssuer string // --certificate-oidc-issuer
	Key                   string // --key: PEM public key file
	TrustedRoot           string // --trusted-root: overrides the embedded roots
	Staging               bool   // --staging: embedded staging root
	Artifact              string // FILE or sha256:HEX
}

// VerifyBundleConformance implements verify-bundle: nil means the bundle
// verified and is trusted (exit 0); any error means it did not (non-zero).
func VerifyBundleConformance(opts ConformanceOptions) error {
	withIdentity := opts.CertificateIdentity != "" || opts.CertificateOIDCIssuer != ""
	switch {
	case opts.Bundle == "":
		return errors.New("--bundle is required")
	case withIdentity && opts.Key != "":
		return errors.New("give either --certificate-identity/--certificate-oidc-issuer or --key, not both")
	case !withIdentity && opts.Key == "":
		return errors.New("one of --certificate-identity/--certificate-oidc-issuer or --key is required")
	case withIdentity && (opts.CertificateIdentity == "" || opts.CertificateOIDCIssuer == ""):
		return errors.New("--certificate-identity and --certificate-oidc-issuer go together")
	}

	var rootsToTrust NamedRoot
	var err error
	switch {
	case opts.TrustedRoot != "":
		rootsToTrust, err = LoadTrustedRootFile("trusted-root", opts.TrustedRoot)
		if err != nil {
			return err
		}
	case opts.Staging:
		rootsToTrust = StagingRoot()
	default:
		rootsToTrust = PublicGoodRoot()
	}
	v, err := NewVerifier(rootsToTrust)
	if err != nil {
		return err
	}

	var ids []Identity
	var keys []PublicKey
	if opts.Key != "" {
		data, err := readBounded(opts.Key, MaxTrustedRootSize)
		if err != nil {
			return fmt.Errorf("reading --key: %w", err)
		}
		k, err := ParsePublicKeyPEM(opts.Key, data)
		if err != nil {
			return fmt.Errorf("--key: %w", err)
		}
		keys = append(keys, k)
	} else {
		id := Identity{Issuer: opts.CertificateOIDCIssuer, Subject: opts.CertificateIdentity}
		if err := id.Validate(); err != nil {
			return err
		}
		ids = append(ids, id)
	}

	digest, path, err := ParseArtifactArg(opts.Artifact)
	if err != nil {
		return err
	}
	a := Artifact{SHA256: digest}
	if path != "" {
		if a, err = DigestFile(path); err != nil {
			return err
		}
	}
	b, err := LoadBundleFile(opts.Bundle)
	if err != nil {
		return err
	}
	verdict, err := v.Check(b, a, ids, keys)
	if err != nil {
		return err
	}
	if opts.Key != "" && !verdict.Result.KeyBased() && verdict.Result.Valid {
		return errors.New("the bundle is signed with a certificate, not with the given key")
	}
	if !verdict.Trusted {
		return errors.New(verdict.Explanation)
	}
	return nil
}
