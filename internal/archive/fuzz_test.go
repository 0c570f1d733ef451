package archive_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"os/exec"
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
	f.Fuzz(func(t *testing.T, data []byte) { fuzzWalk(t, data, archive.Zip) })
}
