package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"trel/internal/domain"
)

// Disk stores blobs as files under a directory:
//
//	DIR/objects/ab/cd/abcd...  (content, named by SHA-256)
//	DIR/tmp/                   (uploads in progress)
type Disk struct {
	dir string
}

// NewDisk opens (and creates) a blob directory.
func NewDisk(dir string) (*Disk, error) {
	for _, d := range []string{filepath.Join(dir, "objects"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("creating blob directory: %w", err)
		}
	}
	return &Disk{dir: dir}, nil
}

// CleanTemp removes uploads that were in progress when a previous server
// process died, and staged uploads (resumable uploads) not written for
// more than a day: their sessions have expired, and the sweep missed them
// (a process that died between creating one and recording its session).
// Only the server calls it, at start-up, before it accepts uploads.
func (d *Disk) CleanTemp() error {
	tmp := filepath.Join(d.dir, "tmp")
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("reading blob temp directory: %w", err)
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(tmp, e.Name())); err != nil {
			return fmt.Errorf("removing stale upload: %w", err)
		}
	}
	staged := filepath.Join(d.dir, "staged")
	entries, err = os.ReadDir(staged)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the staged uploads: %w", err)
	}
	cutoff := time.Now().Add(-StagedLifetime)
	for _, e := range entries {
		info, err := e.Info()
		if err == nil && info.ModTime().Before(cutoff) {
			if err := os.Remove(filepath.Join(staged, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("removing a stale staged upload: %w", err)
			}
		}
	}
	return nil
}

// StagedLifetime is how long staged content may live (the S3 store's
// Clean uses the same): an upload session must expire before.
const StagedLifetime = 24 * time.Hour

func (d *Disk) path(sha string) (string, error) {
	if err := CheckDigest(sha); err != nil {
		return "", err
	}
	return filepath.Join(d.dir, "objects", sha[:2], sha[2:4], sha), nil
}

// Put implements Store.
func (d *Disk) Put(ctx context.Context, r io.Reader, max int64) (domain.Blob, error) {
	f, err := os.CreateTemp(filepath.Join(d.dir, "tmp"), "upload-*")
	if err != nil {
		return domain.Blob{}, domain.Internal("storing upload", err)
	}
	tmpName := f.Name()
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(tmpName)
		}
	}()

	b, err := HashCopy(newWriteBehind(f), ContextReader(ctx, r), max)
	if IsTooLarge(err) {
		return domain.Blob{}, domain.Errorf(domain.KindTooLarge, "the file is larger than the limit of %d bytes: ask an administrator to raise --max-file-size", max)
	}
	if err != nil {
		return domain.Blob{}, &domain.Error{Kind: domain.KindInvalid, Message: "the upload was interrupted before it completed; nothing was stored, try again", Err: err}
	}
	if err := ctx.Err(); err != nil {
		return domain.Blob{}, &domain.Error{Kind: domain.KindInvalid, Message: "the upload was cancelled before it completed; nothing was stored", Err: err}
	}
	if err := f.Sync(); err != nil {
		return domain.Blob{}, domain.Internal("syncing upload", err)
	}
	if err := f.Close(); err != nil {
		return domain.Blob{}, domain.Internal("closing upload", err)
	}
	final, _ := d.path(b.SHA256)
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return domain.Blob{}, domain.Internal("storing upload", err)
	}
	// Content addressing makes a second copy of the same bytes a no-op;
	// rename replaces atomically either way.
	if err := os.Rename(tmpName, final); err != nil {
		return domain.Blob{}, domain.Internal("storing upload", err)
	}
	committed = true
	if err := syncDir(filepath.Dir(final)); err != nil {
		return domain.Blob{}, domain.Internal("syncing blob directory", err)
	}
	return b, nil
}

// Open implements Store.
func (d *Disk) Open(ctx context.Context, sha string) (io.ReadSeekCloser, error) {
	p, err := d.path(sha)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, domain.Errorf(domain.KindNotFound, "blob %s is not stored", sha)
	}
	if err != nil {
		return nil, domain.Internal("opening blob", err)
	}
	return f, nil
}

// Exists implements Store.
func (d *Disk) Exists(ctx context.Context, sha string) (bool, error) {
	p, err := d.path(sha)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, domain.Internal("checking blob", err)
	}
	return true, nil
}

// List implements Store.
func (d *Disk) List(ctx context.Context, fn func(sha256 string, written time.Time) error) error {
	root := filepath.Join(d.dir, "objects")
	return filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() || CheckDigest(e.Name()) != nil {
			return nil
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed meanwhile
		}
		if err != nil {
			return err
		}
		return fn(e.Name(), info.ModTime())
	})
}

// Delete implements Store. Put renames a new file into place, so a blob
// written again after notBefore has a new modification time.
func (d *Disk) Delete(ctx context.Context, sha string, notBefore time.Time) (bool, error) {
	p, err := d.path(sha)
	if err != nil {
		return false, err
	}
	info, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, domain.Internal("removing blob", err)
	}
	if !info.ModTime().Before(notBefore) {
		return false, nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, domain.Internal("removing blob", err)
	}
	return true, nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// CheckDigest returns a KindInvalid error unless sha is a SHA-256 digest
// in 64 lower-case hex digits (the only names blobs have).
func CheckDigest(sha string) error {
	ok := len(sha) == 64
	for _, c := range sha {
		ok = ok && (c >= '0' && c <= '9' || c >= 'a' && c <= 'f')
	}
	if !ok {
		return domain.Errorf(domain.KindInvalid, "invalid SHA-256 digest %q: expected 64 lower-case hex digits", sha)
	}
	return nil
}

// IsTooLarge reports whether HashCopy failed because its input exceeded
// the limit.
func IsTooLarge(err error) bool { return errors.Is(err, errTooLarge) }

// ContextReader stops a copy when ctx is cancelled (a client that went
// away).
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Ping checks that the blob directory is there (for health checks).
func (d *Disk) Ping() error {
	if _, err := os.Stat(filepath.Join(d.dir, "objects")); err != nil {
		return fmt.Errorf("blob directory: %w", err)
	}
	return nil
}
