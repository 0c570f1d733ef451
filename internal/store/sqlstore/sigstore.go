package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"trel/internal/domain"
)

// identitySpec is what the spec column holds.
type identitySpec struct {
	Issuer                     string `json:"issuer"`
	Subject                    string `json:"subject,omitempty"`
	SubjectRegexp              string `json:"subject_regexp,omitempty"`
	SourceRepository           string `json:"source_repository,omitempty"`
	Ref                        string `json:"ref,omitempty"`
	RefRegexp                  string `json:"ref_regexp,omitempty"`
	Workflow                   string `json:"workflow,omitempty"`
	RunnerEnvironment          string `json:"runner_environment,omitempty"`
	ReusableWorkflowRepository string `json:"reusable_workflow_repository,omitempty"`
}

func (s q) identities(ctx context.Context, where string, args ...any) ([]domain.SigstoreIdentity, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT i.id, COALESCE(p.key, ''), COALESCE(u.username, ''), COALESCE(i.user_id, 0), i.spec, c.username, i.created_at
		FROM sigstore_identities i LEFT JOIN projects p ON p.id = i.project_id LEFT JOIN users u ON u.id = i.user_id
		JOIN users c ON c.id = i.created_by `+where+` ORDER BY i.id`, args...)
	if err != nil {
		return nil, wrap("reading identities", err)
	}
	defer rows.Close()
	var out []domain.SigstoreIdentity
	for rows.Next() {
		var id domain.SigstoreIdentity
		var spec string
		var created int64
		if err := rows.Scan(&id.ID, &id.Project, &id.User, &id.UserID, &spec, &id.CreatedBy, &created); err != nil {
			return nil, wrap("reading identities", err)
		}
		var sp identitySpec
		if err := json.Unmarshal([]byte(spec), &sp); err != nil {
			return nil, domain.Internal("decoding an identity", err)
		}
		id.Issuer, id.Subject, id.SubjectRegexp = sp.Issuer, sp.Subject, sp.SubjectRegexp
		id.SourceRepository, id.Ref, id.RefRegexp = sp.SourceRepository, sp.Ref, sp.RefRegexp
		id.Workflow, id.RunnerEnvironment, id.ReusableWorkflowRepository = sp.Workflow, sp.RunnerEnvironment, sp.ReusableWorkflowRepository
		id.CreatedAt = fromMicros(created)
		out = append(out, id)
	}
	return out, wrap("reading identities", rows.Err())
}

func (s q) SigstoreIdentities(ctx context.Context, projectID int64) ([]domain.SigstoreIdentity, error) {
	return s.identities(ctx, `WHERE i.project_id = $1`, projectID)
}

func (s q) PersonalIdentities(ctx context.Context, userIDs []int64) ([]domain.SigstoreIdentity, error) {
	if userIDs == nil {
		return s.identities(ctx, `WHERE i.user_id IS NOT NULL`)
	}
	if len(userIDs) == 0 {
		return nil, nil
	}
	ph, args := inList(userIDs)
	return s.identities(ctx, `WHERE i.user_id IN (`+ph+`)`, args...)
}

func (s q) AddSigstoreIdentity(ctx context.Context, projectID int64, id *domain.SigstoreIdentity, by int64, at time.Time) error {
	spec, _ := json.Marshal(identitySpec{Issuer: id.Issuer, Subject: id.Subject, SubjectRegexp: id.SubjectRegexp,
		SourceRepository: id.SourceRepository, Ref: id.Ref, RefRegexp: id.RefRegexp, Workflow: id.Workflow,
		RunnerEnvironment: id.RunnerEnvironment, ReusableWorkflowRepository: id.ReusableWorkflowRepository})
	var project, user any
	if projectID > 0 {
		project = projectID
	} else {
		user = id.UserID
	}
	err := s.db.QueryRowContext(ctx, `
		INSERT INTO sigstore_identities (project_id, user_id, spec, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		project, user, string(spec), by, micros(at)).Scan(&id.ID)
	return wrap("storing identity", err)
}

func (s q) RemoveSigstoreIdentity(ctx context.Context, projectID, userID, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sigstore_identities WHERE id = $1 AND
		(($2 > 0 AND project_id = $2) OR ($3 > 0 AND user_id = $3))`, id, projectID, userID)
	if err != nil {
		return wrap("removing identity", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return domain.Errorf(domain.KindNotFound, "no identity with id %d there: see `trel sigstore identity list`", id)
	}
	return nil
}

func (s q) SigstoreKeys(ctx context.Context, projectID int64) ([]domain.SigstoreKey, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT k.id, p.key, k.name, k.fingerprint, k.pem, u.username, k.created_at
		FROM sigstore_keys k JOIN projects p ON p.id = k.project_id JOIN users u ON u.id = k.created_by
		WHERE k.project_id = $1 ORDER BY k.id`, projectID)
	if err != nil {
		return nil, wrap("reading sigstore keys", err)
	}
	defer rows.Close()
	var out []domain.SigstoreKey
	for rows.Next() {
		var k domain.SigstoreKey
		var created int64
		if err := rows.Scan(&k.ID, &k.Project, &k.Name, &k.Fingerprint, &k.PEM, &k.CreatedBy, &created); err != nil {
			return nil, wrap("reading sigstore keys", err)
		}
		k.CreatedAt = fromMicros(created)
		out = append(out, k)
	}
	return out, wrap("reading sigstore keys", rows.Err())
}

func (s q) AddSigstoreKey(ctx context.Context, projectID int64, k *domain.SigstoreKey, by int64, at time.Time) error {
	err := s.db.QueryRowContext(ctx, `
		INSERT INTO sigstore_keys (project_id, name, fingerprint, pem, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		projectID, k.Name, k.Fingerprint, k.PEM, by, micros(at)).Scan(&k.ID)
	if isUniqueErr(err) {
		return domain.Errorf(domain.KindConflict, "this public key is already registered for the project")
	}
	return wrap("storing sigstore key", err)
}

func (s q) RemoveSigstoreKey(ctx context.Context, projectID, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sigstore_keys WHERE id = $1 AND project_id = $2`, id, projectID)
	if err != nil {
		return wrap("removing sigstore key", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return domain.Errorf(domain.KindNotFound, "no key with id %d for this project", id)
	}
	return nil
}
