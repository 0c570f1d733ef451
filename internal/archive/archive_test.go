package archive_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"trel/internal/archive"
)

// result is what a walk saw.
type result struct {
	names    []string
	content  map[string]string
	problems []archive.Problem
	err      error
	stats    archive.Stats
}

func (r result) codes() []string {
	var out []string
	for _, p := range r.problems {
		out = append(out, p.Code)
	}
	return out
}

func walkFile(t testing.TB, path string, lim archive.Limits) result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	format, _, ok := archive.FormatOf(path)
	if !ok {
		t.Fatalf("no format for %s", path)
	}
	return walk(f, st.Size(), format, lim)
}

func walk(r io.ReaderAt, size int64, format archive.Format, lim archive.Limits) result {
	res := result{content: map[string]string{}}
	ar, err := archive.Open(r, size, format, lim)
	if err != nil {
		res.err = err
		return res
	}
	defer ar.Close()
	for {
		m, err := ar.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			res.err = err
			break
		}
		res.names = append(res.names, m.Name)
		if m.Kind == archive.KindFile {
			data, err := io.ReadAll(io.LimitReader(ar, 1<<20))
			if err != nil {
				res.err = err
				break
			}
			res.content[m.Name] = string(data)
		}
	}
	res.problems, _ = ar.Problems()
	res.stats = ar.Stats()
	return res
}

func run(t testing.TB, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// tree writes files (path -> content) under dir.
func tree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var release = map[string]string{
	"apache-foo-1.0-src/LICENSE":            "Apache License\nVersion 2.0\n",
	"apache-foo-1.0-src/NOTICE":             "Apache Foo\nCopyright 2024-2026 The Apache Software Foundation\n",
	"apache-foo-1.0-src/src/main/Main.java": "class Main {}\n",
	"apache-foo-1.0-src/README.md":          "# Foo\n",
}

// TestSystemToolArchivesReadWhole: archives made by tar+gzip/bzip2/xz and
// zip are read member by member with their exact content and no problem.
func TestSystemToolArchivesReadWhole(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, release)
	cases := map[string][]string{
		"a.tar.gz":  {"tar", "-czf", "a.tar.gz", "apache-foo-1.0-src"},
		"a.tgz":     {"sh", "-c", "tar -cf - apache-foo-1.0-src | gzip -9 > a.tgz"},
		"a.tar.bz2": {"tar", "-cjf", "a.tar.bz2", "apache-foo-1.0-src"},
		"a.tar.xz":  {"tar", "-cJf", "a.tar.xz", "apache-foo-1.0-src"},
		"a.zip":     {"zip", "-qr", "a.zip", "apache-foo-1.0-src"},
		"a.jar":     {"zip", "-qr", "-0", "a.jar", "apache-foo-1.0-src"},
		"fd.zip":    {"sh", "-c", "cd apache-foo-1.0-src && find . -type f | sort | zip -q -fd ../fd.zip -@"}, // data descriptors: zip reading from a pipe
	}
	for name, cmd := range cases {
		t.Run(name, func(t *testing.T) {
			run(t, dir, cmd[0], cmd[1:]...)
			r := walkFile(t, filepath.Join(dir, name), archive.Limits{})
			if r.err != nil {
				t.Fatal(r.err)
			}
			if len(r.problems) != 0 {
				t.Fatalf("problems: %+v", r.problems)
			}
			for p, want := range release {
				got, ok := r.content[p]
				if name == "fd.zip" {
					got, ok = r.content[strings.TrimPrefix(p, "apache-foo-1.0-src/")]
				}
				if !ok || got != want {
					t.Fatalf("%s: got %q (present %v), want %q; names %v", p, got, ok, want, r.names)
				}
			}
		})
	}
}

// TestZip64 reads an archive whose member count forces zip64 records.
func TestZip64(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range 70000 {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: "d/f" + itoa(i), Method: zip.Store})
		w.Write([]byte{'x'})
	}
	zw.Close()
	if !bytes.Contains(buf.Bytes(), []byte("PK\x06\x06")) {
		t.Fatal("the archive has no zip64 end record")
	}
	r := walk(bytes.NewReader(buf.Bytes()), int64(buf.Len()), archive.Zip, archive.Limits{})
	if r.err != nil || len(r.names) != 70000 || r.content["d/f69999"] != "x" {
		t.Fatalf("err %v, %d names", r.err, len(r.names))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

type tarEntry struct {
	hdr  tar.Header
	body string
}

func goTarGz(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if h.Mode == 0 && h.Typeflag != tar.TypeXGlobalHeader {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// TestHostileNamesAreProblems: every unsafe name or member kind is reported
// with its own code and a message naming it, and the walk goes on.
func TestHostileNamesAreProblems(t *testing.T) {
	cases := []struct {
		name    string
		entries []tarEntry
		code    string
		message string
	}{
		{"absolute path", []tarEntry{{tar.Header{Name: "/etc/cron.d/evil"}, "x"}}, archive.CodeAbsolute, `"/etc/cron.d/evil" is an absolute path`},
		{"dot-dot escape", []tarEntry{{tar.Header{Name: "foo/../../evil"}, "x"}}, archive.CodeDotDot, `"foo/../../evil" contains a '..' component`},
		{"symlink to absolute", []tarEntry{{tar.Header{Name: "foo/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}, ""}}, archive.CodeLinkEscape, `symbolic link "foo/link" points to "/etc/passwd", outside the archive`},
		{"symlink up and out", []tarEntry{{tar.Header{Name: "foo/link", Typeflag: tar.TypeSymlink, Linkname: "../../x"}, ""}}, archive.CodeLinkEscape, `points to "../../x", outside`},
		{"write through a symlink", []tarEntry{{tar.Header{Name: "foo/d", Typeflag: tar.TypeSymlink, Linkname: "."}, ""}, {tar.Header{Name: "foo/d/d/evil"}, "x"}}, archive.CodeThroughLink, `"foo/d/d/evil" lies inside "foo/d", a symbolic link`},
		{"hard link outside", []tarEntry{{tar.Header{Name: "foo/h", Typeflag: tar.TypeLink, Linkname: "../etc/shadow"}, ""}}, archive.CodeLinkEscape, `hard link "foo/h" points to "../etc/shadow", outside the archive`},
		{"hard link to nothing", []tarEntry{{tar.Header{Name: "foo/h", Typeflag: tar.TypeLink, Linkname: "foo/missing"}, ""}}, archive.CodeLinkEscape, `not an earlier member`},
		{"device", []tarEntry{{tar.Header{Name: "foo/sda", Typeflag: tar.TypeBlock, Devmajor: 8}, ""}}, archive.CodeDevice, `"foo/sda" is a device file`},
		{"fifo", []tarEntry{{tar.Header{Name: "foo/pipe", Typeflag: tar.TypeFifo}, ""}}, archive.CodeDevice, `"foo/pipe" is a device file, FIFO`},
		{"duplicate", []tarEntry{{tar.Header{Name: "foo/a.txt"}, "1"}, {tar.Header{Name: "foo/a.txt"}, "2"}}, archive.CodeDuplicate, `"foo/a.txt" appears more than once`},
		{"duplicate via ./", []tarEntry{{tar.Header{Name: "foo/a.txt"}, "1"}, {tar.Header{Name: "./foo/a.txt"}, "2"}}, archive.CodeDuplicate, `"./foo/a.txt" appears more than once`},
		{"case only", []tarEntry{{tar.Header{Name: "foo/README"}, "1"}, {tar.Header{Name: "foo/readme"}, "2"}}, archive.CodeCaseCollision, `"foo/readme" differs only by letter case`},
		{"normalization only (NFC, NFD)", []tarEntry{{tar.Header{Name: "foo/caf\u00e9.txt"}, "1"}, {tar.Header{Name: "foo/cafe\u0301.txt"}, "2"}}, archive.CodeCaseCollision, `differs only by letter case or Unicode form`},
		{"Turkish dotless i", []tarEntry{{tar.Header{Name: "foo/FILE.txt"}, "1"}, {tar.Header{Name: "foo/f\u0131le.txt"}, "2"}}, archive.CodeCaseCollision, `"foo/fıle.txt" differs only by letter case`},
		{"German sharp s", []tarEntry{{tar.Header{Name: "foo/STRASSE"}, "1"}, {tar.Header{Name: "foo/stra\u00dfe"}, "2"}}, archive.CodeCaseCollision, `differs only by letter case`},
		{"bidi override", []tarEntry{{tar.Header{Name: "foo/evil\u202egz.tar.exe"}, "x"}}, archive.CodeInvalidName, `invisible formatting or bidi control`},
		{"zero-width space", []tarEntry{{tar.Header{Name: "foo/READ\u200bME"}, "x"}}, archive.CodeInvalidName, `invisible formatting or bidi control`},
		{"symlink chain out", []tarEntry{{tar.Header{Name: "foo/s", Typeflag: tar.TypeSymlink, Linkname: ".."}, ""}, {tar.Header{Name: "foo/l", Typeflag: tar.TypeSymlink, Linkname: "s/../etc/passwd"}, ""}}, archive.CodeLinkEscape, `symbolic link "foo/l" points to "s/../etc/passwd", which leads outside the archive through other symbolic links`},
		{"symlink chain out, defined later", []tarEntry{{tar.Header{Name: "foo/l", Typeflag: tar.TypeSymlink, Linkname: "s/../x"}, ""}, {tar.Header{Name: "foo/s", Typeflag: tar.TypeSymlink, Linkname: ".."}, ""}}, archive.CodeLinkEscape, `"foo/l" points to "s/../x", which leads outside`},
		{"pax path record escaping", []tarEntry{{tar.Header{Name: strings.Repeat("foo/", 30) + strings.Repeat("../", 32) + "evil", Format: tar.FormatPAX}, "x"}}, archive.CodeDotDot, `contains a '..' component`},
		{"GNU long name escaping", []tarEntry{{tar.Header{Name: strings.Repeat("foo/", 30) + strings.Repeat("../", 32) + "evil", Format: tar.FormatGNU}, "x"}}, archive.CodeDotDot, `contains a '..' component`},
		{"pax path record with a bidi control", []tarEntry{{tar.Header{Name: "foo/\u202egpj.exe", Format: tar.FormatPAX}, "x"}}, archive.CodeInvalidName, `bidi control`},
		{"pax global header naming the members", []tarEntry{{tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"path": "../../evil"}}, ""}}, archive.CodeNameMismatch, `a pax global header sets path="../../evil"`},
		{"hard link to a directory", []tarEntry{{tar.Header{Name: "foo/dir/", Typeflag: tar.TypeDir, Mode: 0o755}, ""}, {tar.Header{Name: "foo/h", Typeflag: tar.TypeLink, Linkname: "foo/dir"}, ""}}, archive.CodeLinkEscape, `hard link "foo/h" points to "foo/dir", a directory`},
		{"invalid UTF-8", []tarEntry{{tar.Header{Name: "foo/bad\xff.txt", Format: tar.FormatGNU}, "x"}}, archive.CodeInvalidName, `is not valid UTF-8`},
		{"control character", []tarEntry{{tar.Header{Name: "foo/a\x1b[31m.txt"}, "x"}}, archive.CodeInvalidName, `contains a control character`},
		{"backslash", []tarEntry{{tar.Header{Name: "foo\\..\\..\\evil"}, "x"}}, archive.CodeBackslash, `contains a backslash`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := goTarGz(t, append(c.entries, tarEntry{tar.Header{Name: "foo/last.txt"}, "end"}))
			r := walk(bytes.NewReader(data), int64(len(data)), archive.TarGz, archive.Limits{})
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.content["foo/last.txt"] != "end" {
				t.Fatal("the walk stopped at the problem")
			}
			for _, p := range r.problems {
				if p.Code == c.code && strings.Contains(p.Message, c.message) {
					return
				}
			}
			t.Fatalf("want %s %q, got %+v", c.code, c.message, r.problems)
		})
	}
}

// TestSystemTarHostile: the same refusals on archives made by GNU tar
// itself (-P keeps absolute names and "..").
func TestSystemTarHostile(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{"rel/foo/a.txt": "a", "rel/foo/README": "1", "rel/foo/readme": "2"})
	os.Symlink("/etc/passwd", filepath.Join(dir, "rel/foo/passwd"))
	run(t, filepath.Join(dir, "rel"), "tar", "-czPf", "../hostile.tar.gz", "foo", "../rel/foo/a.txt", dir+"/rel/foo/a.txt")
	run(t, filepath.Join(dir, "rel"), "sh", "-c", "tar -cf ../dup.tar foo && tar -rf ../dup.tar foo/a.txt && xz -c ../dup.tar > ../dup.tar.xz")
	r := walkFile(t, filepath.Join(dir, "hostile.tar.gz"), archive.Limits{})
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, code := range []string{archive.CodeLinkEscape, archive.CodeCaseCollision, archive.CodeDotDot, archive.CodeAbsolute} {
		if !slices.Contains(r.codes(), code) {
			t.Errorf("no %s among %+v", code, r.problems)
		}
	}
	r = walkFile(t, filepath.Join(dir, "dup.tar.xz"), archive.Limits{})
	if r.err != nil || !slices.Contains(r.codes(), archive.CodeDuplicate) {
		t.Fatalf("err %v, problems %+v", r.err, r.problems)
	}
	if _, err := os.Stat(filepath.Join(dir, "evil")); err == nil || filepath.Join(dir) == "" {
		t.Fatal("something was written")
	}
}

func errCode(t *testing.T, err error) *archive.Error {
	t.Helper()
	var ae *archive.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want an *archive.Error, got %v", err)
	}
	return ae
}

// TestBombsAreRefusedWithBoundedMemory: a gzip bomb, a single-member zip
// bomb, a 42.zip-style nested bomb, a zip that lies about its size and
// limits set by a policy each stop the walk with their own message, after
// little work and little memory.
func TestBombsAreRefusedWithBoundedMemory(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "sh", "-c", "mkdir bomb && head -c 96M /dev/zero > bomb/zeros && tar -czf gzbomb.tar.gz bomb && rm -r bomb")
	zeros := bytes.Repeat([]byte{0}, 64<<20)
	single := zipOf(t, map[string][]byte{"zeros.bin": zeros}, zip.Deflate)
	nested := single
	for range 3 {
		m := map[string][]byte{}
		for i := range 16 {
			m["layer"+itoa(i)+".zip"] = nested
		}
		nested = zipOf(t, m, zip.Deflate)
	}
	os.WriteFile(filepath.Join(dir, "single.zip"), single, 0o644)
	os.WriteFile(filepath.Join(dir, "42.zip"), nested, 0o644)
	// A member that declares 10 bytes but inflates to 64 MiB.
	var lie bytes.Buffer
	zw := zip.NewWriter(&lie)
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestSpeed)
	fw.Write(zeros)
	fw.Close()
	w, _ := zw.CreateRaw(&zip.FileHeader{Name: "small.txt", Method: zip.Deflate, CRC32: 0, CompressedSize64: uint64(comp.Len()), UncompressedSize64: 10})
	w.Write(comp.Bytes())
	zw.Close()
	os.WriteFile(filepath.Join(dir, "lie.zip"), lie.Bytes(), 0o644)
	tree(t, dir, release)
	run(t, dir, "tar", "-czf", "ok.tar.gz", "apache-foo-1.0-src")
	run(t, dir, "zip", "-qr", "ok.zip", "apache-foo-1.0-src")

	cases := []struct {
		file    string
		lim     archive.Limits
		code    string
		message string
	}{
		{"gzbomb.tar.gz", archive.Limits{}, archive.CodeRatio, "a decompression bomb"},
		{"single.zip", archive.Limits{}, archive.CodeRatio, "a zip bomb"},
		{"42.zip", archive.Limits{}, archive.CodeNestedBomb, "a nested zip bomb (like 42.zip)"},
		{"lie.zip", archive.Limits{}, archive.CodeCorrupt, `member "small.txt"`},
		{"ok.tar.gz", archive.Limits{MaxUnpacked: 4096}, archive.CodeTooLarge, "unpacks to more than 4.0 KiB"},
		{"ok.zip", archive.Limits{MaxUnpacked: 20}, archive.CodeTooLarge, "declares more than 20 B unpacked"},
		{"ok.tar.gz", archive.Limits{MaxMembers: 3}, archive.CodeTooManyMembers, "more than 3 members"},
		{"ok.zip", archive.Limits{MaxMembers: 3}, archive.CodeTooManyMembers, "more than the limit of 3"},
		{"ok.tar.gz", archive.Limits{MaxPathLen: 20}, archive.CodePathTooLong, "more than the limit of 20"},
		{"ok.zip", archive.Limits{MaxDepth: 2}, archive.CodeTooDeep, "more than the limit of 2"},
	}
	for _, c := range cases {
		t.Run(c.file+" "+c.code, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r := walkFile(t, filepath.Join(dir, c.file), c.lim)
			runtime.ReadMemStats(&after)
			ae := errCode(t, r.err)
			if ae.Code != c.code || !strings.Contains(ae.Error(), c.message) {
				t.Fatalf("got %s %q, want %s %q", ae.Code, ae.Error(), c.code, c.message)
			}
			if r.stats.Unpacked > 80<<20 {
				t.Fatalf("unpacked %d bytes before refusing", r.stats.Unpacked)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Fatalf("allocated %d MiB", alloc>>20)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 7 {
		t.Fatalf("the walks wrote files: %v", entries)
	}
}

func zipOf(t testing.TB, files map[string][]byte, method uint16) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[n])
	}
	zw.Close()
	return buf.Bytes()
}

// TestCorruptionNamesMemberAndOffset: truncated and bit-flipped archives
// of every format, and a zip with a wrong CRC, stop the walk with the
// member and the offset.
func TestCorruptionNamesMemberAndOffset(t *testing.T) {
	dir := t.TempDir()
	big := map[string]string{}
	for i := range 40 {
		var b strings.Builder
		for l := range 2000 {
			fmt.Fprintf(&b, "line %d of file %d: %x\n", l, i, crc32.ChecksumIEEE([]byte(fmt.Sprint(l, i))))
		}
		big["apache-foo-1.0-src/src/file"+itoa(i)+".txt"] = b.String()
	}
	tree(t, dir, big)
	run(t, dir, "tar", "-czf", "a.tar.gz", "apache-foo-1.0-src")
	run(t, dir, "tar", "-cjf", "a.tar.bz2", "apache-foo-1.0-src")
	run(t, dir, "tar", "-cJf", "a.tar.xz", "apache-foo-1.0-src")
	run(t, dir, "zip", "-qr", "a.zip", "apache-foo-1.0-src")
	for _, name := range []string{"a.tar.gz", "a.tar.bz2", "a.tar.xz", "a.zip"} {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		format, _, _ := archive.FormatOf(name)
		t.Run("truncated "+name, func(t *testing.T) {
			cut := data[:len(data)/2]
			r := walk(bytes.NewReader(cut), int64(len(cut)), format, archive.Limits{})
			ae := errCode(t, r.err)
			if format == archive.Zip {
				if !strings.Contains(ae.Error(), "truncated") {
					t.Fatalf("%v", ae)
				}
				return
			}
			if ae.Code != archive.CodeTruncated && ae.Code != archive.CodeCorrupt || !strings.Contains(ae.Error(), `member "`) || ae.Offset < 0 {
				t.Fatalf("%s: %v", ae.Code, ae)
			}
		})
		t.Run("bit-flipped "+name, func(t *testing.T) {
			flipped := bytes.Clone(data)
			at := len(data) / 2
			if format == archive.Zip { // inside a member's data, not a header
				zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
				off, _ := zr.File[20].DataOffset()
				at = int(off) + 100
			}
			flipped[at] ^= 0x10
			r := walk(bytes.NewReader(flipped), int64(len(flipped)), format, archive.Limits{})
			ae := errCode(t, r.err)
			// gzip has one CRC for the whole stream: damage that still
			// inflates is found at its end, after the last member.
			member := `member "apache-foo-1.0-src/src/file`
			if ae.Code == archive.CodeCRC && format == archive.TarGz {
				member = "one checksum for the whole stream"
			}
			if !strings.Contains(ae.Error(), member) || ae.Offset < 0 {
				t.Fatalf("%s: %v", ae.Code, ae)
			}
		})
	}
	t.Run("empty file", func(t *testing.T) {
		for _, format := range []archive.Format{archive.TarGz, archive.TarBz2, archive.TarXz, archive.Zip} {
			r := walk(bytes.NewReader(nil), 0, format, archive.Limits{})
			if ae := errCode(t, r.err); ae.Code != archive.CodeTruncated || !strings.Contains(ae.Error(), "the file is empty (0 bytes)") {
				t.Fatalf("%s: %s: %v", format, ae.Code, ae)
			}
		}
	})
	t.Run("wrong CRC", func(t *testing.T) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		body := []byte("hello, world\n")
		w, _ := zw.CreateRaw(&zip.FileHeader{Name: "foo/hello.txt", Method: zip.Store, CRC32: crc32.ChecksumIEEE(body) ^ 1,
			CompressedSize64: uint64(len(body)), UncompressedSize64: uint64(len(body))})
		w.Write(body)
		zw.Close()
		r := walk(bytes.NewReader(buf.Bytes()), int64(buf.Len()), archive.Zip, archive.Limits{})
		ae := errCode(t, r.err)
		if ae.Code != archive.CodeCRC || !strings.Contains(ae.Error(), `member "foo/hello.txt" at offset`) || !strings.Contains(ae.Error(), "CRC-32") {
			t.Fatalf("%s: %v", ae.Code, ae)
		}
	})
}

// TestTrailingGarbageIsReported: data after a gzip stream, after a tar's
// end marker and after a zip's end record is a problem, not an error.
func TestTrailingGarbageIsReported(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, release)
	run(t, dir, "tar", "-czf", "a.tar.gz", "apache-foo-1.0-src")
	run(t, dir, "zip", "-qr", "a.zip", "apache-foo-1.0-src")
	run(t, dir, "sh", "-c", "tar -cf - apache-foo-1.0-src > x.tar && printf 'hidden payload' >> x.tar && gzip -c x.tar > inner.tar.gz")
	for name, extra := range map[string]string{"a.tar.gz": "garbage after gzip", "a.zip": "garbage after zip", "inner.tar.gz": ""} {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		data = append(data, extra...)
		format, _, _ := archive.FormatOf(name)
		r := walk(bytes.NewReader(data), int64(len(data)), format, archive.Limits{})
		if r.err != nil {
			t.Fatalf("%s: %v", name, r.err)
		}
		if !slices.Contains(r.codes(), archive.CodeTrailing) {
			t.Fatalf("%s: no trailing garbage among %+v", name, r.problems)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "a.zip"))
	data = append([]byte("MZ self-extracting stub"), data...)
	r := walk(bytes.NewReader(data), int64(len(data)), archive.Zip, archive.Limits{})
	if !slices.Contains(r.codes(), archive.CodeTrailing) || !strings.Contains(r.problems[0].Message, "before the first zip member") {
		t.Fatalf("%v %+v", r.err, r.problems)
	}
}

// TestOverlappingZipMembersAreRefused: two central directory entries that
// point at the same data (the trick of non-recursive zip bombs).
func TestOverlappingZipMembersAreRefused(t *testing.T) {
	data := zipOf(t, map[string][]byte{"a.txt": []byte("aaaa"), "b.txt": []byte("bbbb")}, zip.Store)
	// Point b's central directory entry at a's local header.
	cd := bytes.LastIndex(data, []byte("PK\x01\x02"))
	copy(data[cd+42:cd+46], []byte{0, 0, 0, 0})
	r := walk(bytes.NewReader(data), int64(len(data)), archive.Zip, archive.Limits{})
	if r.err == nil || !strings.Contains(r.err.Error(), "overlaps") {
		t.Fatalf("got %v", r.err)
	}
}

func TestFormatOf(t *testing.T) {
	for name, want := range map[string]string{
		"apache-foo-1.0-src.tar.gz": "apache-foo-1.0-src", "dist/x-1.0.TGZ": "x-1.0", "a.tar.bz2": "a", "a.tar.xz": "a",
		"lib.jar": "lib", "pkg-1.0-py3-none-any.whl": "pkg-1.0-py3-none-any", "P.nupkg": "P", "w.war": "w",
	} {
		_, stem, ok := archive.FormatOf(name)
		if !ok || stem != want {
			t.Errorf("%s: %q %v", name, stem, ok)
		}
	}
	for _, name := range []string{"a.tar", "a.gz", ".zip", "a.rpm", "a.asc"} {
		if _, _, ok := archive.FormatOf(name); ok {
			t.Errorf("%s has a format", name)
		}
	}
}

func TestCleanName(t *testing.T) {
	for name, want := range map[string]string{
		"a/b": "a/b", "a/b/": "a/b", "./a": "a", "a//b": "a/b", `a\b`: "a/b", "/a": "a", "a/./b": "a/b",
		"a/../b": "b", "../x": "x", ".": "", "./": "", "": "",
	} {
		if got := archive.CleanName(name); got != want {
			t.Errorf("%q: %q, want %q", name, got, want)
		}
	}
}

// TestZipNamesAgree: a zip whose local header names a member differently
// from its central directory (or whose Info-ZIP Unicode path field names
// another file) extracts differently with streaming tools (Java's
// ZipInputStream, many unzip libraries) than with those reading the
// central directory: the disagreement is a problem naming both names.
func TestZipNamesAgree(t *testing.T) {
	good := zipOf(t, map[string][]byte{"foo/a.txt": []byte("aaaa"), "foo/b.txt": []byte("bbbb")}, zip.Deflate)
	if r := walk(bytes.NewReader(good), int64(len(good)), archive.Zip, archive.Limits{}); r.err != nil || len(r.problems) != 0 {
		t.Fatalf("a plain zip: %v %+v", r.err, r.problems)
	}
	// The local header of foo/b.txt (the second "foo/b.txt" in the file
	// is the central directory's) renamed to a path of the same length.
	local := slices.Clone(good)
	i := bytes.Index(local, []byte("foo/b.txt"))
	copy(local[i:], "../ab.txt")
	r := walk(bytes.NewReader(local), int64(len(local)), archive.Zip, archive.Limits{})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !slices.Contains(r.codes(), archive.CodeNameMismatch) || !strings.Contains(fmt.Sprint(r.problems), `its local header names it "../ab.txt"`) {
		t.Fatalf("local/central names differ: %+v", r.problems)
	}

	// An Info-ZIP Unicode path extra field (0x7075) naming another file.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	upath := append([]byte{1, 0, 0, 0, 0}, "../../evil.sh"...)
	extra := append([]byte{0x75, 0x70, byte(len(upath)), 0}, upath...)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "foo/run.sh", Method: zip.Store, Extra: extra})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("echo hi\n"))
	zw.Close()
	data := buf.Bytes()
	r = walk(bytes.NewReader(data), int64(len(data)), archive.Zip, archive.Limits{})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !slices.Contains(r.codes(), archive.CodeNameMismatch) || !strings.Contains(fmt.Sprint(r.problems), `"../../evil.sh"`) {
		t.Fatalf("Unicode path field: %+v", r.problems)
	}
}

// TestSparseMembersCountTheirSize: a sparse member (GNU tar --sparse, in
// the old GNU and the pax formats) unpacks to its full size with most
// extractors, although its holes take no room in the archive: the size
// limit counts that full size, and a small sparse file is fine.
func TestSparseMembersCountTheirSize(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "sh", "-c", `mkdir -p big/s small/s && truncate -s 20G big/s/disk.img && printf data >> big/s/disk.img &&
		truncate -s 512K small/s/disk.img && printf data >> small/s/disk.img &&
		tar -C big --sparse -czf gnu.tar.gz s && tar -C big --sparse --format=pax -czf pax.tar.gz s &&
		tar -C small --sparse --format=pax -czf small.tar.gz s && rm -r big small`)
	for _, name := range []string{"gnu.tar.gz", "pax.tar.gz"} {
		r := walkFile(t, filepath.Join(dir, name), archive.Limits{})
		if ae := errCode(t, r.err); ae.Code != archive.CodeTooLarge || ae.Member != "s/disk.img" || !strings.Contains(ae.Msg, "sparse") {
			t.Fatalf("%s: %v", name, r.err)
		}
	}
	r := walkFile(t, filepath.Join(dir, "small.tar.gz"), archive.Limits{})
	if r.err != nil || r.content["s/disk.img"] != string(make([]byte, 512<<10))+"data" {
		t.Fatalf("a small sparse file: %v, %d bytes", r.err, len(r.content["s/disk.img"]))
	}
}

// TestZipWithDataBefore: a zip behind a stub (a self-extracting archive)
// is read whole, whether its offsets count from the stub (`zip -A`) or
// from the zip itself, and the stub is reported.
func TestZipWithDataBefore(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, release)
	run(t, dir, "zip", "-qr", "a.zip", "apache-foo-1.0-src")
	run(t, dir, "sh", "-c", "printf '#!/bin/sh\\necho stub\\nexit 0\\n' > stub && cat stub a.zip > raw.zip && cp raw.zip adjusted.zip && zip -qA adjusted.zip")
	for _, name := range []string{"raw.zip", "adjusted.zip"} {
		t.Run(name, func(t *testing.T) {
			r := walkFile(t, filepath.Join(dir, name), archive.Limits{})
			if r.err != nil {
				t.Fatal(r.err)
			}
			for p, want := range release {
				if got := r.content[p]; got != want {
					t.Fatalf("%s: got %q, want %q", p, got, want)
				}
			}
			if len(r.problems) != 1 || r.problems[0].Code != archive.CodeTrailing || !strings.Contains(r.problems[0].Message, "data before the first zip member") {
				t.Fatalf("problems: %+v", r.problems)
			}
		})
	}
}
