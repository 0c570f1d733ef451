package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"trel/internal/domain"
)

func (s q) CheckRun(ctx context.Context, revisionID int64) (*domain.CheckRun, error) {
	var r domain.CheckRun
	var queued int64
	var started, finished sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT revision_id, state, generation, queued_at, started_at, finished_at FROM check_runs WHERE revision_id = $1`, revisionID).
		Scan(&r.RevisionID, &r.State, &r.Generation, &queued, &started, &finished)
	if err != nil {
		return nil, notFound(err, "no checks were run on this revision")
	}
	r.QueuedAt, r.StartedAt, r.FinishedAt = fromMicros(queued), fromNullMicros(started), fromNullMicros(finished)
	return &r, nil
}

func (s q) QueuedRuns(ctx context.Context) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT revision_id FROM check_runs WHERE state <> 'done' ORDER BY revision_id`)
	if err != nil {
		return nil, wrap("listing queued checks", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, wrap("listing queued checks", err)
		}
		out = append(out, id)
	}
	return out, wrap("listing queued checks", rows.Err())
}

func (s q) results(ctx context.Context, query string, args ...any) ([]domain.CheckResult, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT checker, checker_version, path, inputs_hash, status, message, details, created_at FROM check_results `+query, args...)
	if err != nil {
		return nil, wrap("reading check results", err)
	}
	defer rows.Close()
	var out []domain.CheckResult
	for rows.Next() {
		var r domain.CheckResult
		var details string
		var created int64
		if err := rows.Scan(&r.Checker, &r.CheckerVersion, &r.Path, &r.InputsHash, &r.Status, &r.Message, &details, &created); err != nil {
			return nil, wrap("reading check results", err)
		}
		r.CreatedAt = fromMicros(created)
		if err := json.Unmarshal([]byte(details), &r.Details); err != nil {
			return nil, domain.Internal("decoding check details", err)
		}
		out = append(out, r)
	}
	return out, wrap("reading check results", rows.Err())
}

func (s q) CheckResults(ctx context.Context, revisionID int64) ([]domain.CheckResult, error) {
	return s.results(ctx, `WHERE revision_id = $1 ORDER BY path, checker, idx`, revisionID)
}

func (s q) ReusableResults(ctx context.Context, checker string, version int, inputsHash string) ([]domain.CheckResult, error) {
	// Any one earlier revision's results for these inputs will do.
	return s.results(ctx, `WHERE revision_id = (SELECT max(revision_id) FROM check_results WHERE checker = $1 AND checker_version = $2 AND inputs_hash = $3)
		AND checker = $1 AND checker_version = $2 AND inputs_hash = $3 ORDER BY idx`, checker, version, inputsHash)
}

func (s q) QueueCheckRun(ctx context.Context, revisionID int64, at time.Time) (*domain.CheckRun, error) {
	var gen int
	err := s.db.QueryRowContext(ctx, `
		INSERT INTO check_runs (revision_id, state, generation, queued_at) VALUES ($1, 'queued', 1, $2)
		ON CONFLICT (revision_id) DO UPDATE SET state = 'queued', generation = check_runs.generation + 1,
			queued_at = excluded.queued_at, started_at = NULL, finished_at = NULL
		RETURNING generation`, revisionID, micros(at)).Scan(&gen)
	if err != nil {
		return nil, wrap("queueing checks", err)
	}
	return &domain.CheckRun{RevisionID: revisionID, State: domain.RunQueued, Generation: gen, QueuedAt: at}, nil
}

func (s q) StartCheckRun(ctx context.Context, revisionID int64, gen int, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE check_runs SET state = 'running', started_at = $1 WHERE revision_id = $2 AND generation = $3 AND state <> 'done'`,
		micros(at), revisionID, gen)
	if err != nil {
		return false, wrap("starting checks", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

func (s q) FinishCheckRun(ctx context.Context, revisionID int64, gen int, results []domain.CheckResult, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE check_runs SET state = 'done', finished_at = $1 WHERE revision_id = $2 AND generation = $3`,
		micros(at), revisionID, gen)
	if err != nil {
		return false, wrap("finishing checks", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil // a newer run was queued: its results will replace ours
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM check_results WHERE revision_id = $1`, revisionID); err != nil {
		return false, wrap("storing check results", err)
	}
	idx := map[[2]string]int{}
	for _, r := range results {
		k := [2]string{r.Checker, r.Path}
		details, err := json.Marshal(r.Details)
		if err != nil {
			return false, domain.Internal("encoding check details", err)
		}
		_, err = s.db.ExecContext(ctx, `
			INSERT INTO check_results (revision_id, checker, checker_version, path, idx, inputs_hash, status, message, details, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			revisionID, r.Checker, r.CheckerVersion, r.Path, idx[k], r.InputsHash, string(r.Status), r.Message, string(details), micros(r.CreatedAt))
		if err != nil {
			return false, wrap("storing check results", err)
		}
		idx[k]++
	}
	return true, nil
}

func (s q) RevisionByID(ctx context.Context, id int64) (*domain.Revision, error) {
	var releaseID int64
	var number int
	err := s.db.QueryRowContext(ctx, `SELECT release_id, number FROM revisions WHERE id = $1`, id).Scan(&releaseID, &number)
	if err != nil {
		return nil, notFound(err, "no revision with id %d", id)
	}
	return s.Revision(ctx, releaseID, number)
}

func (s q) ReleaseByID(ctx context.Context, id int64) (*domain.Release, error) {
	r, err := scanRelease(s.db.QueryRowContext(ctx, `SELECT `+releaseCols+releaseFrom+` WHERE r.id = $1`, id))
	if err != nil {
		return nil, notFound(err, "no release with id %d", id)
	}
	return r, nil
}

func (s q) UploadTimes(ctx context.Context, releaseID int64) (map[string]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT sha256, created_at FROM release_uploads WHERE release_id = $1`, releaseID)
	if err != nil {
		return nil, wrap("reading upload times", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var sha string
		var at int64
		if err := rows.Scan(&sha, &at); err != nil {
			return nil, wrap("reading upload times", err)
		}
		out[sha] = fromMicros(at)
	}
	return out, wrap("reading upload times", rows.Err())
}

func (s q) OpenDraftRevisions(ctx context.Context, committeeID int64) ([]int64, error) {
	return s.openDrafts(ctx, `$1 = 0 OR p.committee_id = $1`, committeeID)
}

func (s q) OpenProjectRevisions(ctx context.Context, projectID int64) ([]int64, error) {
	return s.openDrafts(ctx, `r.project_id = $1`, projectID)
}

// openDrafts lists the latest revision id of each open release (draft,
// candidate or preview: a vote's revision is its latest) matching
// the condition on releases r and projects p.
func (s q) openDrafts(ctx context.Context, cond string, arg int64) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT v.id FROM revisions v JOIN releases r ON r.id = v.release_id JOIN projects p ON p.id = r.project_id
		WHERE r.phase IN ('draft', 'candidate', 'preview') AND (`+cond+`)
		AND v.number = (SELECT max(number) FROM revisions WHERE release_id = r.id) ORDER BY v.id`, arg)
	if err != nil {
		return nil, wrap("listing drafts", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, wrap("listing drafts", err)
		}
		out = append(out, id)
	}
	return out, wrap("listing drafts", rows.Err())
}
