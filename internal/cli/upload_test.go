package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLineProgressWritesATenthAtATime: ten lines for a whole file read in
// uneven pieces, each percentage once, the last at 100%.
func TestLineProgressWritesATenthAtATime(t *testing.T) {
	var out bytes.Buffer
	size := int64(10<<20 + 7)
	p := &lineProgress{w: &out, name: "dist/a.tar.gz", size: size, next: 10}
	if _, err := io.CopyBuffer(p, io.LimitReader(zeros{}, size), make([]byte, 333333)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 10 || lines[0] != "uploading dist/a.tar.gz: 10% (1.3 MiB of 10.0 MiB)" || lines[9] != "uploading dist/a.tar.gz: 100% (10.0 MiB of 10.0 MiB)" {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// TestRetryCommandsArePasteable: the commands printed after a failed
// upload survive a POSIX shell: odd names are quoted, one command per
// folder of the release.
func TestRetryCommandsArePasteable(t *testing.T) {
	for in, want := range map[string]string{
		"a.tar.gz":      "a.tar.gz",
		"big file.bin":  "'big file.bin'",
		"it's":          `'it'\''s'`,
		"":              "''",
		"$(rm -rf /)":   "'$(rm -rf /)'",
		"--to=dist/x.y": "--to=dist/x.y",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
	got := uploadCommands("widget", "1.0", []localFile{
		{local: "w.tar.gz", target: "w.tar.gz"}, {local: "w.tar.gz.asc", target: "w.tar.gz.asc"},
		{local: "/tmp/b b.zip.asc", target: "bin/b b.zip.asc"},
	})
	if want := "trel upload widget 1.0 w.tar.gz w.tar.gz.asc\n  trel upload widget 1.0 '/tmp/b b.zip.asc' --to bin"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// FuzzShellQuote: a quoted word, read back by a POSIX shell's rules for
// single quotes and backslashes, is the word itself; and one word.
func FuzzShellQuote(f *testing.F) {
	for _, s := range []string{"", "a", "big file.bin", "it's", "$(x)", "'", "''", "a\nb", "--to=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := shellQuote(s)
		var out strings.Builder
		in := false
		for i := 0; i < len(q); i++ {
			c := q[i]
			switch {
			case in && c == '\'':
				in = false
			case in:
				out.WriteByte(c)
			case c == '\'':
				in = true
			case c == '\\' && i+1 < len(q):
				i++
				out.WriteByte(q[i])
			case strings.IndexByte(" \t\n;&|<>()$`\"*?[]#~", c) >= 0:
				t.Fatalf("shellQuote(%q) = %s: unquoted %q", s, q, c)
			default:
				out.WriteByte(c)
			}
		}
		if in || out.String() != s {
			t.Fatalf("shellQuote(%q) = %s reads back as %q", s, q, out.String())
		}
	})
}

// TestServeRefusesChunkSizesS3CannotTake: --upload-chunk-size below S3's
// 5 MiB part minimum, or above 1 GiB, is a usage error that creates
// nothing.
func TestServeRefusesChunkSizesS3CannotTake(t *testing.T) {
	for _, size := range []string{"1MiB", "2GiB", "lots"} {
		data := filepath.Join(t.TempDir(), "data")
		var stdout, stderr bytes.Buffer
		code := Main([]string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--upload-chunk-size", size}, strings.NewReader(""), &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), "--upload-chunk-size") || !strings.Contains(stderr.String(), "from 5MiB to 1GiB") {
			t.Fatalf("--upload-chunk-size %s: exit %d, %s", size, code, stderr.String())
		}
		if _, err := os.Stat(data); err == nil {
			t.Fatalf("--upload-chunk-size %s created the data directory", size)
		}
	}
}
