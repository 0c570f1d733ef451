package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"trel/internal/domain"
)

// StorageUsage implements store.ContentReader.
func (s q) StorageUsage(ctx context.Context, releaseID, userID int64) (domain.StorageUsage, error) {
	var u domain.StorageUsage
	err := s.db.QueryRowContext(ctx, `
		SELECT COALESCE((SELECT bytes FROM storage_usage WHERE scope = 'release' AND id = $1), 0),
		       COALESCE((SELECT bytes FROM storage_usage WHERE scope = 'user' AND id = $2), 0)`, releaseID, userID).Scan(&u.Release, &u.User)
	return u, wrap("reading storage usage", err)
}

// ChargeUpload implements store.ContentTx.
func (s q) ChargeUpload(ctx context.Context, releaseID, userID int64, sha string, quota domain.Quota, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE blobs SET touched_at = $1 WHERE sha256 = $2`, micros(at), sha); err != nil {
		return wrap("recording upload", err)
	}
	res, err := s.db.ExecContext(ctx, `
		INSERT INTO release_uploads (release_id, sha256, user_id, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (release_id, sha256) DO NOTHING`, releaseID, sha, userID, micros(at))
	if err != nil {
		return wrap("recording upload", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return wrap("recording upload", err) // already counted for this release
	}
	var size int64
	if err := s.db.QueryRowContext(ctx, `SELECT size FROM blobs WHERE sha256 = $1`, sha).Scan(&size); err != nil {
		return notFound(err, "no content with SHA-256 %s", sha)
	}
	if err := s.charge(ctx, "release", releaseID, size, quota.Release); err != nil {
		return err
	}
	return s.charge(ctx, "user", userID, size, quota.User)
}

// charge adds size to a usage counter in one conditional upsert, so that
// concurrent uploads cannot pass the limit together. A first charge
// creates the counter, so the limit is checked beforehand for it.
func (s q) charge(ctx context.Context, scope string, id, size, limit int64) error {
	var total int64
	err := sql.ErrNoRows
	if limit <= 0 || size <= limit {
		err = s.db.QueryRowContext(ctx, `
		INSERT INTO storage_usage (scope, id, bytes) VALUES ($1, $2, CAST($3 AS BIGINT))
		ON CONFLICT (scope, id) DO UPDATE SET bytes = storage_usage.bytes + excluded.bytes
		WHERE CAST($4 AS BIGINT) <= 0 OR storage_usage.bytes + excluded.bytes <= CAST($4 AS BIGINT)
		RETURNING bytes`, scope, id, size, limit).Scan(&total)
	}
	if errors.Is(err, sql.ErrNoRows) {
		var used int64
		if err := s.db.QueryRowContext(ctx, `SELECT COALESCE((SELECT bytes FROM storage_usage WHERE scope = $1 AND id = $2), 0)`, scope, id).Scan(&used); err != nil {
			return wrap("counting storage", err)
		}
		qe := &domain.QuotaExceeded{Scope: scope, Limit: limit, Used: used, Size: size}
		return &domain.Error{Kind: domain.KindTooLarge, Message: qe.Error(), Err: qe}
	}
	return wrap("counting storage", err)
}

// RecordCleanScan implements store.ContentTx.
func (s q) RecordCleanScan(ctx context.Context, sha string, version int, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO blob_scans (sha256, version, scanned_at) VALUES ($1, $2, $3)
		ON CONFLICT (sha256) DO UPDATE SET version = excluded.version, scanned_at = excluded.scanned_at
		WHERE blob_scans.version < excluded.version`, sha, version, micros(at))
	return wrap("recording a scan", err)
}

// CleanScans implements store.ContentReader.
func (s q) CleanScans(ctx context.Context, shas []string, version int) (map[string]bool, error) {
	out := map[string]bool{}
	for len(shas) > 0 {
		batch := shas[:min(len(shas), 500)]
		shas = shas[len(batch):]
		args := []any{version}
		marks := make([]string, len(batch))
		for i, sha := range batch {
			args = append(args, sha)
			marks[i] = "$" + strconv.Itoa(i+2)
		}
		rows, err := s.db.QueryContext(ctx, `SELECT sha256 FROM blob_scans WHERE version >= $1 AND sha256 IN (`+strings.Join(marks, ", ")+`)`, args...)
		if err != nil {
			return nil, wrap("reading scans", err)
		}
		for rows.Next() {
			var sha string
			if err := rows.Scan(&sha); err != nil {
				rows.Close()
				return nil, wrap("reading scans", err)
			}
			out[sha] = true
		}
		if err := rows.Close(); err != nil {
			return nil, wrap("reading scans", err)
		}
	}
	return out, nil
}

// unreferenced is the condition on blobs (with the time as $n) under which
// content may be collected.
func unreferenced(n int) string {
	return `touched_at < $` + strconv.Itoa(n) + ` AND NOT EXISTS (SELECT 1 FROM revision_files f WHERE f.sha256 = blobs.sha256)`
}

// UnreferencedBlobs implements store.ContentReader.
func (s q) UnreferencedBlobs(ctx context.Context, before time.Time, limit int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT sha256 FROM blobs WHERE `+unreferenced(1)+` ORDER BY touched_at LIMIT $2`, micros(before), limit)
	if err != nil {
		return nil, wrap("listing unreferenced content", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var sha string
		if err := rows.Scan(&sha); err != nil {
			return nil, wrap("listing unreferenced content", err)
		}
		out = append(out, sha)
	}
	return out, wrap("listing unreferenced content", rows.Err())
}

// DeleteUnreferencedBlob implements store.ContentTx.
func (s q) DeleteUnreferencedBlob(ctx context.Context, sha string, before time.Time) (bool, error) {
	var size int64
	err := s.db.QueryRowContext(ctx, `SELECT size FROM blobs WHERE sha256 = $1 AND `+unreferenced(2), sha, micros(before)).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, wrap("collecting content", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT release_id, user_id FROM release_uploads WHERE sha256 = $1`, sha)
	if err != nil {
		return false, wrap("collecting content", err)
	}
	var uploads [][2]int64
	for rows.Next() {
		var u [2]int64
		if err := rows.Scan(&u[0], &u[1]); err != nil {
			rows.Close()
			return false, wrap("collecting content", err)
		}
		uploads = append(uploads, u)
	}
	if err := rows.Close(); err != nil {
		return false, wrap("collecting content", err)
	}
	for _, u := range uploads {
		for scope, id := range map[string]int64{"release": u[0], "user": u[1]} {
			if _, err := s.db.ExecContext(ctx, `UPDATE storage_usage SET bytes = bytes - $3 WHERE scope = $1 AND id = $2`, scope, id, size); err != nil {
				return false, wrap("collecting content", err)
			}
		}
	}
	for _, stmt := range []string{`DELETE FROM release_uploads WHERE sha256 = $1`, `DELETE FROM blob_scans WHERE sha256 = $1`, `DELETE FROM blobs WHERE sha256 = $1`} {
		if _, err := s.db.ExecContext(ctx, stmt, sha); err != nil {
			return false, wrap("collecting content", err)
		}
	}
	return true, nil
}

const publicationColumns = `release_id, state, revision, manifest, log_from, log_index, COALESCE(started_by, 0), started_at, claimed_until, finished_at`

func scanPublication(row interface{ Scan(...any) error }) (*domain.Publication, error) {
	var p domain.Publication
	var manifest string
	var logIndex, finished sql.NullInt64
	var started, claimed int64
	if err := row.Scan(&p.ReleaseID, &p.State, &p.Revision, &manifest, &p.LogFrom, &logIndex, &p.StartedByID, &started, &claimed, &finished); err != nil {
		return nil, err
	}
	p.Manifest = []byte(manifest)
	if logIndex.Valid {
		idx := uint64(logIndex.Int64)
		p.LogIndex = &idx
	}
	p.StartedAt, p.ClaimedUntil, p.FinishedAt = fromMicros(started), fromMicros(claimed), fromNullMicros(finished)
	return &p, nil
}

// Publication implements store.ContentReader.
func (s q) Publication(ctx context.Context, releaseID int64) (*domain.Publication, error) {
	p, err := scanPublication(s.db.QueryRowContext(ctx, `SELECT `+publicationColumns+` FROM release_publications WHERE release_id = $1`, releaseID))
	if err != nil {
		return nil, notFound(err, "the release was never published")
	}
	return p, nil
}

// UnfinishedPublications implements store.ContentReader.
func (s q) UnfinishedPublications(ctx context.Context) ([]domain.Publication, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+publicationColumns+` FROM release_publications WHERE state = 'publishing' ORDER BY started_at`)
	if err != nil {
		return nil, wrap("reading publications", err)
	}
	defer rows.Close()
	var out []domain.Publication
	for rows.Next() {
		p, err := scanPublication(rows)
		if err != nil {
			return nil, wrap("reading publications", err)
		}
		out = append(out, *p)
	}
	return out, wrap("reading publications", rows.Err())
}

// StartPublication implements store.ContentTx.
func (s q) StartPublication(ctx context.Context, p *domain.Publication) error {
	var by any
	if p.StartedByID != 0 {
		by = p.StartedByID
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO release_publications (release_id, state, revision, manifest, log_from, started_by, started_at, claimed_until)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		p.ReleaseID, domain.PublicationPublishing, p.Revision, string(p.Manifest), int64(p.LogFrom), by, micros(p.StartedAt), micros(p.ClaimedUntil))
	return wrap("recording the publication", err)
}

// ClaimPublication implements store.ContentTx.
func (s q) ClaimPublication(ctx context.Context, releaseID int64, now, until time.Time, force bool) (bool, error) {
	res, err := s.db.ExecContext(ctx, `
		UPDATE release_publications SET claimed_until = $2
		WHERE release_id = $1 AND state = 'publishing' AND ($4 OR claimed_until < $3)`, releaseID, micros(until), micros(now), force)
	if err != nil {
		return false, wrap("claiming the publication", err)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap("claiming the publication", err)
}

// SetPublicationLogIndex implements store.ContentTx.
func (s q) SetPublicationLogIndex(ctx context.Context, releaseID int64, index uint64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE release_publications SET log_index = $2 WHERE release_id = $1`, releaseID, int64(index))
	return wrap("recording the manifest's log entry", err)
}

// FinishPublication implements store.ContentTx.
func (s q) FinishPublication(ctx context.Context, releaseID int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE release_publications SET state = 'published', finished_at = $2 WHERE release_id = $1`, releaseID, micros(at))
	return wrap("finishing the publication", err)
}
