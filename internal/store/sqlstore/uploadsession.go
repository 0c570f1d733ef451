package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"trel/internal/domain"
)

const upSessionCols = `s.id, s.user_id, COALESCE(u.username, ''), s.release_id, COALESCE(p.key, ''), COALESCE(r.version, ''),
	s.path, s.size, s.chunk_size, s.expect_sha512, s.expect_revision, s.staging_key, s.received, s.next_part, s.parts,
	s.hash_state, s.scan_state, s.state, s.blob_sha256, s.revision, s.created_at, s.updated_at, s.expires_at`

const upSessionFrom = ` FROM upload_sessions s
	LEFT JOIN users u ON u.id = s.user_id
	LEFT JOIN releases r ON r.id = s.release_id
	LEFT JOIN projects p ON p.id = r.project_id`

func scanUpSession(row interface{ Scan(...any) error }) (*domain.UploadSession, error) {
	var s domain.UploadSession
	var expect, rev sql.NullInt64
	var parts string
	var created, updated, expires int64
	err := row.Scan(&s.ID, &s.UserID, &s.Username, &s.ReleaseID, &s.ProjectKey, &s.Version,
		&s.Path, &s.Size, &s.ChunkSize, &s.ExpectSHA512, &expect, &s.StagingKey, &s.Received, &s.NextPart, &parts,
		&s.HashState, &s.ScanState, &s.State, &s.SHA256, &rev, &created, &updated, &expires)
	if err != nil {
		return nil, err
	}
	if expect.Valid {
		n := int(expect.Int64)
		s.ExpectRevision = &n
	}
	if rev.Valid {
		n := int(rev.Int64)
		s.Revision = &n
	}
	if err := json.Unmarshal([]byte(parts), &s.Parts); err != nil {
		return nil, domain.Internal("reading an upload session's parts", err)
	}
	s.CreatedAt, s.UpdatedAt, s.ExpiresAt = fromMicros(created), fromMicros(updated), fromMicros(expires)
	return &s, nil
}

func nullInt(n *int) sql.NullInt64 {
	if n == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*n), Valid: true}
}

func partsJSON(parts []domain.StagedPart) string {
	if parts == nil {
		parts = []domain.StagedPart{}
	}
	b, _ := json.Marshal(parts)
	return string(b)
}

// UploadSession implements store.UploadSessionReader.
func (s q) UploadSession(ctx context.Context, id string) (*domain.UploadSession, error) {
	out, err := scanUpSession(s.db.QueryRowContext(ctx, `SELECT `+upSessionCols+upSessionFrom+` WHERE s.id = $1`, id))
	if err != nil {
		return nil, notFound(err, "no upload session %s: it was completed long ago, aborted or expired; start the upload again", id)
	}
	return out, nil
}

// UploadSessions implements store.UploadSessionReader.
func (s q) UploadSessions(ctx context.Context, userID, releaseID int64, now time.Time) ([]domain.UploadSession, error) {
	return queryAll(ctx, s.db, "listing upload sessions", scanUpSession, `SELECT `+upSessionCols+upSessionFrom+`
		WHERE s.user_id = $1 AND ($2 = 0 OR s.release_id = $2) AND s.expires_at > $3
		ORDER BY s.created_at, s.id`, userID, releaseID, micros(now))
}

// ExpiredUploadSessions implements store.UploadSessionReader.
func (s q) ExpiredUploadSessions(ctx context.Context, now time.Time, limit int) ([]domain.UploadSession, error) {
	return queryAll(ctx, s.db, "listing expired upload sessions", scanUpSession, `SELECT `+upSessionCols+upSessionFrom+`
		WHERE s.expires_at <= $1 ORDER BY s.expires_at, s.id LIMIT $2`, micros(now), limit)
}

// CreateUploadSession implements store.UploadSessionTx with a conditional
// insert (see TakeUploadLease for the table lock on PostgreSQL).
func (s q) CreateUploadSession(ctx context.Context, us *domain.UploadSession, maxOpen int, maxBytes int64, now time.Time) (bool, error) {
	if s.pg {
		if _, err := s.db.ExecContext(ctx, `LOCK TABLE upload_sessions IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return false, wrap("waiting for other upload sessions", err)
		}
	}
	res, err := s.db.ExecContext(ctx, `
		INSERT INTO upload_sessions (id, user_id, release_id, path, size, chunk_size, expect_sha512, expect_revision, staging_key,
			received, next_part, parts, hash_state, scan_state, state, blob_sha256, revision, created_at, updated_at, expires_at)
		SELECT CAST($1 AS TEXT), CAST($2 AS BIGINT), CAST($3 AS BIGINT), CAST($4 AS TEXT), CAST($5 AS BIGINT), CAST($6 AS BIGINT),
			CAST($7 AS TEXT), CAST($8 AS BIGINT), CAST($9 AS TEXT), 0, 1, '[]', $10, $11, 'open', '', NULL,
			CAST($12 AS BIGINT), CAST($12 AS BIGINT), CAST($13 AS BIGINT)
		WHERE (SELECT count(*) FROM upload_sessions WHERE user_id = $2 AND state <> 'completed' AND expires_at > $12) < CAST($14 AS BIGINT)
		  AND (SELECT COALESCE(SUM(size), 0) FROM upload_sessions WHERE user_id = $2 AND state <> 'completed' AND expires_at > $12) + $5 <= CAST($15 AS BIGINT)`,
		us.ID, us.UserID, us.ReleaseID, us.Path, us.Size, us.ChunkSize, us.ExpectSHA512, nullInt(us.ExpectRevision), us.StagingKey,
		us.HashState, us.ScanState, micros(now), micros(us.ExpiresAt), maxOpen, maxBytes)
	if err != nil {
		return false, wrap("creating an upload session", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap("creating an upload session", err)
	}
	if n == 1 {
		us.Received, us.NextPart, us.State, us.CreatedAt, us.UpdatedAt = 0, 1, domain.SessionOpen, now, now
	}
	return n == 1, nil
}

// NextUploadPart implements store.UploadSessionTx.
func (s q) NextUploadPart(ctx context.Context, id string, offset int64, now time.Time) (int, bool, error) {
	var part int
	err := s.db.QueryRowContext(ctx, `UPDATE upload_sessions SET next_part = next_part + 1
		WHERE id = $1 AND state = 'open' AND received = $2 AND expires_at > $3
		RETURNING next_part - 1`, id, offset, micros(now)).Scan(&part)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, wrap("numbering an upload part", err)
	}
	return part, true, nil
}

// AdvanceUploadSession implements store.UploadSessionTx.
func (s q) AdvanceUploadSession(ctx context.Context, us *domain.UploadSession, from int64, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE upload_sessions SET received = $1, parts = $2, hash_state = $3, scan_state = $4, updated_at = $5
		WHERE id = $6 AND state = 'open' AND received = $7`,
		us.Received, partsJSON(us.Parts), us.HashState, us.ScanState, micros(now), us.ID, from)
	return affectedOne(res, err, "recording an uploaded chunk")
}

// ClaimUploadSession implements store.UploadSessionTx.
func (s q) ClaimUploadSession(ctx context.Context, id string, now, stale time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE upload_sessions SET state = 'completing', updated_at = $1
		WHERE id = $2 AND received = size AND expires_at > $1
		  AND (state = 'open' OR (state = 'completing' AND updated_at < $3))`, micros(now), id, micros(stale))
	return affectedOne(res, err, "completing an upload session")
}

// ReopenUploadSession implements store.UploadSessionTx.
func (s q) ReopenUploadSession(ctx context.Context, id string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE upload_sessions SET state = 'open', updated_at = $1 WHERE id = $2 AND state = 'completing'`, micros(now), id)
	return wrap("reopening an upload session", err)
}

// FinishUploadSession implements store.UploadSessionTx.
func (s q) FinishUploadSession(ctx context.Context, id, sha256 string, revision *int, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE upload_sessions SET state = 'completed', blob_sha256 = $1, revision = $2, updated_at = $3,
		hash_state = $4, scan_state = $4, parts = '[]'
		WHERE id = $5 AND state = 'completing'`, sha256, nullInt(revision), micros(now), []byte{}, id)
	return affectedOne(res, err, "recording a completed upload session")
}

// DeleteUploadSession implements store.UploadSessionTx.
func (s q) DeleteUploadSession(ctx context.Context, id string, states ...string) (bool, error) {
	if len(states) == 0 {
		res, err := s.db.ExecContext(ctx, `DELETE FROM upload_sessions WHERE id = $1`, id)
		return affectedOne(res, err, "removing an upload session")
	}
	ok := false
	for _, st := range states {
		res, err := s.db.ExecContext(ctx, `DELETE FROM upload_sessions WHERE id = $1 AND state = $2`, id, st)
		gone, err := affectedOne(res, err, "removing an upload session")
		if err != nil {
			return false, err
		}
		ok = ok || gone
	}
	return ok, nil
}

func affectedOne(res sql.Result, err error, what string) (bool, error) {
	if err != nil {
		return false, wrap(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap(what, err)
	}
	return n == 1, nil
}
