package sqlstore

import (
	"context"
	"time"
)

// CountHit implements store.RateCounter: one upsert, so concurrent hits
// (from any replica) are all counted.
func (s q) CountHit(ctx context.Context, bucket string, now time.Time, window time.Duration) (int, time.Time, error) {
	start := now.Truncate(window)
	var n int
	err := s.db.QueryRowContext(ctx, `
		INSERT INTO rate_counters (bucket, window_start, count) VALUES ($1, $2, 1)
		ON CONFLICT (bucket) DO UPDATE SET
			count = CASE WHEN rate_counters.window_start = excluded.window_start THEN rate_counters.count + 1 ELSE 1 END,
			window_start = excluded.window_start
		RETURNING count`, bucket, micros(start)).Scan(&n)
	return n, start.Add(window), wrap("counting a rate-limited action", err)
}
