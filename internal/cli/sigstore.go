package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"trel/internal/sigstore"
)

func sigstoreCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "sigstore",
		Short: "Sigstore bundle tools (sigstore-conformance client protocol)",
	}
	c.AddCommand(sigstoreVerifyBundleCmd(e), sigstoreSignBundleCmd(e), sigstoreIdentityCmd(e), sigstoreKeyCmd(e))
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

// sigstoreSignBundleCmd answers the conformance suite's signing request:
// trel verifies Sigstore bundles but never makes them.
func sigstoreSignBundleCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:                "sign-bundle",
		Short:              "Not supported: trel does not sign Sigstore bundles",
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, a []string) error {
			return errors.New("unsupported: trel does not sign Sigstore bundles")
		},
	}
}
