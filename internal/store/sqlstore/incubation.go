package sqlstore

import (
	"context"
	"time"
)

func (s q) Incubating(ctx context.Context, committeeID int64) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM committee_incubation WHERE committee_id = $1`, committeeID).Scan(&n)
	return n > 0, wrap("reading incubation", err)
}

func (s q) SetIncubating(ctx context.Context, committeeID int64, on bool, by int64, at time.Time) error {
	if !on {
		_, err := s.db.ExecContext(ctx, `DELETE FROM committee_incubation WHERE committee_id = $1`, committeeID)
		return wrap("storing incubation", err)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO committee_incubation (committee_id, since, marked_by) VALUES ($1, $2, NULLIF($3, 0)) ON CONFLICT (committee_id) DO NOTHING`,
		committeeID, micros(at), by)
	return wrap("storing incubation", err)
}
