package checks

import (
	"context"
	"sort"

	"trel/internal/checks/rules"
	"trel/internal/domain"
)

// Paths applies the release path rules (package rules) to the whole file
// list: signatures and checksums present, forbidden and deprecated
// suffixes, dotfiles, KEYS files, metadata without an artifact.
type Paths struct{}

// Name implements Checker.
func (Paths) Name() string { return "paths" }

// Plan implements Checker: one task over the sorted list of paths.
func (Paths) Plan(ctx context.Context, in *Input) ([]Task, error) {
	paths := make([]string, 0, len(in.Files))
	for p := range in.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return []Task{{
		Checker: "paths", Version: 1, Path: "", Inputs: paths,
		Run: func(ctx context.Context) []Outcome {
			var out []Outcome
			for _, f := range rules.CheckPaths(paths) {
				out = append(out, Outcome{Path: f.Path, Status: domain.CheckStatus(f.Status), Message: f.Message,
					Details: map[string]any{"code": f.Code}})
			}
			return out
		},
	}}, nil
}
