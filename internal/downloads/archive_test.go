package downloads_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"trel/internal/blob"
	"trel/internal/blob/s3"
	"trel/internal/domain"
	"trel/internal/downloads"
	"trel/internal/testutil/services"
)

// TestArchiveMovesReleases: archiving publishes the release into the
// archive tree with the same manifest and removes it from the downloads
// tree, on disk and in a bucket; repeating it (an interrupted move) is
// harmless; each tree is served under its own prefix.
func TestArchiveMovesReleases(t *testing.T) {
	type trees struct {
		from, to downloads.Tree
		blobs    blob.Store
	}
	open := map[string]func(t *testing.T) trees{
		"disk": func(t *testing.T) trees {
			dir := t.TempDir()
			blobs, err := blob.NewDisk(filepath.Join(dir, "blobs"))
			if err != nil {
				t.Fatal(err)
			}
			from, _ := downloads.New(filepath.Join(dir, "downloads"), blobs)
			to, _ := downloads.New(filepath.Join(dir, "archive"), blobs)
			return trees{from, to, blobs}
		},
		"s3": func(t *testing.T) trees {
			st, err := s3.Open(context.Background(), services.S3(t))
			if err != nil {
				t.Fatal(err)
			}
			return trees{downloads.NewBucketTree(s3Bucket{st.Bucket("downloads")}), downloads.NewBucketTree(s3Bucket{st.Bucket("archive")}), st}
		},
	}
	for name, openTrees := range open {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tr := openTrees(t)
			mux := http.NewServeMux()
			mux.Handle("GET /downloads/", tr.from.Handler())
			mux.Handle("GET /archive/", tr.to.Handler())
			srv := httptest.NewServer(mux)
			defer srv.Close()
			get := func(p string) (int, string) {
				resp, err := http.Get(srv.URL + p)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			var files []domain.File
			for p, data := range map[string]string{"a.tar.gz": "artifact", "a.tar.gz.asc": "signature", "sub/notes.txt": "notes"} {
				b, err := tr.blobs.Put(ctx, strings.NewReader(data), 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				files = append(files, domain.File{Path: p, Blob: b})
			}
			manifest := []byte("{\"version\": \"1.0\"}\n")
			for _, v := range []string{"1.0", "1.1"} {
				if err := tr.from.Publish(ctx, "c", "p", v, files, manifest); err != nil {
					t.Fatal(err)
				}
			}
			m := downloads.Mover{From: tr.from, To: tr.to}
			for range 2 { // the second time finds it done
				if err := m.Archive(ctx, "c", "p", "1.0", files, manifest); err != nil {
					t.Fatal(err)
				}
			}
			for p, want := range map[string]int{
				"/downloads/c/p/1.0/a.tar.gz": 404, "/downloads/c/p/1.0/trel-release-manifest.json": 404, "/downloads/c/p/1.0/sub/notes.txt": 404,
				"/archive/c/p/1.0/a.tar.gz": 200, "/archive/c/p/1.0/sub/notes.txt": 200, "/downloads/c/p/1.1/a.tar.gz": 200,
			} {
				if code, _ := get(p); code != want {
					t.Errorf("%s: %d, want %d", p, code, want)
				}
			}
			if code, body := get("/archive/c/p/1.0/trel-release-manifest.json"); code != 200 || body != string(manifest) {
				t.Fatalf("archived manifest: %d %q", code, body)
			}
			if _, body := get("/downloads/c/p/"); strings.Contains(body, "1.0/") || !strings.Contains(body, "1.1/") {
				t.Fatalf("downloads listing: %s", body)
			}
			if _, body := get("/archive/c/p/"); !strings.Contains(body, "1.0/") || !strings.Contains(body, "Index of /archive/") {
				t.Fatalf("archive listing: %s", body)
			}
			if err := tr.from.Remove(ctx, "c", "..", "1.0"); !domain.IsKind(err, domain.KindInvalid) {
				t.Fatalf("a hostile name: %v", err)
			}
			if d, ok := tr.from.(*downloads.Dir); ok {
				if entries, _ := os.ReadDir(filepath.Join(d.Root(), "c", "p")); len(entries) != 1 {
					t.Fatalf("left in the downloads tree: %v", entries)
				}
			}
		})
	}
}
