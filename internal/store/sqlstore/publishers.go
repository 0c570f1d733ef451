package sqlstore

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"trel/internal/domain"
)

// Trusted publishing: issuers, the publisher lookup, used token ids,
// credentials and workflow attributions (migration 00014).

func (s q) OIDCIssuers(ctx context.Context) ([]domain.OIDCIssuer, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT url, kind, web_url, added_by, added_at FROM oidc_issuers ORDER BY url`)
	if err != nil {
		return nil, wrap("listing OIDC issuers", err)
	}
	defer rows.Close()
	var out []domain.OIDCIssuer
	for rows.Next() {
		var is domain.OIDCIssuer
		var at int64
		if err := rows.Scan(&is.URL, &is.Kind, &is.WebURL, &is.AddedBy, &at); err != nil {
			return nil, wrap("listing OIDC issuers", err)
		}
		if at != 0 {
			is.AddedAt = fromMicros(at)
		}
		out = append(out, is)
	}
	return out, wrap("listing OIDC issuers", rows.Err())
}

func (s q) OIDCIssuer(ctx context.Context, url string) (*domain.OIDCIssuer, error) {
	var is domain.OIDCIssuer
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT url, kind, web_url, added_by, added_at FROM oidc_issuers WHERE url = $1`, url).
		Scan(&is.URL, &is.Kind, &is.WebURL, &is.AddedBy, &at)
	if err != nil {
		return nil, notFound(err, "trel does not accept ID tokens of issuer %s: an administrator adds it with `trel issuer add %s --kind github|gitlab`", domain.SafeText(url), domain.SafeText(url))
	}
	if at != 0 {
		is.AddedAt = fromMicros(at)
	}
	return &is, nil
}

func (s q) AddOIDCIssuer(ctx context.Context, is domain.OIDCIssuer) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO oidc_issuers (url, kind, web_url, added_by, added_at) VALUES ($1, $2, $3, $4, $5)`,
		is.URL, is.Kind, is.WebURL, is.AddedBy, micros(is.AddedAt))
	if err != nil && isUniqueViolation(err) {
		return domain.Errorf(domain.KindConflict, "issuer %s is already known: remove it first to change its kind", is.URL)
	}
	return wrap("adding an OIDC issuer", err)
}

func (s q) RemoveOIDCIssuer(ctx context.Context, url string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM oidc_issuers WHERE url = $1`, url)
	if err != nil {
		return wrap("removing an OIDC issuer", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return domain.Errorf(domain.KindNotFound, "no issuer %s: see `trel issuer list`", domain.SafeText(url))
	}
	return nil
}

func (s q) PublisherProjects(ctx context.Context, issuer, repository string) ([]domain.Project, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+projectCols+` FROM projects p JOIN committees c ON c.id = p.committee_id
		WHERE p.id IN (SELECT project_id FROM trusted_publishers WHERE issuer = $1 AND repository = $2) ORDER BY p.key`, issuer, repository)
	if err != nil {
		return nil, wrap("looking up trusted publishers", err)
	}
	defer rows.Close()
	var out []domain.Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, wrap("looking up trusted publishers", err)
		}
		out = append(out, *p)
	}
	return out, wrap("looking up trusted publishers", rows.Err())
}

func (s q) SetTrustedPublishers(ctx context.Context, projectID int64, ps []domain.TrustedPublisher) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM trusted_publishers WHERE project_id = $1`, projectID); err != nil {
		return wrap("indexing trusted publishers", err)
	}
	for _, p := range ps {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO trusted_publishers (project_id, publisher_id, issuer, repository) VALUES ($1, $2, $3, $4)`,
			projectID, p.ID, p.Issuer, p.Repository); err != nil {
			return wrap("indexing trusted publishers", err)
		}
	}
	return nil
}

func (s q) UseTokenID(ctx context.Context, issuer, jti string, expires, now time.Time) (bool, error) {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM oidc_token_uses WHERE expires_at < $1`, micros(now)); err != nil {
		return false, wrap("forgetting expired token ids", err)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO oidc_token_uses (issuer, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT (issuer, jti) DO NOTHING`,
		issuer, jti, micros(expires))
	if err != nil {
		return false, wrap("recording a token id", err)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap("recording a token id", err)
}

func (s q) CreateWorkflowRun(ctx context.Context, projectID, publisherID int64, run domain.WorkflowRun, at time.Time) (int64, error) {
	data, err := json.Marshal(run)
	if err != nil {
		return 0, domain.Internal("recording a workflow run", err)
	}
	var id int64
	err = s.db.QueryRowContext(ctx, `INSERT INTO workflow_runs (project_id, publisher_id, run, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		projectID, publisherID, string(data), micros(at)).Scan(&id)
	return id, wrap("recording a workflow run", err)
}

func (s q) CreatePublisherCredential(ctx context.Context, c *domain.PublisherCredential, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM publisher_credentials WHERE expires_at < $1`, micros(now)); err != nil {
		return wrap("forgetting expired credentials", err)
	}
	err := s.db.QueryRowContext(ctx, `INSERT INTO publisher_credentials (hash, run_id, user_id, actions, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		c.Hash, c.RunID, c.UserID, strings.Join(c.Actions, ","), micros(c.CreatedAt), micros(c.ExpiresAt)).Scan(&c.ID)
	return wrap("storing a credential", err)
}

func (s q) PublisherCredential(ctx context.Context, hash []byte) (*domain.PublisherCredential, error) {
	var c domain.PublisherCredential
	var actions, run string
	var created, expires int64
	err := s.db.QueryRowContext(ctx, `SELECT c.id, c.hash, c.run_id, c.user_id, c.actions, c.created_at, c.expires_at, r.project_id, p.key, r.publisher_id, r.run
		FROM publisher_credentials c JOIN workflow_runs r ON r.id = c.run_id JOIN projects p ON p.id = r.project_id WHERE c.hash = $1`, hash).
		Scan(&c.ID, &c.Hash, &c.RunID, &c.UserID, &actions, &created, &expires, &c.ProjectID, &c.ProjectKey, &c.PublisherID, &run)
	if err != nil {
		return nil, notFound(err, "unknown credential")
	}
	c.Actions = strings.Split(actions, ",")
	c.CreatedAt, c.ExpiresAt = fromMicros(created), fromMicros(expires)
	if err := json.Unmarshal([]byte(run), &c.Run); err != nil {
		return nil, domain.Internal("reading a workflow run", err)
	}
	return &c, nil
}

func (s q) RecordWorkflowAction(ctx context.Context, releaseID int64, action string, number int, runID int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO workflow_actions (release_id, action, number, run_id, at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (release_id, action, number) DO NOTHING`, releaseID, action, number, runID, micros(at))
	return wrap("recording a workflow action", err)
}

func (s q) WorkflowActions(ctx context.Context, releaseID int64) ([]domain.WorkflowAction, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT a.action, a.number, a.at, r.run FROM workflow_actions a JOIN workflow_runs r ON r.id = a.run_id
		WHERE a.release_id = $1 ORDER BY a.at, a.action, a.number`, releaseID)
	if err != nil {
		return nil, wrap("listing workflow actions", err)
	}
	defer rows.Close()
	var out []domain.WorkflowAction
	for rows.Next() {
		var a domain.WorkflowAction
		var at int64
		var run string
		if err := rows.Scan(&a.Action, &a.Number, &at, &run); err != nil {
			return nil, wrap("listing workflow actions", err)
		}
		a.At = fromMicros(at)
		if err := json.Unmarshal([]byte(run), &a.Run); err != nil {
			return nil, domain.Internal("reading a workflow run", err)
		}
		out = append(out, a)
	}
	return out, wrap("listing workflow actions", rows.Err())
}
