package downloads

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"path"
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
type BucketTree struct{ b Bucket }

// NewBucketTree serves and fills the tree in b.
func NewBucketTree(b Bucket) *BucketTree { return &BucketTree{b: b} }

// Publish implements Tree: the files first (copied inside the store), the
// manifest last, so that a release becomes visible whole.
func (t *BucketTree) Publish(ctx context.Context, committee, project, version string, files []domain.File, manifest []byte) error {
	if err := checkRelease(committee, project, version, files); err != nil {
		return err
	}
	dir := committee + "/" + project + "/" + version + "/"
	if ok, err := t.published(ctx, dir); err != nil {
		return domain.Internal("publishing", err)
	} else if ok {
		return domain.Errorf(domain.KindConflict, "%s/%s/%s is already published", committee, project, version)
	}
	for _, f := range files {
		if err := t.b.CopyBlob(ctx, f.SHA256, dir+f.Path); err != nil {
			return domain.Internal("publishing "+f.Path, err)
		}
	}
	if err := t.b.PutBytes(ctx, dir+ManifestName, manifest); err != nil {
		return domain.Internal("writing the manifest", err)
	}
	return nil
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

// Handler implements Tree, like http.FileServer on the disk tree: files
// with Range support, directories as lists of links. Nothing of a release
// is served before its manifest exists, and no hidden name is.
func (t *BucketTree) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/downloads/")
		segs := strings.Split(strings.TrimSuffix(p, "/"), "/")
		if p == "" || p == "/" {
			segs = nil
		}
		for _, s := range segs {
			if s == "" || s == "." || s == ".." || strings.HasPrefix(s, ".") {
				http.NotFound(w, r)
				return
			}
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
		if strings.HasSuffix(p, "/") || len(segs) == 0 {
			t.list(w, r, segs)
			return
		}
		o, err := t.b.OpenKey(r.Context(), p)
		if domain.IsKind(err, domain.KindNotFound) {
			// A directory asked for without its slash: redirect as
			// http.FileServer does.
			if dirs, files, lerr := t.b.List(r.Context(), p+"/"); lerr == nil && len(dirs)+len(files) > 0 {
				http.Redirect(w, r, path.Base(p)+"/", http.StatusMovedPermanently)
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
		http.ServeContent(w, r, path.Base(p), o.ModTime(), o)
	})
}

var listing = template.Must(template.New("list").Parse(`<!doctype html>
<meta name="viewport" content="width=device-width">
<pre>
{{range .}}<a href="{{.}}">{{.}}</a>
{{end}}</pre>
`))

func (t *BucketTree) list(w http.ResponseWriter, r *http.Request, segs []string) {
	dir := ""
	if len(segs) > 0 {
		dir = strings.Join(segs, "/") + "/"
	}
	dirs, files, err := t.b.List(r.Context(), dir)
	if err != nil {
		http.Error(w, "the downloads tree is unavailable", http.StatusServiceUnavailable)
		return
	}
	var names []string
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
		names = append(names, d+"/")
	}
	for _, f := range files {
		if !strings.HasPrefix(f, ".") {
			names = append(names, f)
		}
	}
	if len(names) == 0 && len(segs) > 0 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := listing.Execute(w, names); err != nil {
		fmt.Fprintln(w, "listing failed")
	}
}
