package blob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"trel/internal/domain"
)

// Staged content on disk is one file per key under DIR/staged/, which a
// part extends at its offset: a failed part is cut off by the next attempt
// (truncated to its offset), so the file always ends with accepted parts
// plus at most one failed attempt's bytes. It survives restarts (unlike
// DIR/tmp/), and becomes the blob by a rename.

func (d *Disk) stagedPath(key string) (string, error) {
	if len(key) != 32 {
		return "", domain.Errorf(domain.KindInvalid, "invalid staging key")
	}
	if _, err := hex.DecodeString(key); err != nil {
		return "", domain.Errorf(domain.KindInvalid, "invalid staging key")
	}
	return filepath.Join(d.dir, "staged", key), nil
}

// StartStaged implements Store.
func (d *Disk) StartStaged(ctx context.Context) (string, error) {
	var b [16]byte
	rand.Read(b[:])
	key := hex.EncodeToString(b[:])
	p, _ := d.stagedPath(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return "", domain.Internal("preparing a staged upload", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return "", domain.Internal("preparing a staged upload", err)
	}
	if err := f.Close(); err != nil {
		return "", domain.Internal("preparing a staged upload", err)
	}
	return key, nil
}

// PutPart implements Store: the part is written at its offset and synced
// before it returns, so that a part the caller records survives a crash.
func (d *Disk) PutPart(ctx context.Context, key string, n int, offset int64, r io.Reader, size int64) (domain.StagedPart, error) {
	p, err := d.stagedPath(key)
	if err != nil {
		return domain.StagedPart{}, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return domain.StagedPart{}, domain.Errorf(domain.KindNotFound, "the staged upload is gone (aborted or expired)")
	}
	if err != nil {
		return domain.StagedPart{}, domain.Internal("opening a staged upload", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return domain.StagedPart{}, domain.Internal("reading a staged upload", err)
	}
	if st.Size() < offset {
		return domain.StagedPart{}, domain.Internal("writing a staged upload", fmt.Errorf("staged file holds %d bytes, part starts at %d", st.Size(), offset))
	}
	// Cut off what a failed attempt left after the accepted parts.
	if err := f.Truncate(offset); err != nil {
		return domain.StagedPart{}, domain.Internal("writing a staged upload", err)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return domain.StagedPart{}, domain.Internal("writing a staged upload", err)
	}
	written, err := io.Copy(newWriteBehindAt(f, offset), io.LimitReader(ContextReader(ctx, r), size+1))
	if err != nil {
		return domain.StagedPart{}, &domain.Error{Kind: domain.KindInvalid, Message: "the chunk was interrupted before it completed; send it again at the same offset", Err: err}
	}
	if written != size {
		return domain.StagedPart{}, domain.Errorf(domain.KindInvalid, "the chunk held %d bytes, not the %d announced; send it again at the same offset", written, size)
	}
	if err := f.Sync(); err != nil {
		return domain.StagedPart{}, domain.Internal("syncing a staged upload", err)
	}
	return domain.StagedPart{Number: n, Size: size}, nil
}

// FinishStaged implements Store: the staged file becomes the blob.
func (d *Disk) FinishStaged(ctx context.Context, key string, parts []domain.StagedPart, b domain.Blob) error {
	p, err := d.stagedPath(key)
	if err != nil {
		return err
	}
	var total int64
	for _, part := range parts {
		total += part.Size
	}
	if total != b.Size {
		return domain.Internal("finishing a staged upload", fmt.Errorf("parts hold %d bytes, the content %d", total, b.Size))
	}
	// A failed last attempt may have left bytes after the accepted parts.
	if err := os.Truncate(p, b.Size); err != nil {
		return domain.Internal("finishing a staged upload", err)
	}
	final, err := d.path(b.SHA256)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return domain.Internal("finishing a staged upload", err)
	}
	if err := os.Rename(p, final); err != nil {
		return domain.Internal("finishing a staged upload", err)
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		return domain.Internal("syncing blob directory", err)
	}
	return nil
}

// AbortStaged implements Store.
func (d *Disk) AbortStaged(ctx context.Context, key string) error {
	p, err := d.stagedPath(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return domain.Internal("removing a staged upload", err)
	}
	return nil
}
