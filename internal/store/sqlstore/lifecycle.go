package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"trel/internal/domain"
)

func (s q) policies(ctx context.Context, projectID int64, limit int) ([]domain.Policy, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT p.version, p.spec, u.username, p.updated_at FROM project_policies p JOIN users u ON u.id = p.updated_by
		WHERE p.project_id = $1 ORDER BY p.version DESC LIMIT $2`, projectID, limit)
	if err != nil {
		return nil, wrap("reading policy", err)
	}
	defer rows.Close()
	var out []domain.Policy
	for rows.Next() {
		var version int
		var spec, by string
		var at int64
		if err := rows.Scan(&version, &spec, &by, &at); err != nil {
			return nil, wrap("reading policy", err)
		}
		p := domain.DefaultPolicy()
		if err := json.Unmarshal([]byte(spec), &p); err != nil {
			return nil, domain.Internal("decoding policy", err)
		}
		p.Version, p.UpdatedBy, p.UpdatedAt = version, by, fromMicros(at)
		out = append(out, p)
	}
	return out, wrap("reading policy", rows.Err())
}

func (s q) Policy(ctx context.Context, projectID int64) (*domain.Policy, error) {
	ps, err := s.policies(ctx, projectID, 1)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		p := domain.DefaultPolicy()
		return &p, nil
	}
	return &ps[0], nil
}

func (s q) PolicyHistory(ctx context.Context, projectID int64) ([]domain.Policy, error) {
	return s.policies(ctx, projectID, 1000)
}

func (s q) PutPolicy(ctx context.Context, projectID int64, p *domain.Policy, by int64, at time.Time) error {
	var latest int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(max(version), 0) FROM project_policies WHERE project_id = $1`, projectID).Scan(&latest); err != nil {
		return wrap("storing policy", err)
	}
	p.Version = latest + 1
	spec := *p
	spec.UpdatedBy, spec.UpdatedAt = "", time.Time{}
	data, _ := json.Marshal(spec)
	_, err := s.db.ExecContext(ctx, `INSERT INTO project_policies (project_id, version, spec, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)`,
		projectID, p.Version, string(data), by, micros(at))
	return wrap("storing policy", err)
}

func (s q) ReleaseManagers(ctx context.Context, releaseID int64) (map[int64]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT u.id, u.username FROM release_managers m JOIN users u ON u.id = m.user_id WHERE m.release_id = $1`, releaseID)
	if err != nil {
		return nil, wrap("reading release managers", err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, wrap("reading release managers", err)
		}
		out[id] = name
	}
	return out, wrap("reading release managers", rows.Err())
}

func (s q) AddReleaseManager(ctx context.Context, releaseID, userID int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO release_managers (release_id, user_id, added_at) VALUES ($1, $2, $3)
		ON CONFLICT (release_id, user_id) DO NOTHING`, releaseID, userID, micros(at))
	return wrap("adding release manager", err)
}

func (s q) Acks(ctx context.Context, revisionID int64) ([]domain.Ack, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT a.checker, a.path, a.inputs_hash, u.username, a.comment, a.acked_at
		FROM check_acks a JOIN users u ON u.id = a.user_id WHERE a.revision_id = $1 ORDER BY a.path, a.checker`, revisionID)
	if err != nil {
		return nil, wrap("reading acknowledgements", err)
	}
	defer rows.Close()
	var out []domain.Ack
	for rows.Next() {
		var a domain.Ack
		var at int64
		if err := rows.Scan(&a.Checker, &a.Path, &a.InputsHash, &a.User, &a.Comment, &at); err != nil {
			return nil, wrap("reading acknowledgements", err)
		}
		a.At = fromMicros(at)
		out = append(out, a)
	}
	return out, wrap("reading acknowledgements", rows.Err())
}

func (s q) PutAck(ctx context.Context, revisionID int64, a domain.Ack, userID int64) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO check_acks (revision_id, checker, path, inputs_hash, user_id, comment, acked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (revision_id, checker, path, inputs_hash) DO UPDATE SET user_id = excluded.user_id, comment = excluded.comment, acked_at = excluded.acked_at`,
		revisionID, a.Checker, a.Path, a.InputsHash, userID, a.Comment, micros(a.At))
	return wrap("storing acknowledgement", err)
}

func (s q) CurrentVote(ctx context.Context, releaseID int64) (*domain.VoteRound, error) {
	v, err := scanVoteRound(s.db.QueryRowContext(ctx, `SELECT `+voteRoundCols+voteRoundFrom+`
		WHERE r.release_id = $1 ORDER BY r.round DESC LIMIT 1`, releaseID))
	if err != nil {
		return nil, notFound(err, "no vote was started on this release: start one with `trel vote start PROJECT VERSION`")
	}
	return v, nil
}

const voteRoundCols = `r.round, r.revision, u.username, r.started_at, r.min_hours, r.min_binding_plus_ones, r.policy_version, r.resolved_at, ru.username, r.passed, r.cancel_reason`

const voteRoundFrom = ` FROM vote_rounds r JOIN users u ON u.id = r.started_by LEFT JOIN users ru ON ru.id = r.resolved_by`

func scanVoteRound(row interface{ Scan(...any) error }) (*domain.VoteRound, error) {
	var v domain.VoteRound
	var started int64
	var resolved sql.NullInt64
	var resolvedBy sql.NullString
	var passed sql.NullBool
	if err := row.Scan(&v.Round, &v.Revision, &v.StartedBy, &started, &v.MinHours, &v.MinBindingPlusOnes, &v.PolicyVersion, &resolved, &resolvedBy, &passed, &v.CancelReason); err != nil {
		return nil, err
	}
	v.StartedAt, v.ResolvedAt, v.ResolvedBy = fromMicros(started), fromNullMicros(resolved), resolvedBy.String
	if passed.Valid {
		v.Passed = &passed.Bool
	}
	return &v, nil
}

func (s q) Votes(ctx context.Context, releaseID int64, round int) ([]domain.Vote, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT u.username, v.user_id, v.value, v.binding, v.comment, v.cast_at FROM votes v JOIN users u ON u.id = v.user_id
		WHERE v.release_id = $1 AND v.round = $2 ORDER BY v.cast_at, u.username`, releaseID, round)
	if err != nil {
		return nil, wrap("reading votes", err)
	}
	defer rows.Close()
	var out []domain.Vote
	for rows.Next() {
		var v domain.Vote
		var at int64
		if err := rows.Scan(&v.User, &v.UserID, &v.Value, &v.Binding, &v.Comment, &at); err != nil {
			return nil, wrap("reading votes", err)
		}
		v.CastAt = fromMicros(at)
		out = append(out, v)
	}
	return out, wrap("reading votes", rows.Err())
}

func (s q) StartVote(ctx context.Context, releaseID int64, v domain.VoteRound, by int64) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO vote_rounds (release_id, round, revision, started_by, started_at, min_hours, min_binding_plus_ones, policy_version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		releaseID, v.Round, v.Revision, by, micros(v.StartedAt), v.MinHours, v.MinBindingPlusOnes, v.PolicyVersion)
	return wrap("starting vote", err)
}

func (s q) PutVote(ctx context.Context, releaseID int64, round int, userID int64, v domain.Vote) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO votes (release_id, round, user_id, value, binding, comment, cast_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (release_id, round, user_id) DO UPDATE SET value = excluded.value, binding = excluded.binding,
			comment = excluded.comment, cast_at = excluded.cast_at`,
		releaseID, round, userID, v.Value, v.Binding, v.Comment, micros(v.CastAt))
	return wrap("storing vote", err)
}

func (s q) ResolveVote(ctx context.Context, releaseID int64, round int, passed bool, by int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE vote_rounds SET resolved_at = $1, resolved_by = $2, passed = $3 WHERE release_id = $4 AND round = $5`,
		micros(at), by, passed, releaseID, round)
	return wrap("resolving vote", err)
}

func (s q) SetPhase(ctx context.Context, releaseID int64, phase domain.Phase, at time.Time) error {
	var published any
	if phase == domain.PhaseReleased {
		published = micros(at)
	}
	_, err := s.db.ExecContext(ctx, `UPDATE releases SET phase = $1, published_at = COALESCE($2, published_at) WHERE id = $3`, string(phase), published, releaseID)
	return wrap("changing release phase", err)
}
