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
	var rf releaseFlags
	var arch struct {
		on, incubating              bool
		version, license, repo, tag string
		allowed                     []string
	}
	c := &cobra.Command{
		Use:   "verify ARTIFACT | --release URL [--dir DIR] | --server URL PROJECT VERSION",
		Short: "Verify a downloaded artifact offline, or a whole published release in one command",
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
(exit 1). Wrong options exit 2. --json prints the full report.

A whole published release: --release URL (its downloads directory) or --server URL
PROJECT VERSION fetches the release manifest, the committee's KEYS and every file
(with --dir DIR, the files are read from DIR, a copy from a mirror, while manifest,
KEYS and log still come from the server), reads each file once, and checks:
  - that the manifest is in trel's public log: its entry at the manifest's log_index,
    with an inclusion proof, in a log consistent with the last checkpoint this
    client saw, under a pinned log key (--log-key FILE, else the key seen on first
    use, both kept next to the configuration);
  - every file's size and SHA-512 against the manifest;
  - every OpenPGP signature against KEYS, by a key that was in KEYS when the release
    was published, and every Sigstore bundle (--trusted-root for a private
    instance), signed by the signers the manifest names;
  - that each artifact carries the signatures the policy in the manifest requires;
  - the vote tally against the vote's rules.
One verdict, VERIFIED or NOT VERIFIED with its causes; exit codes as above.`,
		Example: `  trel verify apache-foo-1.0.tar.gz --keys KEYS
  trel verify foo-1.0.tgz --bundle foo-1.0.tgz.sigstore.json \
      --certificate-identity-regexp 'https://github\.com/org/foo/\.github/workflows/release\.yml@refs/tags/v.*' \
      --certificate-oidc-issuer https://token.actions.githubusercontent.com
  trel verify --release https://trel.example/downloads/widget/widget-lib/1.0/ --dir ./mirror-copy`,
		Args: rf.args,
		RunE: func(c *cobra.Command, a []string) error {
			if opts.TrustedRoot == "" {
				opts.TrustedRoot = refreshedRoot(false)
			}
			if rf.active() {
				return rf.run(c, e, a, opts.TrustedRoot)
			}
			opts.Artifact = a[0]
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
				// Messages name the archive's members: through e.out, so
				// that bidi controls in them cannot reverse the line.
				if err := e.out(rs, func() {
					domain.SortCheckResults(rs)
					for _, r := range rs {
						fmt.Fprintf(e.stdout, "%-10s %-11s %s\n", r.Status, r.Checker, r.Message)
					}
				}); err != nil {
					return err
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
	f.StringVar(&rf.release, "release", "", "verify a whole published release: the URL of its downloads directory")
	f.StringVar(&rf.server, "server", "", "verify a whole published release of this server: give PROJECT VERSION")
	f.StringVar(&rf.dir, "dir", "", "with --release/--server: read the release's files from this directory (a mirror's copy)")
	f.StringVar(&rf.logKey, "log-key", "", "with --release/--server: file with the server's log verifier key to pin (default: the key seen on first use)")
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
