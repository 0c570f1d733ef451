// Package verify is trel's offline verifier for people who downloaded a
// release: given an artifact and what was published next to it (an
// OpenPGP .asc signature with the project's KEYS file, a .sha512/.sha256
// checksum file, a Sigstore bundle), it says whether the artifact is
// authentic, without any server or network access.
//
// Verify reads the artifact once, streaming, hashing it with SHA-256 and
// SHA-512 in parallel; nothing holds the whole file in memory. Every check
// then works from that single pass:
//   - OpenPGP signatures finish the saved hash states with the signature
//     trailer (openpgp.StateSource). Only signatures that cannot be finished
//     from a SHA-256 or SHA-512 state (another hash algorithm, text-mode or
//     v6 salted signatures, all rare for release artifacts) read the
//     artifact a second time.
//   - Checksum files are parsed by the release-check rules
//     (rules.CheckChecksumFile) and compared with the computed digests,
//     including the file name written in them.
//   - Sigstore bundles are verified against the computed digests and an
//     exact certificate identity and OIDC issuer, or a PEM public key for
//     key-based bundles, with the embedded public-good trusted root unless
//     another is given.
//
// Missing inputs are looked up next to the artifact (ARTIFACT.asc,
// ARTIFACT.sha512, ARTIFACT.sha256, and with Sigstore options
// ARTIFACT.sigstore, ARTIFACT.sigstore.json, ARTIFACT.bundle) and, when
// absent, explained in Report.Notes.
//
// OpenPGP keys are judged by the openpgp package's rules (validity at the
// signature's time, revocations, weak digests refused); trel's
// StrengthPolicy for registering new keys is not applied, because
// downloaders also verify releases signed years ago with the keys of the
// time.
//
// The verdict (Report.OK) is true only when every check that ran passed
// and at least one signature (OpenPGP or Sigstore) verified: a checksum
// alone shows the download is intact, not who made it.
package verify
