package auth

import (
	"context"
	"time"

	"trel/internal/store"
)

// limiter counts sign-in and enrollment attempts per client address in
// the database (store.RateCounter): every replica sees the same counts,
// and concurrent attempts cannot slip past the limit.
type limiter struct {
	st     store.Store
	limit  int
	window time.Duration
}

// allow counts one attempt from key and reports whether it is within the
// limit. When the database cannot count, it refuses (fails closed).
func (l *limiter) allow(ctx context.Context, key string, now time.Time) bool {
	var n int
	err := l.st.Tx(ctx, func(tx store.Tx) error {
		var err error
		n, _, err = tx.CountHit(ctx, "signin:ip:"+key, now, l.window)
		return err
	})
	return err == nil && n <= l.limit
}
