package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// TakeUploadLease implements store.UploadLeases with a conditional insert:
// in a serialisable transaction (PostgreSQL; SQLite serialises writers)
// two uploads racing for the last lease cannot both get it. It must be the
// first thing its transaction does.
func (s q) TakeUploadLease(ctx context.Context, userID int64, holder string, max int, now, expires time.Time) (int64, bool, error) {
	// Concurrent takes queue here rather than fail serialisation and be
	// retried (see QueueUploadCharge); this is the transaction's first
	// statement.
	if s.pg {
		if _, err := s.db.ExecContext(ctx, `LOCK TABLE upload_leases IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return 0, false, wrap("waiting for other uploads", err)
		}
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM upload_leases WHERE user_id = $1 AND expires_at <= $2`, userID, micros(now)); err != nil {
		return 0, false, wrap("removing expired upload leases", err)
	}
	var id int64
	err := s.db.QueryRowContext(ctx, `
		INSERT INTO upload_leases (user_id, holder, expires_at)
		SELECT CAST($1 AS BIGINT), CAST($2 AS TEXT), CAST($3 AS BIGINT)
		WHERE (SELECT count(*) FROM upload_leases WHERE user_id = $1 AND expires_at > $4) < CAST($5 AS BIGINT)
		RETURNING id`, userID, holder, micros(expires), micros(now), max).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, wrap("taking an upload lease", err)
	}
	return id, true, nil
}

// RenewUploadLease implements store.UploadLeases.
func (s q) RenewUploadLease(ctx context.Context, id int64, expires time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE upload_leases SET expires_at = $1 WHERE id = $2`, micros(expires), id)
	return wrap("renewing an upload lease", err)
}

// DropUploadLease implements store.UploadLeases.
func (s q) DropUploadLease(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM upload_leases WHERE id = $1`, id)
	return wrap("ending an upload lease", err)
}

// DropHolderLeases implements store.UploadLeases.
func (s q) DropHolderLeases(ctx context.Context, holder string) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM upload_leases WHERE holder = $1`, holder)
	if err != nil {
		return 0, wrap("ending a replica's upload leases", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// QueueUploadCharge implements store.UploadLeases. SHARE ROW EXCLUSIVE
// conflicts with itself and with writers of storage_usage, not with its
// readers; a lock is not a query, so the serialisable snapshot is taken
// only after it is granted and sees the charges made before.
func (s q) QueueUploadCharge(ctx context.Context) error {
	if !s.pg {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `LOCK TABLE storage_usage IN SHARE ROW EXCLUSIVE MODE`)
	return wrap("waiting for other uploads", err)
}
