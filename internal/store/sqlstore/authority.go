package sqlstore

import (
	"context"
	"sort"

	"trel/internal/domain"
)

func (s q) PublishedSigners(ctx context.Context, committeeID int64) (map[string][]string, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT ps.fingerprint, p.key, r.version FROM published_signers ps
		JOIN releases r ON r.id = ps.release_id JOIN projects p ON p.id = r.project_id
		WHERE p.committee_id = $1 ORDER BY ps.fingerprint, p.key, r.version`, committeeID)
	if err != nil {
		return nil, wrap("reading published signers", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var fpr, project, version string
		if err := rows.Scan(&fpr, &project, &version); err != nil {
			return nil, wrap("reading published signers", err)
		}
		out[fpr] = append(out[fpr], project+" "+version)
	}
	return out, wrap("reading published signers", rows.Err())
}

func (s q) DeletedKeys(ctx context.Context, ownerID int64) ([]domain.Key, error) {
	return s.keys(ctx, `WHERE k.deleted_at IS NOT NULL AND k.owner_id = $1 ORDER BY k.fingerprint`, ownerID)
}

func (s q) RemoveReleaseManager(ctx context.Context, releaseID, userID int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM release_managers WHERE release_id = $1 AND user_id = $2`, releaseID, userID)
	if err != nil {
		return wrap("removing release manager", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return domain.Errorf(domain.KindNotFound, "that user is not a release manager of the release")
	}
	return nil
}

func (s q) EndReleaseManagerRoles(ctx context.Context, committeeID, userID int64) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `
		DELETE FROM release_managers WHERE user_id = $1 AND release_id IN (
			SELECT r.id FROM releases r JOIN projects p ON p.id = r.project_id
			WHERE p.committee_id = $2 AND r.phase <> 'released')
		RETURNING release_id`, userID, committeeID)
	if err != nil {
		return nil, wrap("ending release-manager roles", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, wrap("ending release-manager roles", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("ending release-manager roles", err)
	}
	var out []string
	for _, id := range ids {
		r, err := s.ReleaseByID(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r.ProjectKey+" "+r.Version)
	}
	sort.Strings(out)
	return out, nil
}

func (s q) RestoreKey(ctx context.Context, fpr string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE keys SET deleted_at = NULL WHERE fingerprint = $1`, fpr)
	return wrap("restoring key", err)
}

func (s q) AddPublishedSigner(ctx context.Context, releaseID int64, fpr string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO published_signers (release_id, fingerprint) VALUES ($1, $2)
		ON CONFLICT (release_id, fingerprint) DO NOTHING`, releaseID, fpr)
	return wrap("recording a release's signer", err)
}

func (s q) SetVoteBinding(ctx context.Context, releaseID int64, round int, userID int64, binding bool) error {
	_, err := s.db.ExecContext(ctx, `UPDATE votes SET binding = $1 WHERE release_id = $2 AND round = $3 AND user_id = $4`,
		binding, releaseID, round, userID)
	return wrap("freezing a vote", err)
}
