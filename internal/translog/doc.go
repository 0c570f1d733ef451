// Package translog is trel's public, append-only transparency log of the
// signatures trel makes with server-held keys.
//
// The log is a tile-based Merkle log (https://c2sp.org/tlog-tiles) written by
// github.com/transparency-dev/tessera with its POSIX driver into one
// directory (trel uses DATA/log). Its checkpoints are signed notes
// (https://c2sp.org/tlog-checkpoint) made with an Ed25519 key kept in a file
// next to the log (see LoadOrCreateSigner); the matching verifier key
// (VerifierKey) is what trel publishes so that anyone can check the log.
//
// Three parts:
//
//   - Log (Open, Append, Close) is the writer. Append returns only once the
//     entry is integrated into the tree AND a signed checkpoint committing to
//     it has been published, so trel can release a signature only after it is
//     publicly visible.
//   - Handler serves the static files of the log read-only: "checkpoint",
//     "tile/<L>/<N>[.p/<W>]" and "tile/entries/<N>[.p/<W>]". Nothing else in
//     the directory (such as tessera's ".state") is ever served.
//   - Client verifies the log from those static files alone, through a
//     Fetcher (DirFetcher for a local copy, HTTPFetcher for a server): it
//     checks checkpoint signatures, inclusion and consistency proofs, and
//     reads entries back only after proving that each entry bundle matches
//     the signed tree.
//
// Each leaf is one Entry in the canonical encoding described on
// Entry.Marshal.
package translog
