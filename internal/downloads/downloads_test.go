package downloads_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"trel/internal/blob"
	"trel/internal/domain"
	"trel/internal/downloads"
)

type tree struct {
	dir   string
	blobs *blob.Disk
	tree  *downloads.Dir
}

func newTree(t *testing.T) *tree {
	t.Helper()
	dir := t.TempDir()
	blobs, err := blob.NewDisk(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := downloads.New(filepath.Join(dir, "downloads"), blobs)
	if err != nil {
		t.Fatal(err)
	}
	return &tree{dir: dir, blobs: blobs, tree: tr}
}

func (tr *tree) file(t *testing.T, path string, data []byte) domain.File {
	t.Helper()
	b, err := tr.blobs.Put(context.Background(), bytes.NewReader(data), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return domain.File{Path: path, Blob: b}
}

func TestPublishIsWholeAndFinal(t *testing.T) {
	ctx := context.Background()
	tr := newTree(t)
	files := []domain.File{tr.file(t, "a.tar.gz", []byte("artifact")), tr.file(t, "sub/b.txt", []byte("notes"))}
	if err := tr.tree.Publish(ctx, "c", "p", "1.0", files, []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(tr.dir, "downloads", "c", "p", "1.0", "sub", "b.txt"))
	if err != nil || string(got) != "notes" {
		t.Fatalf("%q %v", got, err)
	}
	// Publishing again with the same manifest is a publication resumed
	// after its rename: done already. Another manifest is a conflict.
	if err := tr.tree.Publish(ctx, "c", "p", "1.0", files, []byte("{}\n")); err != nil {
		t.Fatalf("resumed publication: %v", err)
	}
	if err := tr.tree.Publish(ctx, "c", "p", "1.0", files, []byte("{\"other\": 1}\n")); !domain.IsKind(err, domain.KindConflict) {
		t.Fatalf("published twice: %v", err)
	}
	// A publication that fails half-way leaves no directory behind.
	bad := append(files, domain.File{Path: "missing", Blob: domain.Blob{SHA256: strings.Repeat("0", 64)}})
	if err := tr.tree.Publish(ctx, "c", "p", "2.0", bad, nil); err == nil {
		t.Fatal("a publication with a missing blob succeeded")
	}
	if names := dirNames(t, filepath.Join(tr.dir, "downloads", "c", "p")); len(names) != 1 || names[0] != "1.0" {
		t.Fatalf("left behind: %v", names)
	}
	// A publication killed before its rename leaves a hidden directory;
	// CleanTemp (at start-up) removes it.
	var left string
	tr.tree.BeforeRename = func() {
		names := dirNames(t, filepath.Join(tr.dir, "downloads", "c", "p"))
		for _, n := range names {
			if strings.HasPrefix(n, ".publish-") {
				left = n
			}
		}
		panic("killed")
	}
	func() {
		defer func() { recover() }()
		tr.tree.Publish(ctx, "c", "p", "3.0", files, []byte("{}\n"))
	}()
	if left == "" {
		t.Fatal("no .publish-* directory while publishing")
	}
	os.MkdirAll(filepath.Join(tr.dir, "downloads", "c", "p", ".publish-killed"), 0o755) // as a SIGKILL leaves it
	if err := tr.tree.CleanTemp(); err != nil {
		t.Fatal(err)
	}
	for _, n := range dirNames(t, filepath.Join(tr.dir, "downloads", "c", "p")) {
		if strings.HasPrefix(n, ".") {
			t.Errorf("CleanTemp left %s", n)
		}
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// published makes a release with every kind of file a release holds.
func published(t *testing.T) (*tree, *httptest.Server, map[string][]byte) {
	t.Helper()
	tr := newTree(t)
	content := map[string][]byte{
		"a-1.0.tar.gz":            bytes.Repeat([]byte("gzip bytes "), 5000),
		"a-1.0.tar.gz.asc":        []byte("-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n"),
		"a-1.0.tar.gz.sha512":     []byte(strings.Repeat("ab", 64) + "  a-1.0.tar.gz\n"),
		"a-1.0.tar.gz.sha256":     []byte(strings.Repeat("cd", 32) + "  a-1.0.tar.gz\n"),
		"a-1.0.zip":               []byte("PK\x03\x04 zip bytes"),
		"a-1.0.tar.zst":           []byte("\x28\xb5\x2f\xfd zstd bytes"),
		"a-1.0.whl.sigstore.json": []byte(`{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}`),
		"a-1.0.cdx.json":          []byte(`{"bomFormat": "CycloneDX"}`),
		"docs/index.html":         []byte("<html><script>alert(document.cookie)</script></html>"),
		"docs/logo.svg":           []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`),
		"RELEASE-NOTES.txt":       []byte("notes\n"),
		"install.sh":              []byte("#!/bin/sh\necho hi\n"),
		"bin/tool":                []byte("\x7fELF tool"),
		"日本語 notes.txt":           []byte("names with spaces and non-ASCII\n"),
	}
	var files []domain.File
	for p, data := range content {
		files = append(files, tr.file(t, p, data))
	}
	manifest := []byte("{\n  \"committee\": \"c\"\n}\n")
	content[downloads.ManifestName] = manifest
	if err := tr.tree.Publish(context.Background(), "c", "p", "1.0", files, manifest); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /downloads/", tr.tree.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return tr, srv, content
}

func do(t *testing.T, method, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestEveryFileTypeDownloads: issue 12 found every .sha512 answering 500
// ("seeker can't seek") and every Range request 416. Each published file
// type is fetched whole, in ranges, with HEAD and with each validator.
func TestEveryFileTypeDownloads(t *testing.T) {
	_, srv, content := published(t)
	types := map[string]struct {
		ctype  string
		inline bool
	}{
		"a-1.0.tar.gz": {"application/gzip", true}, "a-1.0.tar.gz.asc": {"application/pgp-signature", true},
		"a-1.0.tar.gz.sha512": {"text/plain; charset=utf-8", true}, "a-1.0.tar.gz.sha256": {"text/plain; charset=utf-8", true},
		"a-1.0.zip": {"application/zip", true}, "a-1.0.tar.zst": {"application/zstd", true},
		"a-1.0.whl.sigstore.json": {"application/json", false}, "a-1.0.cdx.json": {"application/vnd.cyclonedx+json", false},
		"docs/index.html": {"application/octet-stream", false}, "docs/logo.svg": {"application/octet-stream", false},
		"RELEASE-NOTES.txt": {"application/octet-stream", false}, "install.sh": {"application/octet-stream", false},
		"bin/tool": {"application/octet-stream", false}, "日本語 notes.txt": {"application/octet-stream", false},
		downloads.ManifestName: {"application/json", true},
	}
	for path, data := range content {
		want, ok := types[path]
		if !ok {
			t.Fatalf("no expectation for %s", path)
		}
		u := srv.URL + "/downloads/c/p/1.0/" + escapePath(path)
		t.Run(path, func(t *testing.T) {
			resp, body := do(t, "GET", u, nil)
			h := resp.Header
			if resp.StatusCode != 200 || !bytes.Equal(body, data) {
				t.Fatalf("GET: %d, %d bytes (want %d)", resp.StatusCode, len(body), len(data))
			}
			if h.Get("Content-Type") != want.ctype {
				t.Errorf("Content-Type %q, want %q", h.Get("Content-Type"), want.ctype)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") != "sandbox; default-src 'none'; form-action 'none'" {
				t.Errorf("headers: nosniff %q, CSP %q", h.Get("X-Content-Type-Options"), h.Get("Content-Security-Policy"))
			}
			if disp := h.Get("Content-Disposition"); want.inline != (disp == "") || (!want.inline && !strings.HasPrefix(disp, "attachment")) {
				t.Errorf("Content-Disposition %q for inline=%v", disp, want.inline)
			}
			etag, lastMod := h.Get("ETag"), h.Get("Last-Modified")
			if etag == "" || strings.HasPrefix(etag, "W/") || lastMod == "" || h.Get("Accept-Ranges") != "bytes" {
				t.Fatalf("validators: ETag %q, Last-Modified %q, Accept-Ranges %q", etag, lastMod, h.Get("Accept-Ranges"))
			}
			// A resumed download (curl -C -, wget -c): the rest from an offset.
			off := len(data) / 3
			resp, body = do(t, "GET", u, map[string]string{"Range": fmt.Sprintf("bytes=%d-", off)})
			if resp.StatusCode != 206 || !bytes.Equal(body, data[off:]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", off, len(data)-1, len(data)) {
				t.Fatalf("resume: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Range"), len(body))
			}
			resp, body = do(t, "GET", u, map[string]string{"Range": "bytes=1-3"})
			if resp.StatusCode != 206 || !bytes.Equal(body, data[1:4]) {
				t.Fatalf("range 1-3: %d %q", resp.StatusCode, body)
			}
			resp, body = do(t, "GET", u, map[string]string{"Range": "bytes=-2"})
			if resp.StatusCode != 206 || !bytes.Equal(body, data[len(data)-2:]) {
				t.Fatalf("suffix range: %d %q", resp.StatusCode, body)
			}
			if resp, _ = do(t, "GET", u, map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(data)+10)}); resp.StatusCode != 416 {
				t.Fatalf("a range past the end: %d", resp.StatusCode)
			}
			// If-Range: the same version gives the range, another the whole file.
			resp, body = do(t, "GET", u, map[string]string{"Range": "bytes=1-3", "If-Range": etag})
			if resp.StatusCode != 206 || !bytes.Equal(body, data[1:4]) {
				t.Fatalf("If-Range with the current ETag: %d", resp.StatusCode)
			}
			resp, body = do(t, "GET", u, map[string]string{"Range": "bytes=1-3", "If-Range": `"other"`})
			if resp.StatusCode != 200 || !bytes.Equal(body, data) {
				t.Fatalf("If-Range with another ETag: %d", resp.StatusCode)
			}
			resp, body = do(t, "GET", u, map[string]string{"Range": "bytes=1-3", "If-Range": lastMod})
			if resp.StatusCode != 206 {
				t.Fatalf("If-Range with the date: %d", resp.StatusCode)
			}
			if resp, _ = do(t, "GET", u, map[string]string{"If-None-Match": etag}); resp.StatusCode != 304 {
				t.Fatalf("If-None-Match: %d", resp.StatusCode)
			}
			if resp, _ = do(t, "GET", u, map[string]string{"If-Modified-Since": lastMod}); resp.StatusCode != 304 {
				t.Fatalf("If-Modified-Since: %d", resp.StatusCode)
			}
			resp, body = do(t, "HEAD", u, nil)
			if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(data)) || resp.Header.Get("ETag") != etag {
				t.Fatalf("HEAD: %d, %d bytes, length %d", resp.StatusCode, len(body), resp.ContentLength)
			}
		})
	}
}

func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// TestDirectoriesAreListedNotIndexed: no index.html is served in place of
// a directory, hidden directories and paths out of the tree do not exist.
func TestDirectoriesAreListedNotIndexed(t *testing.T) {
	tr, srv, _ := published(t)
	resp, body := do(t, "GET", srv.URL+"/downloads/c/p/1.0", nil)
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "/downloads/c/p/1.0/" {
		t.Fatalf("directory without slash: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = do(t, "GET", srv.URL+"/downloads/c/p/1.0/docs/", nil)
	if resp.StatusCode != 200 || strings.Contains(string(body), "<script>") || !strings.Contains(string(body), "<bdi>index.html</bdi>") {
		t.Fatalf("docs/ served %d:\n%s", resp.StatusCode, body)
	}
	if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("listing headers: %v", resp.Header)
	}
	_, body = do(t, "GET", srv.URL+"/downloads/c/p/1.0/", nil)
	for _, want := range []string{"a-1.0.tar.gz.sha512", "docs/", "<bdi>日本語 notes.txt</bdi>", "%E6%97%A5", downloads.ManifestName,
		// Each level links back to trel's page of it.
		`<a href="/projects/p/releases/1.0"><bdi>p 1.0</bdi></a>`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the listing lacks %q:\n%s", want, body)
		}
	}
	os.MkdirAll(filepath.Join(tr.dir, "downloads", "c", ".publish-x"), 0o755)
	os.WriteFile(filepath.Join(tr.dir, "downloads", "c", ".publish-x", "f"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(tr.dir, "secret.txt"), []byte("outside"), 0o644)
	os.Symlink(filepath.Join(tr.dir, "secret.txt"), filepath.Join(tr.dir, "downloads", "c", "p", "1.0", "link.txt"))
	for _, p := range []string{"/downloads/c/.publish-x/", "/downloads/c/.publish-x/f", "/downloads/c/p/1.0/link.txt",
		"/downloads/c/p/1.0/../../../../secret.txt", "/downloads/c/p/1.0/%2e%2e/x", "/downloads/c/p/1.0/a-1.0.zip/"} {
		// 404, or the mux's redirect to the cleaned path (which is not served).
		if resp, body := do(t, "GET", srv.URL+p, nil); resp.StatusCode != 404 && resp.StatusCode/100 != 3 || strings.Contains(string(body), "outside") {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	if _, body := do(t, "GET", srv.URL+"/downloads/c/", nil); strings.Contains(string(body), ".publish") || !strings.Contains(string(body), `<a href="/committees/c">`) {
		t.Errorf("listing shows a hidden directory, or no link to the committee page: %s", body)
	}
	if _, body := do(t, "GET", srv.URL+"/downloads/c/p/", nil); !strings.Contains(string(body), `<a href="/projects/p">`) {
		t.Errorf("the project listing does not link to the project page: %s", body)
	}
	if _, body := do(t, "GET", srv.URL+"/downloads/c/p/1.0/docs/", nil); strings.Contains(string(body), `/releases/`) {
		t.Errorf("a directory inside a release links to a page: %s", body)
	}
	if resp, _ := do(t, "POST", srv.URL+"/downloads/c/p/1.0/a-1.0.zip", nil); resp.StatusCode != 405 {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

// TestResumeWithCurlAndWget resumes half-downloaded files with the tools
// mirrors and people use.
func TestResumeWithCurlAndWget(t *testing.T) {
	_, srv, content := published(t)
	dir := t.TempDir()
	for _, name := range []string{"a-1.0.tar.gz", "a-1.0.tar.gz.sha512"} {
		data := content[name]
		u := srv.URL + "/downloads/c/p/1.0/" + name
		for _, tool := range [][]string{
			{"curl", "-sS", "-f", "-C", "-", "-o", "OUT", u},
			{"wget", "-q", "-c", "-O", "OUT", u},
		} {
			out := filepath.Join(dir, tool[0]+"-"+name)
			os.WriteFile(out, data[:len(data)/2], 0o644)
			args := append([]string{}, tool[1:]...)
			for i, a := range args {
				if a == "OUT" {
					args[i] = out
				}
			}
			cmd := exec.Command(tool[0], args...)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", tool[0], err, b)
			}
			got, _ := os.ReadFile(out)
			if !bytes.Equal(got, data) {
				t.Errorf("%s resumed %s into %d bytes, want %d", tool[0], name, len(got), len(data))
			}
		}
	}
}
