package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// A release's status columns, joined into every release query.
const releaseStatusCols = `COALESCE(rs.embargoed, FALSE), rs.embargo_lifted_at, rp.finished_at, rs.yanked_at,
	COALESCE(rs.yanked_by, ''), COALESCE(rs.yank_reason, ''), rs.archived_at, COALESCE(rs.archived_by, '')`

const releaseStatusFrom = ` LEFT JOIN release_states rs ON rs.release_id = r.id
	LEFT JOIN release_publications rp ON rp.release_id = r.id AND rp.state = 'published' `

type releaseStatusRow struct {
	embargoed                           bool
	lifted, published, yanked, archived sql.NullInt64
	yankedBy, reason, archivedBy        string
}

func (st *releaseStatusRow) dest() []any {
	return []any{&st.embargoed, &st.lifted, &st.published, &st.yanked, &st.yankedBy, &st.reason, &st.archived, &st.archivedBy}
}

func (st *releaseStatusRow) fill(r *domain.ReleaseStatus) {
	*r = domain.ReleaseStatus{Embargoed: st.embargoed, EmbargoLiftedAt: fromNullMicros(st.lifted), PublishedAt: fromNullMicros(st.published),
		YankedAt: fromNullMicros(st.yanked), YankedBy: st.yankedBy, YankReason: st.reason,
		ArchivedAt: fromNullMicros(st.archived), ArchivedBy: st.archivedBy}
}

// ensureState makes the release's status row exist.
func (s q) ensureState(ctx context.Context, releaseID int64) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO release_states (release_id) VALUES ($1) ON CONFLICT (release_id) DO NOTHING`, releaseID)
	return wrap("recording the release's state", err)
}

// SetEmbargoed implements store.NotifyTx.
func (s q) SetEmbargoed(ctx context.Context, releaseID int64) error {
	if err := s.ensureState(ctx, releaseID); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `UPDATE release_states SET embargoed = TRUE WHERE release_id = $1`, releaseID)
	return wrap("embargoing the release", err)
}

// LiftEmbargo implements store.NotifyTx.
func (s q) LiftEmbargo(ctx context.Context, releaseID int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE release_states SET embargoed = FALSE, embargo_lifted_at = $2 WHERE release_id = $1 AND embargoed`, releaseID, micros(at))
	return wrap("lifting the embargo", err)
}

// SetYanked implements store.NotifyTx.
func (s q) SetYanked(ctx context.Context, releaseID int64, at *time.Time, by, reason string) (bool, error) {
	if err := s.ensureState(ctx, releaseID); err != nil {
		return false, err
	}
	cond := "yanked_at IS NULL"
	if at == nil {
		cond = "yanked_at IS NOT NULL"
	}
	res, err := s.db.ExecContext(ctx, `UPDATE release_states SET yanked_at = $2, yanked_by = $3, yank_reason = $4 WHERE release_id = $1 AND `+cond,
		releaseID, nullMicros(at), by, reason)
	return changedOne(res, err, "yanking the release")
}

// SetArchived implements store.NotifyTx.
func (s q) SetArchived(ctx context.Context, releaseID int64, at time.Time, by string) (bool, error) {
	if err := s.ensureState(ctx, releaseID); err != nil {
		return false, err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE release_states SET archived_at = $2, archived_by = $3 WHERE release_id = $1 AND archived_at IS NULL`,
		releaseID, micros(at), by)
	return changedOne(res, err, "archiving the release")
}

// changedOne reports whether an UPDATE changed a row.
func changedOne(res sql.Result, err error, what string) (bool, error) {
	if err != nil {
		return false, wrap(what, err)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap(what, err)
}

const noticeCols = `id, user_id, message, kind, link, created_at, dismissed_at`

func scanNoticeRow(row interface{ Scan(...any) error }) (*domain.Notice, error) {
	var n domain.Notice
	var created int64
	var dismissed sql.NullInt64
	if err := row.Scan(&n.ID, &n.UserID, &n.Message, &n.Kind, &n.Link, &created, &dismissed); err != nil {
		return nil, err
	}
	n.CreatedAt, n.DismissedAt = fromMicros(created), fromNullMicros(dismissed)
	return &n, nil
}

// AllNotices implements store.NotifyReader.
func (s q) AllNotices(ctx context.Context, userID int64, limit int) ([]domain.Notice, error) {
	return queryAll(ctx, s.db, "listing notices", scanNoticeRow, `SELECT `+noticeCols+` FROM user_notices
		WHERE user_id = $1 ORDER BY id DESC LIMIT $2`, userID, limit)
}

// AddNotification implements store.NotifyTx.
func (s q) AddNotification(ctx context.Context, n domain.Notice, dedupe string) (bool, error) {
	key := sql.NullString{String: dedupe, Valid: dedupe != ""}
	res, err := s.db.ExecContext(ctx, `INSERT INTO user_notices (user_id, message, kind, link, dedupe, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, n.UserID, n.Message, n.Kind, n.Link, key, micros(n.CreatedAt))
	if err != nil {
		return false, wrap("storing a notification", err)
	}
	k, err := res.RowsAffected()
	return k == 1, wrap("storing a notification", err)
}

// DismissAllNotices implements store.NotifyTx.
func (s q) DismissAllNotices(ctx context.Context, userID int64, at time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE user_notices SET dismissed_at = $1 WHERE user_id = $2 AND dismissed_at IS NULL`, micros(at), userID)
	if err != nil {
		return 0, wrap("dismissing notices", err)
	}
	k, err := res.RowsAffected()
	return int(k), wrap("dismissing notices", err)
}

const webhookCols = `w.id, w.project_id, w.url, w.secret, w.events, u.username, w.created_at, w.deleted_at`

const webhookFrom = ` FROM project_webhooks w JOIN users u ON u.id = w.created_by`

func scanWebhook(row interface{ Scan(...any) error }) (*domain.Webhook, error) {
	var w domain.Webhook
	var events string
	var created int64
	var deleted sql.NullInt64
	if err := row.Scan(&w.ID, &w.ProjectID, &w.URL, &w.Secret, &events, &w.CreatedBy, &created, &deleted); err != nil {
		return nil, err
	}
	w.Events = []string{}
	if events != "" {
		w.Events = strings.Split(events, ",")
	}
	w.CreatedAt, w.DeletedAt = fromMicros(created), fromNullMicros(deleted)
	return &w, nil
}

// Webhooks implements store.NotifyReader.
func (s q) Webhooks(ctx context.Context, projectID int64) ([]domain.Webhook, error) {
	return queryAll(ctx, s.db, "listing webhooks", scanWebhook, `SELECT `+webhookCols+webhookFrom+`
		WHERE w.project_id = $1 AND w.deleted_at IS NULL ORDER BY w.id`, projectID)
}

// Webhook implements store.NotifyReader.
func (s q) Webhook(ctx context.Context, id int64) (*domain.Webhook, error) {
	w, err := scanWebhook(s.db.QueryRowContext(ctx, `SELECT `+webhookCols+webhookFrom+` WHERE w.id = $1`, id))
	if err != nil {
		return nil, notFound(err, "no webhook with id %d", id)
	}
	return w, nil
}

// AddWebhook implements store.NotifyTx.
func (s q) AddWebhook(ctx context.Context, w *domain.Webhook, by int64, limit int) error {
	if s.pg {
		// SQLite's BEGIN IMMEDIATE serialises writers; PostgreSQL counts
		// under the project's row lock.
		if _, err := s.db.ExecContext(ctx, `SELECT id FROM projects WHERE id = $1 FOR UPDATE`, w.ProjectID); err != nil {
			return wrap("storing the webhook", err)
		}
	}
	err := s.db.QueryRowContext(ctx, `INSERT INTO project_webhooks (project_id, url, secret, events, created_by, created_at)
		SELECT CAST($1 AS BIGINT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS TEXT), CAST($5 AS BIGINT), CAST($6 AS BIGINT)
		WHERE (SELECT COUNT(*) FROM project_webhooks WHERE project_id = $1 AND deleted_at IS NULL) < CAST($7 AS BIGINT) RETURNING id`,
		w.ProjectID, w.URL, w.Secret, strings.Join(w.Events, ","), by, micros(w.CreatedAt), limit).Scan(&w.ID)
	if err == sql.ErrNoRows {
		return domain.Errorf(domain.KindConflict, "the project has %d webhooks already: remove one first", limit)
	}
	return wrap("storing the webhook", err)
}

// DeleteWebhook implements store.NotifyTx.
func (s q) DeleteWebhook(ctx context.Context, projectID, id int64, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE project_webhooks SET deleted_at = $3 WHERE id = $1 AND project_id = $2 AND deleted_at IS NULL`, id, projectID, micros(at))
	return mustAffect(res, err, "removing the webhook", "the project has no webhook with id %d", id)
}

// deliveryCols are a delivery's columns without its payload, plus what
// the listings show: the release's name and the webhook's URL.
const deliveryCols = `d.id, d.channel, d.topic, d.project_id, COALESCE(d.release_id, 0), COALESCE(d.webhook_id, 0), d.round,
	d.message_id, d.state, d.attempts, d.not_before, d.claimed_until, d.last_error, d.refused, d.status_code, d.created_at, d.finished_at,
	COALESCE(w.url, ''), COALESCE(p.key || ' ' || r.version, '')`

const deliveryFrom = ` FROM deliveries d LEFT JOIN project_webhooks w ON w.id = d.webhook_id
	LEFT JOIN releases r ON r.id = d.release_id LEFT JOIN projects p ON p.id = r.project_id`

func scanDelivery(row interface{ Scan(...any) error }, extra ...any) (*domain.Delivery, error) {
	var d domain.Delivery
	var notBefore, created int64
	var claimed, finished sql.NullInt64
	dest := append([]any{&d.ID, &d.Channel, &d.Topic, &d.ProjectID, &d.ReleaseID, &d.WebhookID, &d.Round, &d.MessageID, &d.State, &d.Attempts,
		&notBefore, &claimed, &d.LastError, &d.Refused, &d.StatusCode, &created, &finished, &d.WebhookURL, &d.ReleaseName}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	d.NotBefore, d.CreatedAt = fromMicros(notBefore), fromMicros(created)
	d.ClaimedUntil, d.FinishedAt = fromNullMicros(claimed), fromNullMicros(finished)
	return &d, nil
}

func scanDeliveryWithPayload(row interface{ Scan(...any) error }) (*domain.Delivery, error) {
	var payload string
	d, err := scanDelivery(row, &payload)
	if err != nil {
		return nil, err
	}
	d.Payload = payload
	return d, nil
}

// Delivery implements store.NotifyReader.
func (s q) Delivery(ctx context.Context, id int64) (*domain.Delivery, error) {
	d, err := scanDeliveryWithPayload(s.db.QueryRowContext(ctx, `SELECT `+deliveryCols+`, d.payload`+deliveryFrom+` WHERE d.id = $1`, id))
	if err != nil {
		return nil, notFound(err, "no delivery with id %d", id)
	}
	return d, nil
}

func scanDeliveryRow(row interface{ Scan(...any) error }) (*domain.Delivery, error) {
	return scanDelivery(row)
}

// ReleaseDeliveries implements store.NotifyReader.
func (s q) ReleaseDeliveries(ctx context.Context, releaseID int64) ([]domain.Delivery, error) {
	return queryAll(ctx, s.db, "listing mail", scanDeliveryRow, `SELECT `+deliveryCols+deliveryFrom+`
		WHERE d.release_id = $1 AND d.channel = 'mail' ORDER BY d.id DESC`, releaseID)
}

// WebhookDeliveries implements store.NotifyReader.
func (s q) WebhookDeliveries(ctx context.Context, projectID int64, limit int) ([]domain.Delivery, error) {
	return queryAll(ctx, s.db, "listing webhook deliveries", scanDeliveryRow, `SELECT `+deliveryCols+deliveryFrom+`
		WHERE d.project_id = $1 AND d.channel = 'webhook' ORDER BY d.id DESC LIMIT $2`, projectID, limit)
}

// DueDeliveries implements store.NotifyReader.
func (s q) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]store.DueDelivery, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, attempts FROM deliveries WHERE state = 'pending' AND not_before <= $1 ORDER BY not_before, id LIMIT $2`,
		micros(now), limit)
	if err != nil {
		return nil, wrap("listing due deliveries", err)
	}
	defer rows.Close()
	var out []store.DueDelivery
	for rows.Next() {
		var d store.DueDelivery
		if err := rows.Scan(&d.ID, &d.Attempts); err != nil {
			return nil, wrap("listing due deliveries", err)
		}
		out = append(out, d)
	}
	return out, wrap("listing due deliveries", rows.Err())
}

// AddDelivery implements store.NotifyTx.
func (s q) AddDelivery(ctx context.Context, d *domain.Delivery) error {
	nullID := func(v int64) sql.NullInt64 { return sql.NullInt64{Int64: v, Valid: v != 0} }
	err := s.db.QueryRowContext(ctx, `INSERT INTO deliveries (channel, topic, project_id, release_id, webhook_id, round, message_id, payload,
		state, not_before, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10) RETURNING id`,
		d.Channel, d.Topic, d.ProjectID, nullID(d.ReleaseID), nullID(d.WebhookID), d.Round, d.MessageID, d.Payload,
		micros(d.NotBefore), micros(d.CreatedAt)).Scan(&d.ID)
	d.State = domain.DeliveryPending
	return wrap("queueing a delivery", err)
}

// ClaimDelivery implements store.NotifyTx.
func (s q) ClaimDelivery(ctx context.Context, id int64, now, until time.Time) (*domain.Delivery, bool, error) {
	var claimed int64
	err := s.db.QueryRowContext(ctx, `UPDATE deliveries SET state = 'sending', attempts = attempts + 1, claimed_until = $2
		WHERE id = $1 AND state = 'pending' AND not_before <= $3 RETURNING id`, id, micros(until), micros(now)).Scan(&claimed)
	if err == sql.ErrNoRows {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrap("claiming a delivery", err)
	}
	d, err := s.Delivery(ctx, id)
	return d, err == nil, err
}

// FinishAttempt implements store.NotifyTx.
func (s q) FinishAttempt(ctx context.Context, id int64, n int, o store.DeliveryOutcome) (bool, error) {
	var finished sql.NullInt64
	if o.State != domain.DeliveryPending {
		finished = sql.NullInt64{Int64: micros(o.At), Valid: true}
	}
	notBefore := o.NotBefore
	if notBefore.IsZero() {
		notBefore = o.At
	}
	res, err := s.db.ExecContext(ctx, `UPDATE deliveries SET state = $3, not_before = $4, claimed_until = NULL, last_error = $5,
		refused = $6, status_code = $7, finished_at = $8 WHERE id = $1 AND attempts = $2 AND state = 'sending'`,
		id, n, o.State, micros(notBefore), o.LastError, o.Refused, o.StatusCode, finished)
	if err != nil {
		return false, wrap("recording a delivery", err)
	}
	k, err := res.RowsAffected()
	return k == 1, wrap("recording a delivery", err)
}

// ReleaseStaleClaims implements store.NotifyTx.
func (s q) ReleaseStaleClaims(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE deliveries SET state = 'pending', claimed_until = NULL
		WHERE state = 'sending' AND claimed_until < $1`, micros(now))
	if err != nil {
		return 0, wrap("releasing stale deliveries", err)
	}
	k, err := res.RowsAffected()
	return int(k), wrap("releasing stale deliveries", err)
}
