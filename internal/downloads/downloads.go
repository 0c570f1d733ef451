// Package downloads is the public downloads tree of published releases:
// ROOT/COMMITTEE/PROJECT/VERSION/ holds the voted files and the release
// manifest. It lives where the blobs live: a directory on local disk (Dir)
// or a folder of the S3 bucket (BucketTree), which every replica serves.
// A release appears whole or not at all: on disk it is built in a temporary
// directory and renamed into place; in a bucket its manifest is written
// last and nothing of a release is served before its manifest exists.
package downloads

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"trel/internal/blob"
	"trel/internal/domain"
)

// ManifestName is the release manifest's file name inside a release
// directory.
const ManifestName = "trel-release-manifest.json"

// Tree is the published downloads tree.
type Tree interface {
	// Publish copies a release's files and writes its manifest (the
	// core's Publisher).
	Publish(ctx context.Context, committee, project, version string, files []domain.File, manifest []byte) error
	// Handler serves the tree read-only under /downloads/.
	Handler() http.Handler
}

// Dir is a downloads directory on local disk fed from the blob store.
type Dir struct {
	root  string
	blobs blob.Store
}

// New opens (and creates) the tree in a local directory.
func New(root string, blobs blob.Store) (*Dir, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("creating the downloads tree: %w", err)
	}
	return &Dir{root: root, blobs: blobs}, nil
}

// Root is the directory holding the tree.
func (t *Dir) Root() string { return t.root }

// checkRelease validates a release's place in the tree and its files.
func checkRelease(committee, project, version string, files []domain.File) error {
	for _, seg := range []string{committee, project, version} {
		if err := domain.ValidatePath(seg); err != nil || strings.Contains(seg, "/") {
			return domain.Errorf(domain.KindInvalid, "invalid name %q in the downloads tree", seg)
		}
	}
	for _, f := range files {
		if err := domain.ValidatePath(f.Path); err != nil {
			return err
		}
	}
	return nil
}

// Publish implements Tree.
func (t *Dir) Publish(ctx context.Context, committee, project, version string, files []domain.File, manifest []byte) error {
	if err := checkRelease(committee, project, version, files); err != nil {
		return err
	}
	final := filepath.Join(t.root, committee, project, version)
	if _, err := os.Stat(final); err == nil {
		return domain.Errorf(domain.KindConflict, "%s/%s/%s is already published", committee, project, version)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return domain.Internal("publishing", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), ".publish-*")
	if err != nil {
		return domain.Internal("publishing", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	for _, f := range files {
		if err := t.copy(ctx, f, filepath.Join(tmp, filepath.FromSlash(f.Path))); err != nil {
			return domain.Internal("publishing "+f.Path, err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ManifestName), manifest, 0o644); err != nil {
		return domain.Internal("writing the manifest", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return domain.Internal("publishing", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return domain.Internal("publishing", err)
	}
	done = true
	return nil
}

func (t *Dir) copy(ctx context.Context, f domain.File, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	src, err := t.blobs.Open(ctx, f.SHA256)
	if err != nil {
		return err
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Handler implements Tree. Hidden entries (in-progress publications) are
// not served.
func (t *Dir) Handler() http.Handler {
	fsys := hiddenFS{os.DirFS(t.root)}
	return http.StripPrefix("/downloads", http.FileServerFS(fsys))
}

type hiddenFS struct{ fs.FS }

func (h hiddenFS) Open(name string) (fs.File, error) {
	for _, seg := range strings.Split(name, "/") {
		if strings.HasPrefix(seg, ".") && seg != "." {
			return nil, fs.ErrNotExist
		}
	}
	f, err := h.FS.Open(name)
	if err != nil {
		return nil, err
	}
	// Only directories are wrapped: a file must keep its Seek method, or
	// Range requests fail (an *os.File is also a ReadDirFile).
	if d, ok := f.(fs.ReadDirFile); ok {
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			return hiddenDir{d}, nil
		}
	}
	return f, nil
}

type hiddenDir struct{ fs.ReadDirFile }

func (d hiddenDir) ReadDir(n int) ([]fs.DirEntry, error) {
	all, err := d.ReadDirFile.ReadDir(n)
	out := all[:0]
	for _, e := range all {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e)
		}
	}
	return out, err
}
