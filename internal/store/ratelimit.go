package store

import (
	"context"
	"time"
)

// RateCounter counts rate-limited actions in the database, so that every
// replica enforces the same limit. It is embedded in Tx.
type RateCounter interface {
	// CountHit counts one hit in bucket for the fixed window of the given
	// length that holds now, and returns the hits in that window (this one
	// included) and when the window ends. One atomic statement: concurrent
	// hits, from any replica, are all counted.
	CountHit(ctx context.Context, bucket string, now time.Time, window time.Duration) (int, time.Time, error)
}
