package sqlstore

import (
	"context"
	"encoding/json"
	"strings"

	"trel/internal/domain"
	"trel/internal/store"
)

// PublicReleases implements store.UXReader.
func (s q) PublicReleases(ctx context.Context, committeeID int64, phase domain.Phase, limit int) ([]domain.Release, error) {
	return queryAll(ctx, s.db, "listing public releases", scanRelease, `SELECT `+releaseCols+releaseFrom+`
		LEFT JOIN release_publications pub ON pub.release_id = r.id
		WHERE r.phase <> 'draft' AND (CAST($1 AS BIGINT) = 0 OR p.committee_id = $1) AND (CAST($2 AS TEXT) = '' OR r.phase = $2)
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
