package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"trel/internal/sigstore"
)

func sigstoreCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "sigstore",
		Short: "Sigstore bundle tools (sigstore-conformance client protocol)",
	}
	c.AddCommand(sigstoreVerifyBundleCmd(e), sigstoreSignBundleCmd(e), sigstoreIdentityCmd(e), sigstoreKeyCmd(e), sigstoreUpdateRootCmd(e))
	return c
}

// sigstoreVerifyBundleCmd speaks the sigstore-conformance protocol: exit 0
// only when the bundle is valid and signed by the given identity or key.
func sigstoreVerifyBundleCmd(e *env) *cobra.Command {
	var opts sigstore.ConformanceOptions
	c := &cobra.Command{
		Use:   "verify-bundle --bundle FILE (--certificate-identity I --certificate-oidc-issuer U | --key K) [--trusted-root FILE] [--staging] FILE_OR_DIGEST",
		Short: "Verify a Sigstore bundle for a file or a sha256:HEX digest (conformance protocol)",
		Long: `Verify a Sigstore bundle offline, as the sigstore-conformance suite expects:
exit 0 when the bundle is valid for the artifact and signed by exactly the
given certificate identity and OIDC issuer (or by the PEM public key --key),
non-zero otherwise.

The artifact is a file, or "sha256:" followed by 64 hex digits. The trusted
root is --trusted-root FILE, else the embedded staging root with --staging,
else the embedded public-good root. For downloaders, "trel verify" does the
same and also checks OpenPGP signatures and checksum files.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, a []string) error {
			opts.Artifact = a[0]
			if err := checkConformanceFlags(opts); err != nil {
				return usageError{err}
			}
			if opts.TrustedRoot == "" {
				opts.TrustedRoot = refreshedRoot(opts.Staging)
			}
			if err := sigstore.VerifyBundleConformance(opts); err != nil {
				return fmt.Errorf("bundle not verified: %w", err)
			}
			fmt.Fprintln(e.stdout, "OK: the bundle is valid and signed by the expected signer")
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&opts.Bundle, "bundle", "", "Sigstore bundle file (required)")
	f.StringVar(&opts.CertificateIdentity, "certificate-identity", "", "expected certificate identity (exact)")
	f.StringVar(&opts.CertificateOIDCIssuer, "certificate-oidc-issuer", "", "expected OIDC issuer (exact)")
	f.StringVar(&opts.Key, "key", "", "PEM public key of a key-based bundle")
	f.StringVar(&opts.TrustedRoot, "trusted-root", "", "trusted_root.json to verify against")
	f.BoolVar(&opts.Staging, "staging", false, "use the embedded Sigstore staging trusted root")
	return c
}

// checkConformanceFlags reports command-line mistakes before anything is
// read, so that they exit 2 rather than 1.
func checkConformanceFlags(o sigstore.ConformanceOptions) error {
	withIdentity := o.CertificateIdentity != "" || o.CertificateOIDCIssuer != ""
	switch {
	case o.Bundle == "":
		return errors.New("--bundle is required")
	case withIdentity && o.Key != "":
		return errors.New("give either --certificate-identity/--certificate-oidc-issuer or --key, not both")
	case !withIdentity && o.Key == "":
		return errors.New("one of --certificate-identity with --certificate-oidc-issuer, or --key, is required")
	case withIdentity && (o.CertificateIdentity == "" || o.CertificateOIDCIssuer == ""):
		return errors.New("--certificate-identity and --certificate-oidc-issuer go together")
	}
	return nil
}

// sigstoreSignBundleCmd speaks the sigstore-conformance protocol's
// signing side: one keyless bundle written to --bundle.
func sigstoreSignBundleCmd(e *env) *cobra.Command {
	var f sigstoreFlags
	var inToto bool
	var bundle string
	c := &cobra.Command{
		Use:   "sign-bundle [--staging] [--in-toto] --identity-token TOKEN --bundle FILE [--trusted-root FILE] [--signing-config FILE] FILE",
		Short: "Sign a file (or, with --in-toto, an in-toto statement) keylessly into a Sigstore bundle (conformance protocol)",
		Long: `Sign keylessly, as the sigstore-conformance suite expects: the identity token
gets a Fulcio certificate, the signature is logged and timestamped as the signing
configuration says, and the bundle (v0.3) is verified against the trusted root, then
written to --bundle (never over an existing file). With --in-toto, FILE is an in-toto
statement signed as a DSSE envelope. For release managers, "trel sign --sigstore" does
the same for many files and can upload them.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, a []string) error {
			if bundle == "" {
				return usageError{errors.New("--bundle is required")}
			}
			if f.identityToken == "" {
				return usageError{errors.New("--identity-token is required")}
			}
			if _, err := os.Lstat(bundle); err == nil {
				return usageError{fmt.Errorf("%s already exists; trel never overwrites a signature", bundle)}
			}
			in, err := f.instance()
			if err != nil {
				return err
			}
			token, err := e.getIdentityToken(c.Context(), in, f.identityToken, "")
			if err != nil {
				return err
			}
			s, err := in.NewSigner(c.Context(), sigstore.SignerOptions{IdentityToken: token})
			if err != nil {
				return err
			}
			var signed *sigstore.Signed
			if inToto {
				st, err := readBoundedFile(a[0], sigstore.MaxStatementSize)
				if err != nil {
					return err
				}
				signed, err = s.SignStatement(c.Context(), st)
				if err != nil {
					return err
				}
			} else {
				art, err := sigstore.DigestFile(a[0])
				if err != nil {
					return err
				}
				if signed, err = s.SignDigest(c.Context(), art.SHA256); err != nil {
					return err
				}
			}
			if err := writeNew(bundle, signed.JSON); err != nil {
				return err
			}
			sf := signedFile{File: a[0], Bundle: bundle, Identity: signed.Result.Identity, Issuer: signed.Result.Issuer,
				LogIndex: signed.Result.LogIndex, SignedAt: signed.Result.SignedAt, TimeSource: signed.Result.TimeSource}
			return e.out(sf, func() { fmt.Fprintln(e.stdout, sf.summary()) })
		},
	}
	fl := c.Flags()
	fl.BoolVar(&f.staging, "staging", false, "use Sigstore's staging instance")
	fl.BoolVar(&inToto, "in-toto", false, "FILE is an in-toto statement: sign it as a DSSE envelope")
	fl.StringVar(&f.identityToken, "identity-token", "", "the OIDC identity token (or @FILE, or - for standard input)")
	fl.StringVar(&bundle, "bundle", "", "where to write the bundle (required; never overwritten)")
	fl.StringVar(&f.trustedRoot, "trusted-root", "", "trusted_root.json to verify the bundle against")
	fl.StringVar(&f.signingConfig, "signing-config", "", "signing_config v0.2 JSON naming the services to use")
	return c
}

// readBoundedFile reads a small file whole, refusing one over limit.
func readBoundedFile(name string, limit int64) ([]byte, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", name, err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than the %d bytes allowed", name, limit)
	}
	return data, nil
}
