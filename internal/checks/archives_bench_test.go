package checks_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"trel/internal/checks"
	"trel/internal/core"
	"trel/internal/domain"
)

// benchSourceArchive makes (once, cached in the temp directory) a .tar.gz
// of source-like content: copies of the Go distribution's src tree (many
// text files in a few languages) until the compressed file reaches
// TREL_BENCH_ARCHIVE_MIB (default 1024).
func benchSourceArchive(b *testing.B) string {
	mib := int64(1024)
	if v := os.Getenv("TREL_BENCH_ARCHIVE_MIB"); v != "" {
		fmt.Sscan(v, &mib)
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("trel-bench-%dmib-src.tar.gz", mib))
	if st, err := os.Stat(path); err == nil && st.Size() >= mib<<20 {
		return path
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	must(b, err)
	src := filepath.Join(strings.TrimSpace(string(goroot)), "src")
	dir := b.TempDir()
	top := filepath.Join(dir, fmt.Sprintf("trel-bench-%dmib-src", mib))
	must(b, os.MkdirAll(top, 0o755))
	apache, err := os.ReadFile("/usr/share/common-licenses/Apache-2.0")
	must(b, err)
	must(b, os.WriteFile(filepath.Join(top, "LICENSE"), apache, 0o644))
	must(b, os.WriteFile(filepath.Join(top, "NOTICE"), []byte("Bench\nCopyright 2020-2026 The Apache Software Foundation\n"), 0o644))
	// Measure one copy compressed, then link as many copies as reach the size.
	must(b, os.Symlink(src, filepath.Join(top, "copy000")))
	tmp := path + ".tmp"
	sh(b, dir, fmt.Sprintf("tar --hard-dereference -chf - %s | gzip -6 > %s", filepath.Base(top), tmp))
	st, err := os.Stat(tmp)
	must(b, err)
	n := int((mib<<20)/st.Size()) + 1
	for i := 1; i < n; i++ {
		must(b, os.Symlink(src, filepath.Join(top, fmt.Sprintf("copy%03d", i))))
	}
	sh(b, dir, fmt.Sprintf("tar --hard-dereference -chf - %s | gzip -6 > %s", filepath.Base(top), tmp))
	must(b, os.Rename(tmp, path))
	return path
}

// peakRSS reads the process's peak resident set size (VmHWM) in bytes.
func peakRSS() int64 {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkArchiveChecks1GiB runs all archive and licence checks of a
// 1 GiB .tar.gz of source-like content and reports the time as a ratio to
// `gzip -dc FILE | tar -t` on the same file, measured in the same run
// (target: at most 1.3), and the process's peak RSS (target: under 100 MiB;
// run this benchmark alone).
func BenchmarkArchiveChecks1GiB(b *testing.B) {
	path := benchSourceArchive(b)
	ctx := context.Background()
	// The reference runs before and after the checks; the faster run
	// counts (other work on the machine slows either).
	reference := func() time.Duration {
		start := time.Now()
		sh(b, "", "gzip -dc "+path+" | tar -t > /dev/null")
		return time.Since(start)
	}
	ref := reference()
	pol := domain.DefaultPolicy()
	var total time.Duration
	var rs []domain.CheckResult
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		var err error
		rs, err = checks.LocalArchive(ctx, path, "1.0", pol, false)
		must(b, err)
		total += time.Since(start)
	}
	b.StopTimer()
	ref = min(ref, reference())
	for _, r := range rs {
		if r.Checker == "archive" && r.Status != domain.StatusNote {
			b.Fatalf("%s %s", r.Status, r.Message)
		}
		if r.Checker == "headers" {
			b.Logf("headers: %s", r.Status)
		}
	}
	per := total / time.Duration(b.N)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(per.Seconds()/ref.Seconds(), "x_gzip_tar_t")
	b.ReportMetric(ref.Seconds(), "gzip_tar_t_s")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak_rss_MiB")
}

// BenchmarkArchiveChecksAgainstTag runs the same checks with the source
// comparison on: the archive of BenchmarkArchiveChecks1GiB (size
// TREL_BENCH_ARCHIVE_MIB, default 128 here, as the repository is made by
// committing its content) against a tag of a local git repository holding
// exactly its files. It reports the peak RSS and the members per second;
// run it alone.
func BenchmarkArchiveChecksAgainstTag(b *testing.B) {
	if os.Getenv("TREL_BENCH_ARCHIVE_MIB") == "" {
		b.Setenv("TREL_BENCH_ARCHIVE_MIB", "128")
	}
	path := benchSourceArchive(b)
	stem := strings.TrimSuffix(filepath.Base(path), ".tar.gz")
	repo := path + ".git"
	if _, err := os.Stat(repo); err != nil {
		work := b.TempDir()
		sh(b, work, "tar -xzf "+path+" && cd "+stem+" && git init -q && git add -A && git -c user.name=RM -c user.email=rm@example.org commit -qm release && git tag v1.0 && git clone -q --bare . "+repo+".tmp && mv "+repo+".tmp "+repo)
	}
	pol := domain.DefaultPolicy()
	pol.Archive.SourceRepo, pol.Archive.SourceTag = repo, "v{version}"
	b.ResetTimer()
	var rs []domain.CheckResult
	for b.Loop() {
		var err error
		rs, err = checks.LocalArchive(context.Background(), path, "1.0", pol, false)
		must(b, err)
	}
	b.StopTimer()
	found := false
	for _, r := range rs {
		if r.Checker == "source" {
			found = true
			if r.Status != domain.StatusNote {
				b.Fatalf("%s %s", r.Status, r.Message)
			}
			b.Logf("source: %s", r.Message)
		}
		if r.Checker == "archive" {
			b.ReportMetric(float64(r.Details["members"].(int)), "members")
		}
	}
	if !found {
		b.Fatal("no source comparison")
	}
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak_rss_MiB")
}

// BenchmarkRevisionOf1000Zips measures all checks of a revision with 1,000
// small .zip artifacts (LICENSE, NOTICE and a few source files each), the
// archive and licence checks included (target: under 10 s).
func BenchmarkRevisionOf1000Zips(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	apache, err := os.ReadFile("/usr/share/common-licenses/Apache-2.0")
	must(b, err)
	var req core.RevisionRequest
	for i := range 1000 {
		stem := fmt.Sprintf("alpha-lib-%04d-src", i)
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		files := map[string]string{
			"LICENSE": string(apache), "NOTICE": "Alpha Lib\nCopyright 2020-2026 The Apache Software Foundation\n",
			"src/A.java": javaHeader + fmt.Sprintf("class A%d {}\n", i), "src/b.py": "# SPDX-License-Identifier: Apache-2.0\nprint(1)\n",
			"README.md": "# Alpha\n",
		}
		for name, content := range files {
			w, err := zw.Create(stem + "/" + name)
			must(b, err)
			w.Write([]byte(content))
		}
		must(b, zw.Close())
		blob, err := f.svc.UploadFile(ctx, f.alice, "alpha-lib", "1.0", &buf, -1)
		must(b, err)
		req.Changes = append(req.Changes, core.Change{Op: "put", Path: stem + ".zip", SHA256: blob.SHA256})
	}
	res, err := f.svc.CreateRevision(ctx, f.alice, "alpha-lib", "1.0", req)
	must(b, err)
	b.ResetTimer()
	for b.Loop() {
		in, err := f.engine.Input(ctx, res.Revision.ID)
		must(b, err)
		rs := f.engine.Evaluate(ctx, in) // nothing stored, so nothing reused
		n := 0
		for _, r := range rs {
			if r.Checker == "archive" || r.Checker == "license" || r.Checker == "headers" || r.Checker == "third-party" {
				if r.Status != domain.StatusNote {
					b.Fatalf("%s %s: %s %s", r.Checker, r.Path, r.Status, r.Message)
				}
				n++
			}
		}
		if n != 5000 {
			b.Fatalf("%d archive results, want 5,000", n)
		}
	}
}
