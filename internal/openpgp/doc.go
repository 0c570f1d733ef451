// Package openpgp loads OpenPGP public keys and verifies detached release
// signatures for trel. It has no HTTP or database code; callers pass bytes
// and get verdicts with reasons a release manager can act on.
//
// # Keys
//
// LoadKeys reads every armored block of a KEYS file (also blocks written
// back to back without blank lines) or a binary keyring, bounded to 4 MiB
// and 1000 blocks (LoadKeysWithOptions changes the bounds). Every block gets
// a BlockResult: accepted, or rejected with a reason (v3 keys, unsupported
// algorithms, unusual RSA exponents, no valid self-signature, corrupt armor,
// garbage). Nothing is dropped silently; dropped parts of accepted keys
// (unbound subkeys, user IDs without self-signature) appear in Notes. Input
// holding private key material is refused as a whole (DetectPrivateKey).
//
// A Cert keeps only self-signatures that verify: user ID certifications,
// direct-key signatures, subkey bindings (signing subkeys need their
// cross-signature) and revocations. Third-party certifications and photo IDs
// are dropped. Copies of one certificate in a file are merged by
// fingerprint, and a revocation certificate in a block of its own is
// attached to its key. SHA-1 self-signatures are accepted (older keys have
// nothing else); data signatures with SHA-1 are not. Cert.Armored exports
// the kept packets, with all merged revocations, as an armored public key
// that gpg --import and sqv accept.
//
// Merge refreshes a stored certificate with a new upload. It only ever adds:
// a revocation is never lost and all self-signatures are kept, so the newest
// one always decides the current expiry.
//
// StrengthPolicy.Check refuses DSA, ElGamal and RSA below MinRSABits (4096;
// 2048 for keys created before GrandfatherBefore); EdDSA and ECDSA on P-256
// or stronger curves pass.
//
// # Verification
//
// VerifyDetached verifies an armored or binary detached signature file,
// which may hold several signatures: all are recorded and the file is valid
// when at least one valid signature comes from a given key. Cleartext-signed
// and inline-signed messages are refused with code "not-detached".
//
// The artifact is not read again: a v4 signature's digest is
// H(data || trailer), so StateSource restores the SHA-256/SHA-512 states the
// upload path saved (encoding.BinaryMarshaler) and finishes them with the
// trailer. Other hash algorithms go to StateSource.Fallback. Text-mode (0x01)
// and v6 salted signatures need the bytes again (the salt or line-ending
// canonicalisation come before the data); they use the ContentSource of the
// source (ReaderSource, BytesSource, or a StateSource with a Fallback) and
// fail with "hash-unavailable" when there is none.
//
// Key validity is judged at the signature's creation time T, by our own
// packet-level checks (go-crypto's messages mislead):
//   - T must not be after Now (plus ClockSkew) nor before the signing key's
//     creation;
//   - a revocation with reason "compromised", no reason or an unknown reason
//     invalidates every signature of the key or subkey, whatever its date;
//     "superseded" and "retired" invalidate only signatures made at or after
//     the revocation;
//   - the primary key's and the subkey's expiry come from the newest
//     self-signature (or binding) made at or before T;
//   - a subkey must carry the signing flag in that binding (without any key
//     flags, the algorithm decides, as gpg does);
//   - MD5, SHA-1 and RIPEMD-160 data signatures are refused ("weak-hash");
//     v3 signatures are refused ("v3-signature").
//
// Decision for a signature older than every self-signature (fixture
// key-new.asc: the key was re-exported with only its 2021 self-signatures,
// the signature is from 2020): we accept it, judging validity by the oldest
// self-signature, and add a Note. Key expiry is counted from the key's
// creation time, so the later self-signature states the key was valid from
// creation until its expiry, which covers T; the signer chooses T anyway, so
// rejecting adds no protection, while keyservers that strip old
// self-signatures (keys.openpgp.org keeps only the newest) would otherwise
// invalidate every old release after a key refresh. gpg agrees; sqv rejects
// this case ("no binding signature at time"). Revocations still apply.
//
// A signature dated after VerifyOptions.UploadTime is only flagged
// (SignatureResult.AfterUpload); the caller decides what it means.
//
// # Signing
//
// ReadSecretKey and SigningKey.SignDetached make armored detached SHA-512
// signatures (with the CRC line gpg 2.2 needs) for client-side signing.
package openpgp
