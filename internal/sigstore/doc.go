// Package sigstore verifies Sigstore bundles for trel, fully offline.
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
// Nothing in this package touches the network: the production and staging
// trusted roots are embedded, and artifacts are identified by digests that
// were computed when they were uploaded.
package sigstore
