package sqlstore

import (
	"context"
	"time"
)

func (s q) PinPublisher(ctx context.Context, projectID, publisherID int64, ids string, at time.Time) (string, error) {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO publisher_pins (project_id, publisher_id, subject_ids, pinned_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (project_id, publisher_id) DO NOTHING`, projectID, publisherID, ids, micros(at)); err != nil {
		return "", wrap("pinning a trusted publisher", err)
	}
	var pinned string
	err := s.db.QueryRowContext(ctx, `SELECT subject_ids FROM publisher_pins WHERE project_id = $1 AND publisher_id = $2`, projectID, publisherID).Scan(&pinned)
	return pinned, wrap("pinning a trusted publisher", err)
}
