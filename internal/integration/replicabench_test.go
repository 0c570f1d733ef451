package integration

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"trel/client"
	"trel/internal/core"
	"trel/internal/testutil/services"
)

// BenchmarkReplicas measures requests per second and p50/p99 latency of
// check listing, downloads of a small file and small uploads, against one
// replica and against two (the same PostgreSQL database and bucket), with
// 16 concurrent clients for a fixed 3 s per case (at most 100,000
// requests): bounded in time and count, loopback only. Where the time
// goes: CPU milliseconds per request of the trel replicas, PostgreSQL (the
// cluster's processes), the S3 server and this load generator, the cores
// they kept busy together, the rate all the machine's cores would allow
// at that CPU per request (idle_bound_req/s), and PostgreSQL transactions
// per request (each query outside a transaction is one) and rolled back
// per request (the serialisation failures trel retries). Run with
//
//	go test -run '^$' -bench BenchmarkReplicas -benchtime 1x ./internal/integration
//
// (needs the servers of ./scripts/services).
func BenchmarkReplicas(b *testing.B) {
	ctx := context.Background()
	w := newReplicaWorld(b)
	w.alice["a"].ok(b, "release", "start", "widget", "1.0")
	var changes []core.Change
	for i := range 10 {
		body := fmt.Sprintf("small file %d\n", i)
		blob, err := w.bobA.UploadContent(ctx, "widget", "1.0", strings.NewReader(body), int64(len(body)))
		if err != nil {
			b.Fatal(err)
		}
		changes = append(changes, core.Change{Op: "put", Path: fmt.Sprintf("f%d.txt", i), SHA256: blob.SHA256})
	}
	if _, err := w.bobA.CreateRevision(ctx, "widget", "1.0", core.RevisionRequest{Changes: changes}); err != nil {
		b.Fatal(err)
	}
	w.bob["a"].run(b, "checks", "wait", "widget", "1.0", "--timeout", "60s")

	ops := map[string]func(c *client.Client, i int) error{
		"check-list": func(c *client.Client, i int) error {
			_, err := c.Checks(ctx, "widget", "1.0", 1)
			return err
		},
		"download": func(c *client.Client, i int) error {
			_, err := c.Download(ctx, "widget", "1.0", 1, fmt.Sprintf("f%d.txt", i%10), io.Discard)
			return err
		},
		"upload": func(c *client.Client, i int) error {
			body := fmt.Sprintf("upload %d %d\n", i, time.Now().UnixNano())
			_, err := c.UploadContent(ctx, "widget", "1.0", strings.NewReader(body), int64(len(body)))
			return err
		},
	}
	pgPID := postgresPID(b, services.PostgresServer(b))
	procs := map[string]func() []int{
		"trel":    func() []int { return []int{w.a.cmd.Process.Pid, w.b.cmd.Process.Pid} },
		"pg":      func() []int { return append(childPIDs(pgPID), pgPID) },
		"s3":      func() []int { return []int{s3ServerPID(b, w.blobs)} },
		"loadgen": func() []int { return []int{os.Getpid()} },
	}
	cpu := func() map[string]float64 {
		m := map[string]float64{}
		for name, pids := range procs {
			for _, pid := range pids() {
				m[name] += procCPU(b, pid)
			}
		}
		return m
	}
	for _, op := range []string{"check-list", "download", "upload"} {
		for _, n := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/replicas=%d", op, n), func(b *testing.B) {
				b.ReportMetric(loadAverage(b), "load1")
				clients := []*client.Client{w.bobA, w.bobB}[:n]
				cpu0, t0 := cpu(), time.Now()
				x0, r0 := pgXacts(b, w.pg)
				rps, p50, p99, count := load(b, clients, ops[op])
				cpu1, wall := cpu(), time.Since(t0)
				x1, r1 := pgXacts(b, w.pg)
				b.ReportMetric(rps, "req/s")
				b.ReportMetric(float64(p50.Microseconds())/1000, "p50_ms")
				b.ReportMetric(float64(p99.Microseconds())/1000, "p99_ms")
				var total float64
				for name := range procs {
					used := cpu1[name] - cpu0[name]
					total += used
					b.ReportMetric(used*1000/float64(count), name+"_cpu_ms/req")
				}
				b.ReportMetric(total/wall.Seconds(), "cores_busy")
				// The rate the machine's cores would allow if these
				// processes had them all: its cores / CPU per request.
				b.ReportMetric(float64(runtime.NumCPU())*float64(count)/total, "idle_bound_req/s")
				b.ReportMetric(float64(x1-x0)/float64(count), "pg_xacts/req")
				b.ReportMetric(float64(r1-r0)/float64(count), "pg_rollbacks/req")
			})
		}
	}
}

// pgXacts is the number of transactions the database has committed and
// rolled back.
func pgXacts(b *testing.B, pg string) (commits, rollbacks int64) {
	conn, err := pgx.Connect(context.Background(), pg)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(context.Background(), `SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&commits, &rollbacks); err != nil {
		b.Fatal(err)
	}
	return commits, rollbacks
}

// postgresPID finds the postmaster serving the port of the server URL.
func postgresPID(b *testing.B, server string) int {
	u, err := url.Parse(server)
	if err != nil {
		b.Fatal(err)
	}
	port := u.Port()
	pid := findProcess(func(args []string) bool {
		return strings.HasSuffix(args[0], "/postgres") && slices.Contains(args, "-p") && slices.Contains(args, port)
	})
	if pid == 0 {
		b.Fatalf("no postgres process listens on port %s", port)
	}
	return pid
}

// childPIDs lists the processes whose parent is pid.
func childPIDs(pid int) []int {
	var out []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
		if ppid, _ := strconv.Atoi(fields[1]); ppid == pid {
			c, _ := strconv.Atoi(strings.Split(p, "/")[2])
			out = append(out, c)
		}
	}
	return out
}

// load runs f from 16 workers spread over the clients for 3 s (or 100,000
// calls) and returns the rate, the median and 99th percentile latency and
// the number of calls.
func load(b *testing.B, clients []*client.Client, f func(c *client.Client, i int) error) (float64, time.Duration, time.Duration, int) {
	const workers, duration, maxCalls = 16, 3 * time.Second, 100_000
	var mu sync.Mutex
	var lat []time.Duration
	var failed error
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(duration)
	for wkr := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clients[wkr%len(clients)]
			var mine []time.Duration
			for i := 0; time.Now().Before(deadline) && i < maxCalls/workers; i++ {
				t0 := time.Now()
				if err := f(c, i); err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failed != nil {
		b.Fatalf("a request failed: %v", failed)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		b.Fatal("no request completed")
	}
	return float64(len(lat)) / elapsed.Seconds(), lat[len(lat)/2], lat[len(lat)*99/100], len(lat)
}
