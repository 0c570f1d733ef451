package auth

import (
	"sync"
	"time"
)

// limiter is a token bucket per client IP: burst attempts at once, refilled
// at burst per window. It lives in memory: a restart forgives everyone,
// which is acceptable for slowing down guessing, and several replicas each
// enforce their own share.
type limiter struct {
	mu      sync.Mutex
	burst   float64
	perSec  float64
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds memory when many addresses knock at once.
const maxBuckets = 100_000

func newLimiter(burst int, window time.Duration) *limiter {
	return &limiter{burst: float64(burst), perSec: float64(burst) / window.Seconds(), buckets: map[string]*bucket{}}
}

func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.perSec)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets buckets that have refilled completely (they hold no state).
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.perSec >= l.burst {
			delete(l.buckets, k)
		}
	}
}
