package downloads_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"trel/internal/blob"
	"trel/internal/domain"
	"trel/internal/downloads"
)

func TestPublishIsWholeAndFinal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	blobs, err := blob.NewDisk(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := downloads.New(filepath.Join(dir, "downloads"), blobs)
	if err != nil {
		t.Fatal(err)
	}
	put := func(s string) domain.Blob {
		b, err := blobs.Put(ctx, strings.NewReader(s), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	files := []domain.File{{Path: "a.tar.gz", Blob: put("artifact")}, {Path: "sub/b.txt", Blob: put("notes")}}
	if err := tree.Publish(ctx, "c", "p", "1.0", files, []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "downloads", "c", "p", "1.0", "sub", "b.txt"))
	if err != nil || string(got) != "notes" {
		t.Fatalf("%q %v", got, err)
	}
	if err := tree.Publish(ctx, "c", "p", "1.0", files, []byte("{}\n")); !domain.IsKind(err, domain.KindConflict) {
		t.Fatalf("published twice: %v", err)
	}
	// A publication that fails half-way leaves no directory behind.
	bad := append(files, domain.File{Path: "missing", Blob: domain.Blob{SHA256: strings.Repeat("0", 64)}})
	if err := tree.Publish(ctx, "c", "p", "2.0", bad, nil); err == nil {
		t.Fatal("a publication with a missing blob succeeded")
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "downloads", "c", "p"))
	if len(entries) != 1 || entries[0].Name() != "1.0" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("left behind: %v", names)
	}
	// Served read-only; hidden entries are not.
	os.MkdirAll(filepath.Join(dir, "downloads", "c", ".publish-x"), 0o755)
	srv := httptest.NewServer(tree.Handler())
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
	if code, body := get("/downloads/c/p/1.0/a.tar.gz"); code != 200 || body != "artifact" {
		t.Fatalf("%d %q", code, body)
	}
	if code, _ := get("/downloads/c/.publish-x/"); code != 404 {
		t.Fatalf("hidden directory served: %d", code)
	}
	if _, body := get("/downloads/c/"); strings.Contains(body, ".publish") || !bytes.Contains([]byte(body), []byte("p/")) {
		t.Fatalf("listing: %s", body)
	}
}
