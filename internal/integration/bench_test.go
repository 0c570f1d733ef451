package integration

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"trel/internal/core"
	"trel/internal/testutil/services"
)

// BenchmarkUpload1GiB uploads one large file through the Go client to a
// real server process and compares the throughput with sha512sum on the
// same file (the server computes SHA-256 and SHA-512 while it stores, so
// sha512sum is the natural yardstick). It reports:
//
//	MB/s            upload throughput (10^6 bytes per second)
//	x_sha512sum     upload throughput / sha512sum throughput
//	sha512sum_MB/s  the yardstick itself
//	peak_RSS_MiB    the server process's peak resident set (VmHWM)
//
// The size is TREL_BENCH_SIZE_MIB MiB (default 1024). Run it with
//
//	go test ./internal/integration -run '^$' -bench Upload1GiB -benchtime 1x
func BenchmarkUpload1GiB(b *testing.B) {
	b.Run("disk", func(b *testing.B) { benchUpload(b) })
	b.Run("s3", func(b *testing.B) {
		benchUpload(b, "--database", services.Postgres(b), "--blobs", services.S3(b), "--log-dir", b.TempDir())
	})
}

func benchUpload(b *testing.B, engineArgs ...string) {
	sizeMiB := 1024
	if v := os.Getenv("TREL_BENCH_SIZE_MIB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("TREL_BENCH_SIZE_MIB=%q: want a positive number of MiB", v)
		}
		sizeMiB = n
	}
	size := int64(sizeMiB) << 20
	if _, err := exec.LookPath("sha512sum"); err != nil {
		b.Fatalf("the benchmark compares with sha512sum, which is not installed: %v", err)
	}
	ctx := context.Background()

	// A random 1 MiB block, repeated: incompressible enough, fast to make.
	path := filepath.Join(b.TempDir(), "big.bin")
	block := make([]byte, 1<<20)
	rand.Read(block)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 4<<20)
	for i := 0; i < sizeMiB; i++ {
		block[i%len(block)] ^= byte(i) // no two blocks alike
		if _, err := bw.Write(block); err != nil {
			b.Fatal(err)
		}
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	// Write the test file to disk now, so that its write-back does not
	// compete with the upload being measured.
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}

	// The yardstick, on a warm page cache like the upload below.
	sha512sum := func() (string, time.Duration) {
		start := time.Now()
		out, err := exec.Command("sha512sum", path).Output()
		if err != nil {
			b.Fatalf("sha512sum: %v", err)
		}
		return strings.Fields(string(out))[0], time.Since(start)
	}
	sha512sum()
	wantSHA512, shaDur := sha512sum()

	w := newWorld(b, append([]string{"--max-file-size", fmt.Sprintf("%dMiB", sizeMiB+1)}, engineArgs...)...)
	if _, err := w.aliceC.StartRelease(ctx, "widget", "1.0.0"); err != nil {
		b.Fatal(err)
	}

	var total time.Duration
	var uploaded int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		blob, err := w.bobC.UploadContent(ctx, "widget", "1.0.0", f, size)
		total += time.Since(start)
		f.Close()
		if err != nil {
			b.Fatalf("upload: %v", err)
		}
		if blob.Size != size || blob.SHA512 != wantSHA512 {
			b.Fatalf("the server stored %d bytes with SHA-512 %.16s…; sha512sum says %d bytes, %.16s…", blob.Size, blob.SHA512, size, wantSHA512)
		}
		uploaded += size
		if i == 0 {
			// The content is usable: it becomes a revision.
			res, err := w.bobC.CreateRevision(ctx, "widget", "1.0.0", core.RevisionRequest{
				Changes: []core.Change{{Op: "put", Path: "big.bin", SHA256: blob.SHA256}}})
			if err != nil || res.Revision.Number != 1 {
				b.Fatalf("creating the revision: %+v %v", res, err)
			}
		}
	}
	b.StopTimer()

	upMBs := float64(uploaded) / 1e6 / total.Seconds()
	shaMBs := float64(size) / 1e6 / shaDur.Seconds()
	b.ReportMetric(upMBs, "MB/s")
	b.ReportMetric(upMBs/shaMBs, "x_sha512sum")
	b.ReportMetric(shaMBs, "sha512sum_MB/s")
	b.ReportMetric(float64(peakRSS(b, w.srv.cmd.Process.Pid))/1024, "peak_RSS_MiB")
}

// peakRSS returns the VmHWM of a process in KiB.
func peakRSS(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatalf("reading the server's status: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("parsing %q: %v", line, err)
			}
			return kb
		}
	}
	b.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
