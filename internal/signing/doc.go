// Package signing holds trel's server-side signing keys: key generation,
// the vault that keeps the secret keys at rest, detached signing from saved
// hash states, and the challenges that bind a passkey approval to the exact
// digests being signed. It is pure: no HTTP, no database, no WebAuthn. The
// callers wire those and keep the audit trail and the transparency log.
//
// # Keys
//
// Generate makes an OpenPGP v4 key whose primary key certifies and signs,
// with no subkeys: EdDSA with the legacy algorithm 22 on Ed25519 (the
// default; gpg 2.2 and sqv 1.1 cannot verify the newer algorithm 27) or
// RSA-4096. There is no encryption subkey, because a release signing key
// never needs to decrypt, and no signing subkey: a signing primary key is
// verified by gpg, gpgv, sqv and trel's own verifier alike, and it leaves a
// single secret to protect. The user ID is "Name <email>", the self-signature
// prefers SHA-512, and the key expires (default 2 years, at most 5).
// Generated.Secret is the unencrypted transferable secret key, binary; it
// must be sealed at once (Seal) and wiped. It is never protected with an
// OpenPGP S2K: that would add nothing to the vault, and gpg 2.2 cannot import
// Argon2 S2K keys anyway.
//
// Revoke adds a key revocation signature; the updated public key goes into
// KEYS files and the updated secret back into the vault, so that Sign refuses
// the key from then on.
//
// # Vault
//
// Every signing key has its own random 32-byte data key. Three AES-256-GCM
// layers, each with a random 12-byte nonce:
//
//	SealedSecret = GCM(dataKey,   secret,                     AAD(fingerprint))
//	inner        = GCM(userKEK,   dataKey,                    AAD(fingerprint, factor, kdf params, salt))
//	WrappedKey   = GCM(masterKEK, innerNonce || inner,        AAD(fingerprint, factor, kdf params, salt, master key id))
//
// userKEK is Argon2id(password, salt, t, m, p) (Seal), or HKDF-SHA256 of a
// passkey's 32-byte PRF output (SealWithPRF). masterKEK is HKDF-SHA256 of the
// server master key, which lives in a file or environment variable, never in
// the database. Every AAD starts with a domain tag and holds the OpenPGP key
// id and fingerprint, so a blob moved to another key row does not open.
//
// The master key is the OUTER layer and the user's factor the INNER one:
//   - the database alone (a Sealed) opens nothing, and it does not even allow
//     an offline guess of the password, because the password layer is inside
//     the master-key layer;
//   - the master key alone has no ciphertext; with the database too, the
//     password (Argon2id, 64 MiB per guess) is still needed;
//   - the password alone has no ciphertext and no master key;
//   - RotateMaster re-wraps the outer layer with a new master key without
//     any user's password (trel admin rotate-master-key), and Rewrap changes
//     the password without touching the master key. The data key, and so
//     SealedSecret, stay the same in both.
//
// SwitchToPRF and SwitchToPassword move a key between the two kinds of
// user factor; each needs the current factor once.
//
// Errors are typed and say which factor failed without saying which byte:
// ErrNoMasterKey (none configured: server-side signing is unavailable),
// ErrWrongMasterKey (the master key id does not match the one recorded),
// ErrTampered (any layer authenticated by a factor we hold fails: a
// bit-flip, a changed parameter, or a blob moved to another fingerprint),
// ErrWrongPassword (the inner layer fails after the outer layer proved the
// blob authentic, so it can only be the password or PRF output),
// ErrWrongFactor (a password given for a passkey-sealed key or the reverse).
// Argon2 parameters are checked against bounds before any work
// (ErrArgon2Params), so a crafted row cannot make the server allocate
// gigabytes; they are also authenticated by the outer layer. At most MaxConcurrentDerivations Argon2id derivations run
// at once (each takes about 0.2 s and 64 MiB with the defaults); callers wait
// at most DerivationWait and then get ErrBusy.
//
// Wiping: data keys, KEKs and decrypted secret copies made here are zeroed
// after use, and Wipe lets callers zero what they hold (the secret from Open,
// the password). Go cannot promise more: the garbage collector may have
// copied memory, the Argon2 work area and AES key schedules are not
// reachable, the parsed RSA key's big.Int words are zeroed but crypto/rsa
// keeps precomputed values of its own, a MasterKey is a value whose copies
// live as long as the process, and strings cannot be wiped (pass passwords
// as []byte).
//
// # Signing
//
// Sign makes armored detached v4 signatures with SHA-512, dated by the
// injected clock, with the CRC line (gpg 2.2 exits 2 without it) and a
// trailing newline. The artifact is not read again: a v4 signature digest is
// SHA-512(data || trailer), so Sign restores the SHA-512 state saved at
// upload, and packet.Signature.Sign writes the trailer into it and signs.
// An io.Reader is accepted too. FileToSign.ExpectSHA512 makes Sign refuse a
// file whose data does not have the approved digest. Signatures carry no
// random salt notation: EdDSA and RSA PKCS#1 v1.5 are deterministic, so the
// same file, key and time give the same signature (gpg shows no unknown
// notation). Expired, revoked and not-yet-valid keys are refused
// (ErrKeyExpired, ErrKeyRevoked).
//
// # Approvals
//
// A Transaction lists the user, key fingerprint, project, version, revision
// and files (path, size, SHA-512). CanonicalJSON encodes it deterministically
// (files sorted by path, fixed field order, digests in lower-case hex,
// invalid UTF-8 refused so that two texts cannot encode alike). The WebAuthn
// challenge is
//
//	SHA-256("trel-sign-approval-v1\x00" || nonce || CanonicalJSON(tx))
//
// with 32 random bytes of nonce. When the assertion comes back, the server
// must rebuild the transaction from the digests it is about to sign (from the
// stored revision, not from the request) and call VerifyChallenge, then pass
// the same digests as FileToSign.ExpectSHA512, so that what is signed is
// exactly what was approved.
package signing
