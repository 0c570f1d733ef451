package checks

import (
	"context"
	"encoding/hex"
	"path"

	"trel/internal/checks/rules"
	"trel/internal/domain"
)

// Checksums verifies X.sha256 and X.sha512 files against the digests of X
// computed at upload: the artifact is never read.
type Checksums struct{}

// Name implements Checker.
func (Checksums) Name() string { return "checksum" }

// Plan implements Checker: one task per checksum file whose artifact is in
// the revision (the paths check reports the others).
func (Checksums) Plan(ctx context.Context, in *Input) ([]Task, error) {
	var tasks []Task
	for _, f := range in.Revision.Files {
		algo, ok := rules.ChecksumAlgorithm(f.Path)
		if !ok {
			continue
		}
		artifactPath, _, ok := rules.ArtifactOf(f.Path)
		if !ok {
			continue
		}
		artifact, ok := in.Files[artifactPath]
		if !ok {
			continue
		}
		sumFile := f
		digestHex := artifact.SHA256
		if algo == "sha512" {
			digestHex = artifact.SHA512
		}
		tasks = append(tasks, Task{
			Checker: "checksum", Version: 1, Path: f.Path,
			Inputs: []string{sumFile.SHA256, algo, path.Base(artifactPath), digestHex},
			Run: func(ctx context.Context) []Outcome {
				data, err := in.Read(ctx, sumFile, rules.MaxChecksumFileSize)
				if err != nil {
					return []Outcome{{Status: domain.StatusBlocker, Message: "the checksum file cannot be read: " + err.Error() + "; a checksum file holds a few lines of text"}}
				}
				digest, _ := hex.DecodeString(digestHex)
				v := rules.CheckChecksumFile(data, algo, path.Base(artifactPath), digest)
				return []Outcome{{Status: domain.CheckStatus(v.Status), Message: v.Message,
					Details: map[string]any{"code": v.Code, "algorithm": algo, "artifact": artifactPath}}}
			},
		})
	}
	return tasks, nil
}
