package integration

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"trel/internal/testutil/services"
)

// BenchmarkUpload1GiB uploads one large file with the CLI (`trel upload`:
// the client reads the file, sends it over HTTP, the server hashes and
// stores it and creates the revision) to a real server process and
// compares the throughput with sha512sum on the same file (the server
// computes SHA-256 and SHA-512 while it stores, so sha512sum is the
// natural yardstick; the fastest of three runs). It reports:
//
//	MB/s            upload throughput (10^6 bytes per second)
//	x_sha512sum     upload throughput / sha512sum throughput
//	sha512sum_MB/s  the yardstick itself
//	peak_RSS_MiB    the server process's peak resident set (VmHWM)
//	server_cpu_s    CPU seconds the server spent per upload
//	cli_cpu_s       CPU seconds of the CLI process per upload
//	s3_cpu_s        CPU seconds of the S3 server (versitygw) per upload
//	sha512sum_cpu_s CPU seconds of sha512sum (the fastest run)
//	idle_bound_x_sha512sum  the best x_sha512sum the machine's 2 cores
//	                allow: sha512sum's CPU seconds / (the CPU seconds of
//	                server, CLI and S3 server / 2); other work on the
//	                machine slows the measured figure, not this bound
//	load1           the 1-minute load average when the benchmark started
//
// The size is TREL_BENCH_SIZE_MIB MiB (default 1024). Run it with
//
//	go test ./internal/integration -run '^$' -bench Upload1GiB -benchtime 1x
//
// Each target runs twice: the one-request upload, and the resumable upload
// (upload sessions: 16 MiB chunks, each a request whose digests and
// scanner state are saved in the database) that `trel upload` uses for
// files over 64 MiB.
func BenchmarkUpload1GiB(b *testing.B) {
	for _, resumable := range []bool{false, true} {
		suffix := ""
		if resumable {
			suffix = "-resumable"
		}
		b.Run("disk"+suffix, func(b *testing.B) { benchUpload(b, resumable, "") })
		b.Run("s3"+suffix, func(b *testing.B) {
			blobs := services.S3(b)
			benchUpload(b, resumable, blobs, "--database", services.Postgres(b), "--blobs", blobs, "--log-dir", b.TempDir())
		})
	}
}

// benchUpload measures; blobs is the s3:// URL of the bucket, if any.
func benchUpload(b *testing.B, resumable bool, blobs string, engineArgs ...string) {
	load1 := loadAverage(b)
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

	// The yardstick, on a warm page cache like the upload below: the
	// fastest of three runs (other work on the machine only slows it).
	var wantSHA512 string
	shaDur, shaCPU := time.Duration(1<<63-1), time.Duration(1<<63-1)
	for range 3 {
		cmd := exec.Command("sha512sum", path)
		start := time.Now()
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("sha512sum: %v", err)
		}
		shaDur = min(shaDur, time.Since(start))
		shaCPU = min(shaCPU, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		wantSHA512 = strings.Fields(string(out))[0]
	}

	w := newWorld(b, append([]string{"--max-file-size", fmt.Sprintf("%dMiB", sizeMiB+1)}, engineArgs...)...)
	if _, err := w.aliceC.StartRelease(ctx, "widget", "1.0.0"); err != nil {
		b.Fatal(err)
	}
	s3pid := 0
	if blobs != "" {
		s3pid = s3ServerPID(b, blobs)
	}

	var total, cliCPU time.Duration
	var serverCPU, s3CPU float64
	var uploaded int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cpu0, s3cpu0 := procCPU(b, w.srv.cmd.Process.Pid), procCPU(b, s3pid)
		// One request: no file is over the resumable threshold.
		threshold := fmt.Sprintf("%dMiB", sizeMiB)
		if resumable {
			threshold = "64MiB"
		}
		cmd := exec.Command(trelBin, "upload", "widget", "1.0.0", path, "--resumable-over", threshold)
		cmd.Env = append(baseEnv(b.TempDir()), w.bob.env...)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		total += time.Since(start)
		if err != nil {
			b.Fatalf("trel upload: %v\n%s", err, out)
		}
		cliCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		serverCPU += procCPU(b, w.srv.cmd.Process.Pid) - cpu0
		s3CPU += procCPU(b, s3pid) - s3cpu0
		uploaded += size
	}
	b.StopTimer()
	rev, err := w.bobC.Revision(ctx, "widget", "1.0.0", 1)
	if err != nil || len(rev.Files) != 1 || rev.Files[0].Size != size || rev.Files[0].SHA512 != wantSHA512 {
		b.Fatalf("the server stored %+v (%v); sha512sum says %d bytes, %.16s…", rev, err, size, wantSHA512)
	}

	upMBs := float64(uploaded) / 1e6 / total.Seconds()
	shaMBs := float64(size) / 1e6 / shaDur.Seconds()
	n := float64(b.N)
	b.ReportMetric(upMBs, "MB/s")
	b.ReportMetric(upMBs/shaMBs, "x_sha512sum")
	b.ReportMetric(shaMBs, "sha512sum_MB/s")
	b.ReportMetric(float64(peakRSS(b, w.srv.cmd.Process.Pid))/1024, "peak_RSS_MiB")
	b.ReportMetric(serverCPU/n, "server_cpu_s")
	b.ReportMetric(cliCPU.Seconds()/n, "cli_cpu_s")
	if s3pid != 0 {
		b.ReportMetric(s3CPU/n, "s3_cpu_s")
	}
	// What the machine's two cores would allow if nothing else ran: the
	// upload's processes need their CPU seconds spread over both cores at
	// best, sha512sum needs its own on one.
	uploadCPU := (serverCPU + cliCPU.Seconds() + s3CPU) / n
	b.ReportMetric(shaCPU.Seconds(), "sha512sum_cpu_s")
	b.ReportMetric(shaCPU.Seconds()/(uploadCPU/2), "idle_bound_x_sha512sum")
	b.ReportMetric(load1, "load1")
}

// loadAverage is the machine's 1-minute load average.
func loadAverage(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		b.Fatal(err)
	}
	v, err := strconv.ParseFloat(strings.Fields(string(data))[0], 64)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// procCPU returns the CPU seconds (user + system) a process has used; 0
// for pid 0.
func procCPU(b *testing.B, pid int) float64 {
	if pid == 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// s3ServerPID finds the versitygw process serving the endpoint of blobs.
func s3ServerPID(b *testing.B, blobs string) int {
	u, err := url.Parse(blobs)
	if err != nil {
		b.Fatal(err)
	}
	ep, err := url.Parse(u.Query().Get("endpoint"))
	if err != nil {
		b.Fatal(err)
	}
	pid := findProcess(func(args []string) bool {
		return strings.HasSuffix(args[0], "versitygw") && slices.Contains(args, ep.Host)
	})
	if pid == 0 {
		b.Fatalf("no versitygw process serves %s", ep.Host)
	}
	return pid
}

// findProcess returns the first process whose arguments match, 0 if none.
func findProcess(match func(args []string) bool) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err != nil || len(cmdline) == 0 {
			continue
		}
		if match(strings.Split(string(cmdline), "\x00")) {
			pid, _ := strconv.Atoi(strings.Split(p, "/")[2])
			return pid
		}
	}
	return 0
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
