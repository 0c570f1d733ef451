package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// PublicReleases implements store.UXReader.
func (s q) PublicReleases(ctx context.Context, committeeID int64, phase domain.Phase, limit int) ([]domain.Release, error) {
	return queryAll(ctx, s.db, "listing public releases", scanRelease, `SELECT `+releaseCols+releaseFrom+`
		LEFT JOIN release_publications pub ON pub.release_id = r.id
		WHERE r.phase <> 'draft' AND NOT COALESCE(rs.embargoed, FALSE)
		  AND (CAST($1 AS BIGINT) = 0 OR p.committee_id = $1) AND (CAST($2 AS TEXT) = '' OR r.phase = $2)
		ORDER BY COALESCE(pub.finished_at, r.created_at) DESC, r.id DESC LIMIT $3`, committeeID, string(phase), limit)
}

// AuditPage implements store.UXReader.
func (s q) AuditPage(ctx context.Context, f store.AuditFilter, offset, limit int) ([]domain.AuditEvent, error) {
	return queryAll(ctx, s.db, "reading audit log", scanAudit, `
		SELECT id, time, COALESCE(actor_id, 0), actor, action, target, details, client_ip FROM audit_events
		WHERE (CAST($1 AS TEXT) = '' OR actor = $1) AND (CAST($2 AS TEXT) = '' OR substr(action, 1, length($2)) = $2)
		  AND (CAST($3 AS TEXT) = '' OR target LIKE '%' || $3 || '%' ESCAPE '\')
		ORDER BY id DESC LIMIT $4 OFFSET $5`, f.Actor, f.Action, likeEscape(strings.TrimSpace(f.Target)), limit, offset)
}

func scanAudit(row interface{ Scan(...any) error }) (*domain.AuditEvent, error) {
	var ev domain.AuditEvent
	var t int64
	var details string
	if err := row.Scan(&ev.ID, &t, &ev.ActorID, &ev.Actor, &ev.Action, &ev.Target, &details, &ev.ClientIP); err != nil {
		return nil, err
	}
	ev.Time = fromMicros(t)
	if err := json.Unmarshal([]byte(details), &ev.Details); err != nil {
		return nil, domain.Internal("decoding audit details", err)
	}
	return &ev, nil
}

// likeEscape makes s match itself in a LIKE pattern with ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Setting implements store.UXReader.
func (s q) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM server_settings WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, wrap("reading a server setting", err)
}

// SetSetting implements store.UXTx.
func (s q) SetSetting(ctx context.Context, name, value string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO server_settings (name, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, micros(at))
	return wrap("storing a server setting", err)
}

// RenamePasskey implements store.UXTx.
func (s q) RenamePasskey(ctx context.Context, userID, passkeyID int64, name string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE passkeys SET name = $1 WHERE user_id = $2 AND id = $3`, name, userID, passkeyID)
	if err != nil {
		return wrap("renaming a passkey", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return domain.Errorf(domain.KindNotFound, "you have no such passkey: see your account page")
	}
	return nil
}

// DeleteRelease implements store.UXTx: children first, for the foreign
// keys.
func (s q) DeleteRelease(ctx context.Context, releaseID int64) error {
	const revs = `(SELECT id FROM revisions WHERE release_id = $1)`
	for _, stmt := range []string{
		`DELETE FROM check_acks WHERE revision_id IN ` + revs,
		`DELETE FROM check_results WHERE revision_id IN ` + revs,
		`DELETE FROM check_runs WHERE revision_id IN ` + revs,
		`DELETE FROM revision_files WHERE revision_id IN ` + revs,
		`DELETE FROM revisions WHERE release_id = $1`,
		`DELETE FROM votes WHERE release_id = $1`,
		`DELETE FROM vote_rounds WHERE release_id = $1`,
		`DELETE FROM release_managers WHERE release_id = $1`,
		`DELETE FROM signing_requests WHERE release_id = $1`,
		`DELETE FROM published_signers WHERE release_id = $1`,
		// The uploaders' usage no longer counts this release's content.
		`UPDATE storage_usage SET bytes = bytes - (SELECT COALESCE(SUM(b.size), 0) FROM release_uploads u JOIN blobs b ON b.sha256 = u.sha256
			WHERE u.release_id = $1 AND u.user_id = storage_usage.id)
		 WHERE scope = 'user' AND id IN (SELECT user_id FROM release_uploads WHERE release_id = $1)`,
		`DELETE FROM release_uploads WHERE release_id = $1`,
		`DELETE FROM storage_usage WHERE scope = 'release' AND id = $1`,
		`DELETE FROM releases WHERE id = $1`,
	} {
		if _, err := s.db.ExecContext(ctx, stmt, releaseID); err != nil {
			return wrap("deleting a release", err)
		}
	}
	return nil
}

// VoteRounds implements store.UXReader.
func (s q) VoteRounds(ctx context.Context, releaseID int64) ([]domain.VoteRound, error) {
	return queryAll(ctx, s.db, "listing vote rounds", scanVoteRound, `SELECT `+voteRoundCols+voteRoundFrom+`
		WHERE r.release_id = $1 ORDER BY r.round`, releaseID)
}

// CancelVoteRound implements store.UXTx.
func (s q) CancelVoteRound(ctx context.Context, releaseID int64, round int, reason string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE vote_rounds SET cancel_reason = $1 WHERE release_id = $2 AND round = $3`, reason, releaseID, round)
	return wrap("recording why the vote was cancelled", err)
}
