package archive_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os/exec"
	"slices"
	"sort"
	"testing"

	"trel/internal/archive"
)

// fuzzLimits keep each fuzz input cheap.
var fuzzLimits = archive.Limits{MaxUnpacked: 8 << 20, MaxMembers: 1000}

func fuzzWalk(t *testing.T, data []byte, format archive.Format) {
	r := walk(bytes.NewReader(data), int64(len(data)), format, fuzzLimits)
	if r.stats.Unpacked > fuzzLimits.MaxUnpacked+(1<<20) {
		t.Fatalf("unpacked %d bytes past the limit", r.stats.Unpacked)
	}
	if len(r.names) > fuzzLimits.MaxMembers {
		t.Fatalf("%d members past the limit", len(r.names))
	}
}

func tarSeed(t *testing.F) []byte {
	return goTarGz(t, []tarEntry{
		{tar.Header{Name: "foo/", Typeflag: tar.TypeDir}, ""}, {tar.Header{Name: "foo/a.txt"}, "hello"},
		{tar.Header{Name: "foo/l", Typeflag: tar.TypeSymlink, Linkname: "a.txt"}, ""},
		{tar.Header{Name: "foo/h", Typeflag: tar.TypeLink, Linkname: "foo/a.txt"}, ""},
	})
}

// compressed recompresses a gzip seed's tar with a system tool.
func recompress(t *testing.F, gz []byte, tool string) []byte {
	cmd := exec.Command("sh", "-c", "gzip -dc | "+tool+" -c")
	cmd.Stdin = bytes.NewReader(gz)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func FuzzTarGz(f *testing.F) {
	f.Add(tarSeed(f))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzWalk(t, data, archive.TarGz) })
}

func FuzzTarBz2(f *testing.F) {
	f.Add(recompress(f, tarSeed(f), "bzip2"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzWalk(t, data, archive.TarBz2) })
}

func FuzzTarXz(f *testing.F) {
	f.Add(recompress(f, tarSeed(f), "xz"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzWalk(t, data, archive.TarXz) })
}

func FuzzZip(f *testing.F) {
	f.Add(zipOf(f, map[string][]byte{"foo/a.txt": []byte("hello hello hello"), "foo/b.jar": zipOf(f, map[string][]byte{"x": []byte("y")}, zip.Deflate)}, zip.Deflate))
	f.Add(zipOf(f, map[string][]byte{"foo/a.txt": []byte("hello")}, zip.Store))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzWalk(t, data, archive.Zip)
		zipAgrees(t, data)
	})
}

// zipAgrees compares trel's zip reader with archive/zip on the same bytes:
// what trel reads without error, archive/zip reads too, with the same
// names and contents (trel may refuse more: limits, overlaps, names).
func zipAgrees(t *testing.T, data []byte) {
	r := walk(bytes.NewReader(data), int64(len(data)), archive.Zip, fuzzLimits)
	if r.err != nil {
		return
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		t.Fatalf("trel read %d members that archive/zip refuses: %v", len(r.names), err)
	}
	count := map[string]int{}
	for _, f := range zr.File {
		count[f.Name]++
	}
	var names []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("trel read %q, archive/zip cannot open it: %v", f.Name, err)
		}
		got, err := io.ReadAll(io.LimitReader(rc, 1<<20))
		if err != nil {
			t.Fatalf("trel read %q, archive/zip cannot: %v", f.Name, err)
		}
		if want, ok := r.content[f.Name]; ok && count[f.Name] == 1 && want != string(got) { // duplicates: which one is ambiguous
			t.Fatalf("%q: trel read %q, archive/zip %q", f.Name, want, got)
		}
		names = append(names, f.Name)
	}
	mine := append([]string(nil), r.names...)
	sort.Strings(mine)
	sort.Strings(names)
	if !slices.Equal(mine, names) {
		t.Fatalf("trel read members %q, archive/zip %q", mine, names)
	}
}
