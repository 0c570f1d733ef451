package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"trel/internal/domain"
)

// ReleaseByKeys implements store.RevisionReads.
func (s q) ReleaseByKeys(ctx context.Context, projectKey, version string) (*domain.Release, error) {
	r, err := scanRelease(s.db.QueryRowContext(ctx,
		`SELECT `+releaseCols+releaseFrom+` WHERE p.key = $1 AND r.version = $2`, projectKey, version))
	if err != nil {
		return nil, notFound(err, "no release %q of project %s: see `trel release list %s`", version, projectKey, projectKey)
	}
	return r, nil
}

// RevisionCheckRun implements store.RevisionReads.
func (s q) RevisionCheckRun(ctx context.Context, releaseID int64, number int) (*domain.CheckRun, error) {
	var r domain.CheckRun
	var state sql.NullString
	var gen, queued, started, finished sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT v.id, cr.state, cr.generation, cr.queued_at, cr.started_at, cr.finished_at
		FROM revisions v LEFT JOIN check_runs cr ON cr.revision_id = v.id WHERE v.release_id = $1 AND v.number = $2`, releaseID, number).
		Scan(&r.RevisionID, &state, &gen, &queued, &started, &finished)
	if err != nil {
		return nil, notFound(err, "revision %d does not exist: see `trel revisions PROJECT VERSION`", number)
	}
	if !state.Valid {
		return nil, domain.Errorf(domain.KindNotFound, "no checks were run on this revision")
	}
	r.State, r.Generation = state.String, int(gen.Int64)
	r.QueuedAt, r.StartedAt, r.FinishedAt = fromMicros(queued.Int64), fromNullMicros(started), fromNullMicros(finished)
	return &r, nil
}

// RevisionFile implements store.RevisionReads.
func (s q) RevisionFile(ctx context.Context, releaseID int64, number int, path string) (*domain.File, error) {
	var f domain.File
	var fpath sql.NullString
	var sha512, sha256 sql.NullString
	var size sql.NullInt64
	var s256, s512 []byte
	err := s.db.QueryRowContext(ctx, `
		SELECT f.path, b.sha256, b.sha512, b.size, b.sha256_state, b.sha512_state
		FROM revisions v
		LEFT JOIN revision_files f ON f.revision_id = v.id AND f.path = $3
		LEFT JOIN blobs b ON b.sha256 = f.sha256
		WHERE v.release_id = $1 AND v.number = $2`, releaseID, number, path).Scan(&fpath, &sha256, &sha512, &size, &s256, &s512)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.Errorf(domain.KindNotFound, "revision %d does not exist: see `trel revisions PROJECT VERSION`", number)
	}
	if err != nil {
		return nil, wrap("reading a revision file", err)
	}
	if !fpath.Valid {
		return nil, nil
	}
	f.Path, f.SHA256, f.SHA512, f.Size, f.SHA256State, f.SHA512State = fpath.String, sha256.String, sha512.String, size.Int64, s256, s512
	return &f, nil
}
