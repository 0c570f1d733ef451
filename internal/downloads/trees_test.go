package downloads_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"trel/internal/blob"
	"trel/internal/blob/s3"
	"trel/internal/domain"
	"trel/internal/downloads"
	"trel/internal/testutil/services"
)

// s3Bucket adapts the S3 folder to downloads.Bucket (as package server does).
type s3Bucket struct{ *s3.Bucket }

func (b s3Bucket) OpenKey(ctx context.Context, key string) (downloads.BucketObject, error) {
	o, err := b.Bucket.OpenKey(ctx, key)
	if err != nil {
		return nil, err
	}
	return o, nil
}

// TestTreesPublishWholeAndServeOverHTTP runs the same story on the disk
// tree and the bucket tree: a release is served only once published whole,
// twice is a conflict, files are served with Range, hidden names never.
func TestTreesPublishWholeAndServeOverHTTP(t *testing.T) {
	trees := map[string]func(t *testing.T) (downloads.Tree, blob.Store){
		"disk": func(t *testing.T) (downloads.Tree, blob.Store) {
			dir := t.TempDir()
			blobs, err := blob.NewDisk(filepath.Join(dir, "blobs"))
			if err != nil {
				t.Fatal(err)
			}
			tree, err := downloads.New(filepath.Join(dir, "downloads"), blobs)
			if err != nil {
				t.Fatal(err)
			}
			return tree, blobs
		},
		"s3": func(t *testing.T) (downloads.Tree, blob.Store) {
			st, err := s3.Open(context.Background(), services.S3(t))
			if err != nil {
				t.Fatal(err)
			}
			return downloads.NewBucketTree(s3Bucket{st.Bucket("downloads")}), st
		},
	}
	for name, open := range trees {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tree, blobs := open(t)
			put := func(s string) domain.Blob {
				b, err := blobs.Put(ctx, strings.NewReader(s), 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			srv := httptest.NewServer(tree.Handler())
			defer srv.Close()
			get := func(p string, hdr ...string) (int, string) {
				req, _ := http.NewRequest("GET", srv.URL+p, nil)
				if len(hdr) == 2 {
					req.Header.Set(hdr[0], hdr[1])
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			// A publication that fails half-way (a missing blob) shows nothing.
			bad := []domain.File{{Path: "a.tar.gz", Blob: put("artifact")}, {Path: "missing", Blob: domain.Blob{SHA256: strings.Repeat("0", 64)}}}
			if err := tree.Publish(ctx, "c", "p", "0.9", bad, []byte("{}\n")); err == nil {
				t.Fatal("a publication with a missing blob succeeded")
			}
			if code, _ := get("/downloads/c/p/0.9/a.tar.gz"); code != 404 {
				t.Fatalf("a half-published file is served: %d", code)
			}
			files := []domain.File{{Path: "a.tar.gz", Blob: put("artifact")}, {Path: "sub/b.txt", Blob: put("notes")}}
			if err := tree.Publish(ctx, "c", "p", "1.0", files, []byte("{\"m\":1}\n")); err != nil {
				t.Fatal(err)
			}
			if err := tree.Publish(ctx, "c", "p", "1.0", files, []byte("{}\n")); !domain.IsKind(err, domain.KindConflict) {
				t.Fatalf("published twice: %v", err)
			}
			if err := tree.Publish(ctx, "c", "..", "1.0", files, nil); !domain.IsKind(err, domain.KindInvalid) {
				t.Fatalf("a hostile name: %v", err)
			}
			for p, want := range map[string]string{
				"/downloads/c/p/1.0/a.tar.gz":                   "artifact",
				"/downloads/c/p/1.0/sub/b.txt":                  "notes",
				"/downloads/c/p/1.0/trel-release-manifest.json": "{\"m\":1}\n",
			} {
				if code, body := get(p); code != 200 || body != want {
					t.Fatalf("%s: %d %q", p, code, body)
				}
			}
			if code, body := get("/downloads/c/p/1.0/a.tar.gz", "Range", "bytes=2-4"); code != 206 || body != "tif" {
				t.Fatalf("range: %d %q", code, body)
			}
			if code, body := get("/downloads/c/p/"); code != 200 || !strings.Contains(body, "1.0/") || strings.Contains(body, "0.9") {
				t.Fatalf("listing: %d %q", code, body)
			}
			if code, body := get("/downloads/c/p/1.0/"); code != 200 || !strings.Contains(body, "a.tar.gz") || !strings.Contains(body, "sub/") {
				t.Fatalf("release listing: %d %q", code, body)
			}
			if code, _ := get("/downloads/c/p/1.0/.hidden"); code != 404 {
				t.Fatalf("hidden: %d", code)
			}
		})
	}
}
