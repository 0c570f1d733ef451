// Package sigstore signs and verifies Sigstore bundles for trel; it is the
// only package of the binary that imports sigstore-go.
//
// Verification happens in two stages so that callers can tell a bundle that
// is broken from one that is merely signed by someone they do not trust:
//
//  1. Verifier.Verify checks the bundle cryptographically (signature,
//     certificate chain, transparency-log entry, trusted time) against one
//     or more named trusted roots, without looking at who signed it. It
//     returns a Result that is either valid (with the signer's identity,
//     issuer and Fulcio certificate extensions) or invalid with a
//     plain-English reason.
//  2. MatchIdentity decides whether a valid Result was produced by one of
//     the identities a project trusts.
//
// Verifier.Check runs both stages; Verifier.VerifyFile adds digesting a
// downloaded file and loading its bundle; VerifyBundleConformance
// implements the sigstore-conformance verify-bundle command.
//
// Verification never touches the network: the production and staging
// trusted roots are embedded, and artifacts are identified by digests that
// were computed when they were uploaded.
//
// Signing does (sign.go): an Instance pairs a signing configuration
// (signing_config v0.2: which Fulcio, Rekor logs and timestamp authorities
// to call) with the trusted root its bundles must verify against. A Signer
// signs keylessly (an OIDC identity token buys a short-lived Fulcio
// certificate for an ephemeral P-256 key; Rekor v1 or v2 logs the
// signature; timestamp authorities date it) or with a long-lived P-256 key
// (timestamps only: keys trel holds are logged in trel's own log). It signs
// a SHA-256 digest (a message signature) or an in-toto statement (DSSE),
// and every bundle it returns has been verified by Verifier first.
// FetchFromTUF refreshes an instance's trusted material through TUF.
package sigstore
