package integration

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"trel/client"
	"trel/internal/core"
)

// BenchmarkReplicas measures requests per second and p50/p99 latency of
// check listing, downloads of a small file and small uploads, against one
// replica and against two (the same PostgreSQL database and bucket), with
// 16 concurrent clients for a fixed 3 s per case (at most 100,000
// requests): bounded in time and count, loopback only. Run with
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
	for _, op := range []string{"check-list", "download", "upload"} {
		for _, n := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/replicas=%d", op, n), func(b *testing.B) {
				clients := []*client.Client{w.bobA, w.bobB}[:n]
				rps, p50, p99 := load(b, clients, ops[op])
				b.ReportMetric(rps, "req/s")
				b.ReportMetric(float64(p50.Microseconds())/1000, "p50_ms")
				b.ReportMetric(float64(p99.Microseconds())/1000, "p99_ms")
			})
		}
	}
}

// load runs f from 16 workers spread over the clients for 3 s (or 100,000
// calls) and returns the rate and the median and 99th percentile latency.
func load(b *testing.B, clients []*client.Client, f func(c *client.Client, i int) error) (float64, time.Duration, time.Duration) {
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
	return float64(len(lat)) / elapsed.Seconds(), lat[len(lat)/2], lat[len(lat)*99/100]
}
