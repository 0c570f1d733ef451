package s3_test

import (
	"context"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"trel/internal/blob/s3"
	"trel/internal/testutil/services"
)

// BenchmarkPut splits the cost of storing a large upload in S3 between the
// S3 server and trel: "server-only" sends the bytes as trel's parts
// without hashing them (what the S3 server alone costs: versitygw computes
// an MD5 and a CRC-64 of every part and concatenates them at completion),
// "put" is Store.Put (SHA-256 and SHA-512 in the same pass, parts in
// flight, the pointer). Both report MB/s. The size is TREL_BENCH_SIZE_MIB
// MiB (default 1024):
//
//	go test -run '^$' -bench BenchmarkPut -benchtime 2x ./internal/blob/s3
func BenchmarkPut(b *testing.B) {
	size := int64(1024) << 20
	if v := os.Getenv("TREL_BENCH_SIZE_MIB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("TREL_BENCH_SIZE_MIB=%q: want a positive number of MiB", v)
		}
		size = int64(n) << 20
	}
	ctx := context.Background()
	s, err := s3.Open(ctx, services.S3(b))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, s3.PartSize)
	for i := range buf {
		buf[i] = byte(i*131 + i>>11)
	}
	report := func(b *testing.B, d time.Duration) {
		b.ReportMetric(float64(size)*float64(b.N)/1e6/d.Seconds(), "MB/s")
	}
	b.Run("server-only", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			start := time.Now()
			if err := s.SendParts(ctx, buf, size); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
		}
		report(b, total)
	})
	b.Run("put", func(b *testing.B) {
		var total time.Duration
		for i := 0; b.Loop(); i++ {
			r := &pattern{buf: buf, left: size, salt: byte(i)}
			start := time.Now()
			if _, err := s.Put(ctx, r, size); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
		}
		report(b, total)
	})
}

// pattern reads left bytes of buf over and over, each pass salted so that
// no two uploads have the same content.
type pattern struct {
	buf  []byte
	off  int
	left int64
	salt byte
}

func (p *pattern) Read(q []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	q = q[:min(int64(len(q)), p.left)]
	n := 0
	for n < len(q) {
		c := copy(q[n:], p.buf[p.off:])
		n += c
		p.off = (p.off + c) % len(p.buf)
		if p.off == 0 {
			p.salt++
		}
	}
	q[0] ^= p.salt
	p.left -= int64(n)
	return n, nil
}
