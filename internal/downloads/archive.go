package downloads

import (
	"context"
	"os"
	"path/filepath"

	"trel/internal/domain"
)

// Archiving moves a published release from the downloads tree to the
// archive tree (/archive/COMMITTEE/PROJECT/VERSION/): the same files and
// the same manifest, so that verification and the public log work against
// them as before. The archive tree is another Tree (a sibling directory on
// disk, the archive/ folder of the bucket).

// Mover archives releases from one tree to another (core.Archiver).
type Mover struct {
	From, To Tree
}

// Archive publishes the release into the archive tree, then removes it
// from the downloads tree. Both steps can be repeated, so an interrupted
// move is finished by the next attempt.
func (m Mover) Archive(ctx context.Context, committee, project, version string, files []domain.File, manifest []byte) error {
	if err := m.To.Publish(ctx, committee, project, version, files, manifest); err != nil {
		return err
	}
	return m.From.Remove(ctx, committee, project, version)
}

// Remove implements Tree: the release's directory is renamed to a hidden
// name (so that it disappears at once, whole) and then deleted. A release
// that is not there is no error.
func (t *Dir) Remove(ctx context.Context, committee, project, version string) error {
	if err := checkRelease(committee, project, version, nil); err != nil {
		return err
	}
	final := filepath.Join(t.root, committee, project, version)
	if _, err := os.Stat(final); os.IsNotExist(err) {
		return nil
	}
	gone, err := os.MkdirTemp(filepath.Dir(final), tempPrefix+"removed-*")
	if err != nil {
		return domain.Internal("removing a release from the tree", err)
	}
	if err := os.Rename(final, filepath.Join(gone, "release")); err != nil {
		os.Remove(gone)
		if _, serr := os.Stat(final); os.IsNotExist(serr) {
			return nil // removed meanwhile by another request
		}
		return domain.Internal("removing a release from the tree", err)
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		return domain.Internal("removing a release from the tree", err)
	}
	if err := os.RemoveAll(gone); err != nil {
		return domain.Internal("removing a release from the tree", err)
	}
	return nil
}

// Remover is the part of a bucket that deletes a folder.
type Remover interface {
	// RemoveTree deletes every object under dir, the one named first
	// before the others.
	RemoveTree(ctx context.Context, dir, first string) error
}

// Remove implements Tree: the manifest goes first, so nothing of the
// release is served from then on, then its files.
func (t *BucketTree) Remove(ctx context.Context, committee, project, version string) error {
	if err := checkRelease(committee, project, version, nil); err != nil {
		return err
	}
	r, ok := t.b.(Remover)
	if !ok {
		return domain.Errorf(domain.KindUnavailable, "this bucket cannot remove objects")
	}
	if err := r.RemoveTree(ctx, committee+"/"+project+"/"+version+"/", ManifestName); err != nil {
		return domain.Internal("removing a release from the bucket", err)
	}
	return nil
}
