package verify

import (
	"fmt"
	"io"
	"os"
	"strings"

	"trel/internal/checks/rules"
)

// checkChecksum matches the checksum file f against the artifact's digest.
// The algorithm comes from the file's suffix (.sha512, .sha256); for other
// names it is whichever of the two the contents parse as.
func checkChecksum(opts Options, f string, d *digests) (Verification, error) {
	v := Verification{Kind: KindChecksum, File: f}
	data, err := readChecksumFile(f)
	if err != nil {
		return v, err
	}
	algo, ok := rules.ChecksumAlgorithm(f)
	if !ok {
		algo = guessAlgorithm(data)
	}
	digest := d.sha512
	if algo == "sha256" {
		digest = d.sha256
	}
	verdict := rules.CheckChecksumFile(data, algo, opts.Artifact, digest)
	v.OK = verdict.Passed
	v.Message = verdict.Message
	if !verdict.Passed {
		v.Code = verdict.Code
		v.Message = forDownloader(verdict)
	}
	return v, nil
}

// forDownloader rewrites a failed checksum verdict for someone who
// downloaded the release: the checks' advice (re-upload, regenerate the
// file) is for its release managers, never for them.
func forDownloader(v rules.Verdict) string {
	msg := v.Message
	for _, cut := range []string{"; the artifact or the checksum file is wrong", ": regenerate", ": add it or regenerate", "; expected"} {
		if i := strings.Index(msg, cut); i > 0 {
			msg = msg[:i]
		}
	}
	switch v.Code {
	case rules.CodeChecksumMismatch:
		return msg + ": the file you have is damaged, incomplete or not the one the project published. Do not use it: download it again, from the project's release page or another mirror"
	case rules.CodeChecksumWrongName, rules.CodeChecksumMissingEntry:
		return msg + ": this checksum file is not the one of your file; download the checksum file published next to it (the same name with .sha512)"
	}
	return msg + ": the checksum file is damaged or not a checksum file; download it again from the project's release page"
}

// readChecksumFile reads at most one byte more than a checksum file may
// hold, so that the parser reports an oversized file as malformed.
func readChecksumFile(f string) ([]byte, error) {
	fh, err := os.Open(f)
	if err != nil {
		return nil, fmt.Errorf("checksum: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, rules.MaxChecksumFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("checksum: read %s: %w", f, err)
	}
	return data, nil
}

// guessAlgorithm picks sha512 or sha256 for a checksum file whose name does
// not say: the first the contents parse as, sha512 when neither does (the
// parser then explains what it expected).
func guessAlgorithm(data []byte) string {
	for _, algo := range []string{"sha512", "sha256"} {
		if _, err := rules.ParseChecksumFile(data, algo); err == nil {
			return algo
		}
	}
	return "sha512"
}
