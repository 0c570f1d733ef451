package checks

import (
	"context"
	"fmt"
	"io"
	"sort"

	"trel/internal/checks/rules"
	"trel/internal/domain"
	"trel/internal/secrets"
)

// Paths applies the release path rules (package rules) to the whole file
// list: signatures and checksums present (unless the policy lets a file go
// unsigned), forbidden and deprecated suffixes, dotfiles, KEYS files,
// metadata without an artifact, badly formed or colliding names, reserved
// names and names of key or credential files. It also reads, once, any
// file that the secret scanner did not read at upload (content stored
// before scanning existed), and blocks private keys and credentials.
type Paths struct{}

// Name implements Checker.
func (Paths) Name() string { return "paths" }

// pathsVersion changes whenever the rules change, so that no earlier result
// is reused.
const pathsVersion = 2

// Plan implements Checker: one task over the sorted list of paths and the
// policy's unsigned rules, and one scan per unscanned file.
func (Paths) Plan(ctx context.Context, in *Input) ([]Task, error) {
	paths := make([]string, 0, len(in.Files))
	for p := range in.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var unsigned []domain.UnsignedRule
	if in.Policy != nil {
		unsigned = in.Policy.Unsigned
	}
	inputs := append([]string{}, paths...)
	for _, u := range unsigned {
		inputs = append(inputs, "unsigned="+u.Pattern)
	}
	tasks := []Task{{
		Checker: "paths", Version: pathsVersion, Path: "", Inputs: inputs,
		Run: func(ctx context.Context) []Outcome {
			var out []Outcome
			for _, f := range rules.CheckPaths(paths, unsigned...) {
				out = append(out, Outcome{Path: f.Path, Status: domain.CheckStatus(f.Status), Message: f.Message,
					Details: map[string]any{"code": f.Code}})
			}
			return out
		},
	}}
	for _, p := range paths {
		f := in.Files[p]
		if in.Scanned[f.SHA256] {
			continue
		}
		tasks = append(tasks, Task{
			Checker: "paths", Version: pathsVersion, Path: p, Inputs: []string{f.SHA256, fmt.Sprintf("secrets-v%d", secrets.Version)},
			Run: func(ctx context.Context) []Outcome { return scanFile(ctx, in, f) },
		})
	}
	return tasks, nil
}

// scanFile reads a file through the secret scanner (binary files only as
// far as their start).
func scanFile(ctx context.Context, in *Input, f domain.File) []Outcome {
	rc, err := in.Open(ctx, f)
	if err != nil {
		return []Outcome{{Status: domain.StatusException, Message: fmt.Sprintf("cannot read %s to look for private keys (%v); re-run the checks", f.Path, err)}}
	}
	defer rc.Close()
	sc := secrets.NewScanner()
	buf := make([]byte, 64<<10)
	for !sc.Done() {
		n, err := rc.Read(buf)
		if n > 0 {
			sc.Write(buf[:n])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return []Outcome{{Status: domain.StatusException, Message: fmt.Sprintf("cannot read %s to look for private keys (%v); re-run the checks", f.Path, err)}}
		}
	}
	sc.Close()
	if fd := sc.Found(); fd != nil {
		return []Outcome{{Status: domain.StatusBlocker, Details: map[string]any{"code": rules.CodePathSecret, "kind": fd.Kind},
			Message: fmt.Sprintf("%s holds %s; private keys and credentials must never be published: remove it, and treat the key or token as compromised (revoke it and make a new one)", f.Path, fd.Kind)}}
	}
	return []Outcome{{Status: domain.StatusNote, Details: map[string]any{"code": "path.scanned"},
		Message: fmt.Sprintf("%s was stored before uploads were scanned with the current rules for private keys and credentials; it holds none", f.Path)}}
}
