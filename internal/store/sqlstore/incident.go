package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// TokenByID implements store.IncidentReader.
func (s q) TokenByID(ctx context.Context, id int64) (*domain.Token, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "no token with id %d", id)
	}
	return t, nil
}

const sessionCols = `s.id, s.user_id, u.username, s.created_at, s.last_seen_at, s.client_ip, s.user_agent, COALESCE(s.passkey_id, 0), COALESCE(p.name, '')`

const sessionFrom = ` FROM web_sessions s JOIN users u ON u.id = s.user_id LEFT JOIN passkeys p ON p.id = s.passkey_id`

func scanSession(row interface{ Scan(...any) error }) (*domain.Session, error) {
	var ss domain.Session
	var created, seen int64
	if err := row.Scan(&ss.ID, &ss.UserID, &ss.Username, &created, &seen, &ss.ClientIP, &ss.UserAgent, &ss.PasskeyID, &ss.Passkey); err != nil {
		return nil, err
	}
	ss.CreatedAt, ss.LastSeenAt = fromMicros(created), fromMicros(seen)
	return &ss, nil
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, db querier, what string, scan func(interface{ Scan(...any) error }) (*T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap(what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, wrap(what, err)
		}
		out = append(out, *v)
	}
	return out, wrap(what, rows.Err())
}

// UserSessions implements store.IncidentReader.
func (s q) UserSessions(ctx context.Context, userID int64) ([]domain.Session, error) {
	return queryAll(ctx, s.db, "listing sessions", scanSession, `SELECT `+sessionCols+sessionFrom+` WHERE s.user_id = $1 ORDER BY s.id DESC`, userID)
}

// SessionByID implements store.IncidentReader.
func (s q) SessionByID(ctx context.Context, id int64) (*domain.Session, error) {
	ss, err := scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionCols+sessionFrom+` WHERE s.id = $1`, id))
	if err != nil {
		return nil, notFound(err, "no session with id %d: it may have ended already (see `trel admin sessions USER`)", id)
	}
	return ss, nil
}

// UserPasskeys implements store.IncidentReader.
func (s q) UserPasskeys(ctx context.Context, userID int64) ([]store.Passkey, error) {
	return queryAll(ctx, s.db, "listing passkeys", scanPasskey, `SELECT `+passkeyCols+` FROM passkeys WHERE user_id = $1 ORDER BY id`, userID)
}

// PasskeyByID implements store.IncidentReader.
func (s q) PasskeyByID(ctx context.Context, id int64) (*store.Passkey, error) {
	p, err := scanPasskey(s.db.QueryRowContext(ctx, `SELECT `+passkeyCols+` FROM passkeys WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "no passkey with id %d (see `trel admin passkeys USER`)", id)
	}
	return p, nil
}

// Notices implements store.IncidentReader.
func (s q) Notices(ctx context.Context, userID int64) ([]domain.Notice, error) {
	return queryAll(ctx, s.db, "listing notices", scanNoticeRow, `SELECT `+noticeCols+` FROM user_notices
		WHERE user_id = $1 AND dismissed_at IS NULL ORDER BY id`, userID)
}

const activeServerKeys = `SELECT count(*) FROM signing_keys WHERE user_id = $1 AND revoked_at IS NULL AND retired_at IS NULL`

// ActiveServerKeys implements store.IncidentReader.
func (s q) ActiveServerKeys(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, activeServerKeys, userID).Scan(&n)
	return n, wrap("counting signing keys", err)
}

// SetSuspended implements store.IncidentTx.
func (s q) SetSuspended(ctx context.Context, userID int64, at *time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE users SET suspended_at = $1 WHERE id = $2`, nullMicros(at), userID)
	return mustAffect(res, err, "suspending the user", "no user with id %d", userID)
}

// EndSessions implements store.IncidentTx.
func (s q) EndSessions(ctx context.Context, f store.SessionFilter) (int, error) {
	var res sql.Result
	var err error
	switch {
	case f.ID > 0:
		res, err = s.db.ExecContext(ctx, `DELETE FROM web_sessions WHERE id = $1`, f.ID)
	case f.UserID > 0:
		res, err = s.db.ExecContext(ctx, `DELETE FROM web_sessions WHERE user_id = $1`, f.UserID)
	case f.PasskeyID > 0:
		res, err = s.db.ExecContext(ctx, `DELETE FROM web_sessions WHERE passkey_id = $1`, f.PasskeyID)
	default:
		return 0, domain.Internal("ending sessions", errors.New("empty session filter"))
	}
	if err != nil {
		return 0, wrap("ending sessions", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap("ending sessions", err)
}

// RemovePasskey implements store.IncidentTx.
func (s q) RemovePasskey(ctx context.Context, userID, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM passkeys WHERE user_id = $1 AND id = $2`, userID, id)
	return mustAffect(res, err, "removing the passkey", "the user has no passkey with id %d", id)
}

// AddNotice implements store.IncidentTx.
func (s q) AddNotice(ctx context.Context, userID int64, message string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO user_notices (user_id, message, created_at) VALUES ($1, $2, $3)`, userID, message, micros(at))
	return wrap("storing a notice", err)
}

// DismissNotice implements store.IncidentTx.
func (s q) DismissNotice(ctx context.Context, userID, id int64, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE user_notices SET dismissed_at = $1 WHERE id = $2 AND user_id = $3 AND dismissed_at IS NULL`, micros(at), id, userID)
	return mustAffect(res, err, "dismissing the notice", "you have no open notice with id %d", id)
}

// ReservePasswordAttempt implements store.IncidentTx. A lock that has run
// out starts a fresh count.
func (s q) ReservePasswordAttempt(ctx context.Context, fpr string, now time.Time, max int, lockout time.Duration) (int, bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `
		UPDATE signing_keys SET
			failed_attempts = CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failed_attempts + 1 END,
			locked_until = CASE
				WHEN (CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failed_attempts + 1 END) >= $3 THEN CAST($4 AS BIGINT)
				ELSE NULL END
		WHERE fingerprint = $1 AND (locked_until IS NULL OR locked_until <= $2)
		RETURNING failed_attempts`, fpr, micros(now), max, micros(now.Add(lockout))).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, wrap("counting a password attempt", err)
	}
	return n, true, nil
}

// ClearPasswordAttempts implements store.IncidentTx.
func (s q) ClearPasswordAttempts(ctx context.Context, fpr string, n int, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE signing_keys SET failed_attempts = 0, locked_until = NULL
		WHERE fingerprint = $1 AND (locked_until IS NULL OR locked_until <= $2 OR failed_attempts = $3)`, fpr, micros(now), n)
	if err != nil {
		return false, wrap("clearing password attempts", err)
	}
	k, err := res.RowsAffected()
	return k == 1, wrap("clearing password attempts", err)
}

// PutServerKeyCapped implements store.IncidentTx: a conditional insert.
// The casts give PostgreSQL the parameters' types, which a SELECT list
// does not.
func (s q) PutServerKeyCapped(ctx context.Context, k *domain.ServerKey, max int) error {
	res, err := s.db.ExecContext(ctx, `INSERT INTO signing_keys (fingerprint, user_id, algorithm, sealed, created_at, expires_at)
		SELECT CAST($1 AS TEXT), CAST($2 AS BIGINT), CAST($3 AS TEXT), CAST($4 AS TEXT), CAST($5 AS BIGINT), CAST($6 AS BIGINT)
		WHERE (SELECT count(*) FROM signing_keys WHERE user_id = $2 AND revoked_at IS NULL AND retired_at IS NULL) < $7`,
		k.Fingerprint, k.UserID, k.Algorithm, string(k.Sealed), micros(k.CreatedAt), micros(k.ExpiresAt), max)
	if err != nil {
		return wrap("storing signing key", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("storing signing key", err)
	}
	if n != 1 {
		return domain.Errorf(domain.KindConflict,
			"you already hold %d active keys on this server, the most allowed: retire or revoke one first (trel signing-key retire FPR)", max)
	}
	return nil
}

// mustAffect turns "no row changed" into a not-found error.
func mustAffect(res sql.Result, err error, what, format string, args ...any) error {
	if err != nil {
		return wrap(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(what, err)
	}
	if n == 0 {
		return domain.Errorf(domain.KindNotFound, format, args...)
	}
	return nil
}
