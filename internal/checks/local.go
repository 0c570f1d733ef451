package checks

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"time"

	"trel/internal/domain"
)

// LocalArchive runs the archive and licence checks (the Archives checker)
// on a file on this machine, for `trel verify --archive`: the same tasks
// the server runs, without a store. version expands the source tag pattern.
func LocalArchive(ctx context.Context, file, version string, pol domain.Policy, incubating bool) ([]domain.CheckResult, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	f := domain.File{Path: filepath.Base(file), Blob: domain.Blob{Size: st.Size(), SHA256: "local"}}
	in := &Input{
		Release:  &domain.Release{Version: version},
		Revision: &domain.Revision{Files: []domain.File{f}},
		Files:    map[string]domain.File{f.Path: f}, Policy: &pol, Incubating: incubating, Now: time.Now(),
		OpenAt: func(ctx context.Context, _ domain.File) (io.ReaderAt, io.Closer, error) {
			fh, err := os.Open(file)
			return fh, fh, err
		},
	}
	tasks, err := Archives{Source: &GitSource{AllowLocal: true}}.Plan(ctx, in)
	if err != nil {
		return nil, err
	}
	var out []domain.CheckResult
	for _, t := range tasks {
		for _, o := range runTask(ctx, t) {
			out = append(out, domain.CheckResult{Checker: t.Checker, CheckerVersion: t.Version, Path: t.Path,
				Status: o.Status, Message: o.Message, Details: o.Details, CreatedAt: in.Now})
		}
	}
	return out, nil
}
