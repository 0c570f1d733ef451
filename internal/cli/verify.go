package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"trel/internal/checks"
	"trel/internal/domain"
	"trel/internal/verify"
)

// reportedError ends a command whose outcome is already printed: only
// its exit code is left to give.
type reportedError struct{ code int }

func (reportedError) Error() string { return "" }

func verifyCmd(e *env) *cobra.Command {
	var opts verify.Options
	var arch struct {
		on, incubating              bool
		version, license, repo, tag string
		allowed                     []string
	}
	c := &cobra.Command{
		Use:   "verify ARTIFACT",
		Short: "Verify a downloaded release artifact offline (OpenPGP, checksum, Sigstore)",
		Long: `Verify a downloaded artifact without any server.

The artifact is read once. It is checked against:
  - an OpenPGP detached signature: --signature, default ARTIFACT.asc,
    with the project's KEYS file (--keys KEYS) or one public key (--key FILE);
  - checksum files: --checksum, default ARTIFACT.sha512 and ARTIFACT.sha256;
  - a Sigstore bundle: --bundle, default ARTIFACT.sigstore, .sigstore.json or
    .bundle (looked up only when --certificate-identity is given), signed by
    the exact --certificate-identity and --certificate-oidc-issuer, against
    the embedded public-good trusted root or --trusted-root FILE.

--key is an OpenPGP public key file for the .asc signature, EXCEPT when
--bundle is given without --certificate-identity: then --key is the PEM public
key ("-----BEGIN PUBLIC KEY-----") of a key-based Sigstore bundle.
--certificate-identity-regexp replaces --certificate-identity with a regular
expression, as in cosign, but anchored: it must match the whole identity.

The verdict is VERIFIED (exit 0) only when every check that ran passed and at
least one signature (OpenPGP or Sigstore) verified; otherwise NOT VERIFIED
(exit 1). Wrong options exit 2. --json prints the full report.`,
		Example: `  trel verify apache-foo-1.0.tar.gz --keys KEYS
  trel verify foo-1.0.tgz --bundle foo-1.0.tgz.sigstore.json \
      --certificate-identity https://github.com/org/foo/.github/workflows/release.yml@refs/tags/v1.0 \
      --certificate-oidc-issuer https://token.actions.githubusercontent.com
  trel verify foo.bin --bundle foo.bin.bundle --key cosign.pub`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, a []string) error {
			opts.Artifact = a[0]
			if opts.TrustedRoot == "" {
				opts.TrustedRoot = refreshedRoot(false)
			}
			archiveBlockers := 0
			if arch.on {
				pol := domain.DefaultPolicy()
				if arch.license != "" {
					pol.Archive.License = arch.license
				}
				if arch.allowed != nil {
					pol.Archive.AllowedLicenses = arch.allowed
				}
				pol.Archive.SourceRepo, pol.Archive.SourceTag = arch.repo, arch.tag
				if arch.repo != "" && (arch.tag == "" || arch.version == "") {
					return usageError{errors.New("--source-repo needs --source-tag (e.g. v{version}) and --version")}
				}
				rs, err := checks.LocalArchive(c.Context(), a[0], arch.version, pol, arch.incubating)
				if err != nil {
					return err
				}
				for _, r := range rs {
					if r.Status == domain.StatusBlocker || r.Status == domain.StatusException {
						archiveBlockers++
					}
				}
				if e.json {
					if err := e.out(rs, nil); err != nil {
						return err
					}
				} else {
					domain.SortCheckResults(rs)
					for _, r := range rs {
						fmt.Fprintf(e.stdout, "%-10s %-11s %s\n", r.Status, r.Checker, r.Message)
					}
				}
			}
			rep, err := verify.Verify(opts)
			if errors.Is(err, verify.ErrUsage) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			if err := e.out(rep, func() { printVerifyReport(e, rep, archiveBlockers) }); err != nil {
				return err
			}
			// The verdict is printed once, above: the exit code says the rest.
			if !rep.OK || archiveBlockers > 0 {
				return reportedError{code: exitError}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&opts.Signature, "signature", "", "OpenPGP detached signature (default ARTIFACT.asc if present)")
	f.StringVar(&opts.Keys, "keys", "", "KEYS file with the project's OpenPGP public keys")
	f.StringVar(&opts.Key, "key", "", "one OpenPGP public key file; with --bundle and no --certificate-identity: the bundle's PEM public key")
	f.StringVar(&opts.Checksum, "checksum", "", "checksum file (default ARTIFACT.sha512 and ARTIFACT.sha256 if present)")
	f.StringVar(&opts.Bundle, "bundle", "", "Sigstore bundle (default ARTIFACT.sigstore, .sigstore.json or .bundle if present, with --certificate-identity)")
	f.StringVar(&opts.CertificateIdentity, "certificate-identity", "", "expected signer of the Sigstore bundle (exact subject: email or workflow URI)")
	f.StringVar(&opts.CertificateIdentityRegexp, "certificate-identity-regexp", "", "expected signer as a regular expression, matched against the whole identity (e.g. 'https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v.*')")
	f.StringVar(&opts.CertificateOIDCIssuer, "certificate-oidc-issuer", "", "expected OIDC issuer of the Sigstore bundle (exact)")
	f.StringVar(&opts.TrustedRoot, "trusted-root", "", "Sigstore trusted_root.json (default: the embedded public-good root)")
	f.BoolVar(&arch.on, "archive", false, "also run the archive and licence checks (integrity, structure, LICENSE/NOTICE, headers, third-party licences)")
	f.StringVar(&arch.license, "license", "", "with --archive: the project licence, an SPDX id (default Apache-2.0)")
	f.StringSliceVar(&arch.allowed, "allowed-licenses", nil, "with --archive: SPDX ids allowed for third-party code (default: ASF category A)")
	f.StringVar(&arch.repo, "source-repo", "", "with --archive: git URL or local path of the project's repository, to compare with the tag")
	f.StringVar(&arch.tag, "source-tag", "", "with --source-repo: tag pattern, e.g. v{version}")
	f.StringVar(&arch.version, "version", "", "with --source-repo: the release version")
	f.BoolVar(&arch.incubating, "incubating", false, "with --archive: the committee is incubating (a DISCLAIMER is required)")
	return c
}

// printVerifyReport prints one line per verification and the verdict,
// which counts the archive checks' blockers too.
func printVerifyReport(e *env, rep *verify.Report, archiveBlockers int) {
	for _, v := range rep.Verifications {
		mark := "✓"
		if !v.OK {
			mark = "✗"
		}
		fmt.Fprintf(e.stdout, "%s %-8s %s: %s\n", mark, v.Kind, v.File, v.Message)
		for _, n := range v.Notes {
			fmt.Fprintf(e.stdout, "    note: %s\n", n)
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(e.stdout, "- %s\n", n)
	}
	switch {
	case rep.OK && archiveBlockers == 0:
		fmt.Fprintf(e.stdout, "VERIFIED: %s\n", rep.Artifact)
		return
	case rep.OK:
		fmt.Fprintf(e.stdout, "NOT VERIFIED: %s (%d archive check(s) failed)\n", rep.Artifact, archiveBlockers)
	default:
		fmt.Fprintf(e.stdout, "NOT VERIFIED: %s (%s)\n", rep.Artifact, rep.Reason)
	}
	fmt.Fprintln(e.stdout, "Do not use this file. Download it again from the project's release page or another mirror, with its signature and checksum; if it still fails, tell the project.")
}
