// Package downloads is the public downloads tree of published releases:
// ROOT/COMMITTEE/PROJECT/VERSION/ holds the voted files and the release
// manifest. It lives where the blobs live: a directory on local disk (Dir)
// or a folder of the S3 bucket (BucketTree), which every replica serves.
// A release appears whole or not at all: on disk it is built in a hidden
// temporary directory (.publish-*) and renamed into place; in a bucket its
// manifest is written last and nothing of a release is served before its
// manifest exists.
//
// The tree is served the way mirrors and download tools expect (Range,
// If-Range, HEAD, ETag and Last-Modified validators), with content types
// chosen by trel, never sniffed. Files that are not recognisably release
// artifacts, signatures or checksums (HTML, scripts, documents...) are
// served as attachments in a sandbox, so that nothing published runs in
// trel's origin; directories are listed by trel, never by an index.html.
package downloads

import (
	"bytes"
	"context"
	"errors"
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
// directory (one of domain.ReservedNames).
const ManifestName = "trel-release-manifest.json"

// tempPrefix starts the name of a directory being published.
const tempPrefix = ".publish-"

// Tree is the published downloads tree.
type Tree interface {
	// Publish copies a release's files and writes its manifest (the
	// core's Publisher). Publishing the same release again with the same
	// manifest is a no-op (a publication resumed after it completed); with
	// another manifest it is a conflict.
	Publish(ctx context.Context, committee, project, version string, files []domain.File, manifest []byte) error
	// Remove takes a published release out of the tree (archiving); a
	// release that is not there is no error.
	Remove(ctx context.Context, committee, project, version string) error
	// Handler serves the tree read-only (under /downloads/ or /archive/).
	Handler() http.Handler
	// CleanTemp removes what publications interrupted by a crash left
	// half written. Only the server calls it, at start-up, before it
	// publishes anything.
	CleanTemp() error
}

// Dir is a downloads directory on local disk fed from the blob store.
type Dir struct {
	root  string
	blobs blob.Store
	// BeforeRename, if set, is called when a release's files are written
	// and before its directory is renamed into place (tests kill the
	// server there).
	BeforeRename func()
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
		have, err := os.ReadFile(filepath.Join(final, ManifestName))
		if err == nil && bytes.Equal(have, manifest) {
			return nil
		}
		return domain.Errorf(domain.KindConflict, "%s/%s/%s is already published", committee, project, version)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return domain.Internal("publishing", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), tempPrefix+"*")
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
	if err := writeSynced(filepath.Join(tmp, ManifestName), manifest); err != nil {
		return domain.Internal("writing the manifest", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return domain.Internal("publishing", err)
	}
	if t.BeforeRename != nil {
		t.BeforeRename()
	}
	if err := os.Rename(tmp, final); err != nil {
		// Published meanwhile by another request (two archivings of one
		// release racing): the same manifest is the same release.
		if have, rerr := os.ReadFile(filepath.Join(final, ManifestName)); rerr == nil && bytes.Equal(have, manifest) {
			return nil
		}
		return domain.Internal("publishing", err)
	}
	done = true
	if err := syncDir(filepath.Dir(final)); err != nil {
		return domain.Internal("publishing", err)
	}
	return nil
}

// CleanTemp implements Tree: it removes the directories of publications
// that a previous server process left half written; the publications
// themselves are recorded in the database and finished from there.
func (t *Dir) CleanTemp() error {
	for _, pattern := range []string{"*/*/" + tempPrefix + "*", "*/" + tempPrefix + "*", tempPrefix + "*"} {
		matches, err := filepath.Glob(filepath.Join(t.root, pattern))
		if err != nil {
			return err
		}
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				return fmt.Errorf("removing an interrupted publication: %w", err)
			}
		}
	}
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

func writeSynced(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return err
	}
	return nil
}
