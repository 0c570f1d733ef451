package translog

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// benchSettings are the timing choices measured by the benchmarks: the
// defaults, and slower settings for comparison.
var benchSettings = []struct {
	name string
	opts Options
}{
	{"default batch=20ms checkpoint=100ms poll=10ms", Options{}},
	{"batch=50ms checkpoint=250ms poll=25ms", Options{BatchMaxAge: 50 * time.Millisecond, CheckpointInterval: 250 * time.Millisecond, PollInterval: 25 * time.Millisecond}},
	{"batch=100ms checkpoint=1s poll=50ms", Options{BatchMaxAge: 100 * time.Millisecond, CheckpointInterval: time.Second, PollInterval: 50 * time.Millisecond}},
}

func openBenchLog(b *testing.B, opts Options) *Log {
	b.Helper()
	base := b.TempDir()
	s, err := LoadOrCreateSigner(filepath.Join(base, "log.key"), testOrigin)
	if err != nil {
		b.Fatal(err)
	}
	l, err := Open(context.Background(), filepath.Join(base, "log"), s, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := l.Close(context.Background()); err != nil {
			b.Error(err)
		}
	})
	return l
}

// BenchmarkAppendLatency measures one Append at a time: the time from the
// call until the entry is integrated and a checkpoint committing to it is
// published and verified. Reports the median and the maximum too.
func BenchmarkAppendLatency(b *testing.B) {
	for _, bs := range benchSettings {
		b.Run(bs.name, func(b *testing.B) {
			l := openBenchLog(b, bs.opts)
			ctx := context.Background()
			var lat []time.Duration
			i := 0
			for b.Loop() {
				start := time.Now()
				if _, err := l.Append(ctx, testEntry(i, testKeys[i%len(testKeys)])); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
				i++
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
		})
	}
}

// BenchmarkAppend100Concurrent measures 100 Appends started together (one
// batch, as when a 100-file release is signed with one approval): one op
// is the time until all 100 are integrated and published.
func BenchmarkAppend100Concurrent(b *testing.B) {
	for _, bs := range benchSettings {
		b.Run(bs.name, func(b *testing.B) {
			l := openBenchLog(b, bs.opts)
			ctx := context.Background()
			n := 0
			var total time.Duration
			for b.Loop() {
				start := time.Now()
				var wg sync.WaitGroup
				errs := make(chan error, 100)
				for range 100 {
					e := testEntry(n, testKeys[n%len(testKeys)])
					n++
					wg.Go(func() {
						if _, err := l.Append(ctx, e); err != nil {
							errs <- err
						}
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(n)/total.Seconds(), "entries/s")
		})
	}
}

// BenchmarkFindByKey measures `trel log list --key` over a log of 5000
// entries read from the local directory, every bundle proven against the
// checkpoint.
func BenchmarkFindByKey(b *testing.B) {
	l := openBenchLog(b, Options{})
	const total, chunk = 5000, 1000
	for from := 0; from < total; from += chunk {
		appendAll(b, l, entriesFor(from, chunk))
	}
	ctx := context.Background()
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if cp.Size != total {
		b.Fatalf("size %d, want %d", cp.Size, total)
	}
	want := 0 // entriesFor gives entry i to testKeys[i%len(testKeys)]
	for i := range total {
		if i%len(testKeys) == 1 {
			want++
		}
	}
	for b.Loop() {
		found, err := l.Client().FindByKey(ctx, cp, testKeys[1])
		if err != nil {
			b.Fatal(err)
		}
		if len(found) != want {
			b.Fatalf("found %d", len(found))
		}
	}
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
