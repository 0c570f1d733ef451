package downloads_test

import (
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
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
			rangeEdgeCases(t, srv.URL+"/downloads/c/p/1.0/a.tar.gz", "artifact")
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

// rangeEdgeCases fetches url (whose content is want) the ways download
// tools and mirrors do: suffix and open ranges, several ranges at once,
// ranges past the end, HEAD with a range, and If-Range with the strong
// validator, a weak one, the modification date and an older date.
func rangeEdgeCases(t *testing.T, url, want string) {
	t.Helper()
	do := func(method string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	whole, _ := do("GET", nil)
	etag, mod := whole.Header.Get("ETag"), whole.Header.Get("Last-Modified")
	if !strings.HasPrefix(etag, `"`) || mod == "" || whole.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("validators: ETag %q, Last-Modified %q, Accept-Ranges %q", etag, mod, whole.Header.Get("Accept-Ranges"))
	}
	n := len(want)
	for _, c := range []struct {
		name   string
		hdr    map[string]string
		code   int
		body   string
		crange string
	}{
		{"suffix", map[string]string{"Range": "bytes=-3"}, 206, want[n-3:], fmt.Sprintf("bytes %d-%d/%d", n-3, n-1, n)},
		{"open end", map[string]string{"Range": "bytes=5-"}, 206, want[5:], fmt.Sprintf("bytes 5-%d/%d", n-1, n)},
		{"end past the size", map[string]string{"Range": "bytes=1-999"}, 206, want[1:], fmt.Sprintf("bytes 1-%d/%d", n-1, n)},
		{"start past the size", map[string]string{"Range": "bytes=999-"}, 416, "invalid range: failed to overlap\n", fmt.Sprintf("bytes */%d", n)},
		{"a unit that is not bytes (ignored, RFC 9110)", map[string]string{"Range": "lines=1-2"}, 200, want, ""},
		{"the unit in upper case", map[string]string{"Range": "BYTES=2-4"}, 206, want[2:5], fmt.Sprintf("bytes 2-4/%d", n)},
		{"If-Range, strong validator", map[string]string{"Range": "bytes=2-", "If-Range": etag}, 206, want[2:], ""},
		{"If-Range, weak validator", map[string]string{"Range": "bytes=2-", "If-Range": "W/" + etag}, 200, want, ""},
		{"If-Range, another validator", map[string]string{"Range": "bytes=2-", "If-Range": `"changed"`}, 200, want, ""},
		{"If-Range, the modification date", map[string]string{"Range": "bytes=2-", "If-Range": mod}, 206, want[2:], ""},
		{"If-Range, an older date", map[string]string{"Range": "bytes=2-", "If-Range": "Mon, 02 Jan 2006 15:04:05 GMT"}, 200, want, ""},
		{"If-None-Match", map[string]string{"If-None-Match": etag}, 304, "", ""},
		{"If-Modified-Since", map[string]string{"If-Modified-Since": mod}, 304, "", ""},
	} {
		resp, body := do("GET", c.hdr)
		if resp.StatusCode != c.code || body != c.body || (c.crange != "" && resp.Header.Get("Content-Range") != c.crange) {
			t.Errorf("%s: %d %q (Content-Range %q), want %d %q %q", c.name, resp.StatusCode, body, resp.Header.Get("Content-Range"), c.code, c.body, c.crange)
		}
	}
	// Several ranges: one multipart/byteranges answer with each part.
	resp, body := do("GET", map[string]string{"Range": "bytes=0-1,-2"})
	mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 206 || mt != "multipart/byteranges" {
		t.Fatalf("multi-range: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(strings.NewReader(body), params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, string(b)+"@"+p.Header.Get("Content-Range"))
	}
	if wantParts := []string{want[:2] + fmt.Sprintf("@bytes 0-1/%d", n), want[n-2:] + fmt.Sprintf("@bytes %d-%d/%d", n-2, n-1, n)}; strings.Join(parts, "|") != strings.Join(wantParts, "|") {
		t.Errorf("multi-range parts %q, want %q", parts, wantParts)
	}
	// HEAD with a range: the headers of the part, no body.
	resp, body = do("HEAD", map[string]string{"Range": "bytes=0-2"})
	if resp.StatusCode != 206 || body != "" || resp.Header.Get("Content-Length") != "3" {
		t.Errorf("HEAD with a range: %d %q length %q", resp.StatusCode, body, resp.Header.Get("Content-Length"))
	}
}
