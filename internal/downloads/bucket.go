package downloads

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"trel/internal/domain"
)

// Bucket is a folder of an object store (package blob/s3 provides one).
type Bucket interface {
	// CopyBlob copies a stored blob to key, inside the store.
	CopyBlob(ctx context.Context, sha256, key string) error
	PutBytes(ctx context.Context, key string, data []byte) error
	// OpenKey opens an object; a missing one is a KindNotFound error.
	OpenKey(ctx context.Context, key string) (BucketObject, error)
	// List returns the sub-folders and objects directly in dir ("" or
	// ending with "/").
	List(ctx context.Context, dir string) (dirs, files []string, err error)
}

// BucketObject is an open object.
type BucketObject interface {
	io.ReadSeekCloser
	ModTime() time.Time
}

// BucketTree is the downloads tree in a bucket: COMMITTEE/PROJECT/VERSION/
// PATH, each release's manifest written last.
type BucketTree struct {
	b Bucket
	// BeforeManifest, if set, is called when a release's files are copied
	// and before its manifest is written (tests kill the server there).
	BeforeManifest func()
}

// NewBucketTree serves and fills the tree in b.
func NewBucketTree(b Bucket) *BucketTree { return &BucketTree{b: b} }

// Publish implements Tree: the files first (copied inside the store), the
// manifest last, so that a release becomes visible whole.
func (t *BucketTree) Publish(ctx context.Context, committee, project, version string, files []domain.File, manifest []byte) error {
	if err := checkRelease(committee, project, version, files); err != nil {
		return err
	}
	dir := committee + "/" + project + "/" + version + "/"
	have, err := t.manifest(ctx, dir)
	if err != nil {
		return domain.Internal("publishing", err)
	}
	if have != nil {
		if bytes.Equal(have, manifest) {
			return nil
		}
		return domain.Errorf(domain.KindConflict, "%s/%s/%s is already published", committee, project, version)
	}
	for _, f := range files {
		if err := t.b.CopyBlob(ctx, f.SHA256, dir+f.Path); err != nil {
			return domain.Internal("publishing "+f.Path, err)
		}
	}
	if t.BeforeManifest != nil {
		t.BeforeManifest()
	}
	if err := t.b.PutBytes(ctx, dir+ManifestName, manifest); err != nil {
		return domain.Internal("writing the manifest", err)
	}
	return nil
}

// CleanTemp implements Tree. A release whose publication was interrupted
// has no manifest yet, so nothing of it is served, and publishing it again
// overwrites its files: there is nothing to clean.
func (t *BucketTree) CleanTemp() error { return nil }

// manifest returns the manifest of the release directory dir (ending with
// "/"), or nil when it has none (not published).
func (t *BucketTree) manifest(ctx context.Context, dir string) ([]byte, error) {
	o, err := t.b.OpenKey(ctx, dir+ManifestName)
	if domain.IsKind(err, domain.KindNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer o.Close()
	return io.ReadAll(io.LimitReader(o, 64<<20))
}

// published reports whether the release directory dir (ending with "/")
// has its manifest.
func (t *BucketTree) published(ctx context.Context, dir string) (bool, error) {
	o, err := t.b.OpenKey(ctx, dir+ManifestName)
	if domain.IsKind(err, domain.KindNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	o.Close()
	return true, nil
}

// Handler implements Tree, with the same answers as the disk tree's
// (content types, attachments, validators, ranges, trel's listings).
// Nothing of a release is served before its manifest exists.
func (t *BucketTree) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rel, name, dir, ok := requestPath(w, r)
		if !ok {
			return
		}
		var segs []string
		if name != "." {
			segs = strings.Split(name, "/")
		}
		if len(segs) >= 3 {
			ok, err := t.published(r.Context(), strings.Join(segs[:3], "/")+"/")
			if err != nil {
				http.Error(w, "the downloads tree is unavailable", http.StatusServiceUnavailable)
				return
			}
			if !ok {
				http.NotFound(w, r)
				return
			}
		}
		if dir {
			t.list(w, r, rel, segs)
			return
		}
		o, err := t.b.OpenKey(r.Context(), name)
		if domain.IsKind(err, domain.KindNotFound) {
			// A directory asked for without its slash.
			if dirs, files, lerr := t.b.List(r.Context(), name+"/"); lerr == nil && len(dirs)+len(files) > 0 {
				http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
				return
			}
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, "the downloads tree is unavailable", http.StatusServiceUnavailable)
			return
		}
		defer o.Close()
		size, err := o.Seek(0, io.SeekEnd)
		if err == nil {
			_, err = o.Seek(0, io.SeekStart)
		}
		if err != nil {
			http.Error(w, "the downloads tree is unavailable", http.StatusServiceUnavailable)
			return
		}
		serveFile(w, r, name, size, o.ModTime(), o)
	})
}

func (t *BucketTree) list(w http.ResponseWriter, r *http.Request, rel string, segs []string) {
	dir := ""
	if len(segs) > 0 {
		dir = strings.Join(segs, "/") + "/"
	}
	dirs, files, err := t.b.List(r.Context(), dir)
	if err != nil {
		http.Error(w, "the downloads tree is unavailable", http.StatusServiceUnavailable)
		return
	}
	var entries []entry
	for _, d := range dirs {
		if strings.HasPrefix(d, ".") {
			continue
		}
		// Versions appear only once published whole.
		if len(segs) == 2 {
			if ok, err := t.published(r.Context(), dir+d+"/"); err != nil || !ok {
				continue
			}
		}
		entries = append(entries, entry{Name: d + "/", Href: url.PathEscape(d) + "/"})
	}
	for _, f := range files {
		if !strings.HasPrefix(f, ".") {
			entries = append(entries, entry{Name: f, Href: url.PathEscape(f)})
		}
	}
	if len(entries) == 0 && len(segs) > 0 {
		http.NotFound(w, r)
		return
	}
	writeListing(w, r, rel, entries)
}
