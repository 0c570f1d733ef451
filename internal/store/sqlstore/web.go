package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

var _ store.WebStore = (*DB)(nil)

// webTx runs fn in a transaction and writes ev (when it has an action) in
// the same transaction.
func (d *DB) webTx(ctx context.Context, what string, ev *domain.AuditEvent, fn func(tx *sql.Tx) error) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return wrap(what, err)
		}
		if ev != nil && ev.Action != "" {
			return d.with(tx).Audit(ctx, *ev)
		}
		return nil
	})
}

// UserHandle implements store.WebStore.
func (d *DB) UserHandle(ctx context.Context, userID int64, newHandle []byte) ([]byte, error) {
	// INSERT OR IGNORE is SQLite; ON CONFLICT DO NOTHING is shared with PostgreSQL.
	if _, err := d.db.ExecContext(ctx,
		`INSERT INTO webauthn_users (user_id, handle) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING`,
		userID, newHandle); err != nil {
		return nil, wrap("storing the WebAuthn user handle", err)
	}
	var h []byte
	err := d.db.QueryRowContext(ctx, `SELECT handle FROM webauthn_users WHERE user_id = $1`, userID).Scan(&h)
	return h, wrap("reading the WebAuthn user handle", err)
}

// UserIDByHandle implements store.WebStore.
func (d *DB) UserIDByHandle(ctx context.Context, handle []byte) (int64, error) {
	var id int64
	err := d.db.QueryRowContext(ctx, `SELECT user_id FROM webauthn_users WHERE handle = $1`, handle).Scan(&id)
	if err != nil {
		return 0, notFound(err, "no user has this passkey")
	}
	return id, nil
}

const passkeyCols = `id, user_id, name, credential_id, sign_count, backup_eligible, backup_state, credential, created_at, last_used_at`

func scanPasskey(row interface{ Scan(...any) error }) (*store.Passkey, error) {
	var p store.Passkey
	var cred string
	var count, created int64
	var used sql.NullInt64
	if err := row.Scan(&p.ID, &p.UserID, &p.Name, &p.CredentialID, &count, &p.BackupEligible, &p.BackupState, &cred, &created, &used); err != nil {
		return nil, err
	}
	p.SignCount = uint32(count)
	p.Credential = []byte(cred)
	p.CreatedAt = fromMicros(created)
	p.LastUsedAt = fromNullMicros(used)
	return &p, nil
}

// Passkeys implements store.WebStore.
func (d *DB) Passkeys(ctx context.Context, userID int64) ([]store.Passkey, error) {
	return d.UserPasskeys(ctx, userID)
}

// AddPasskey implements store.WebStore.
func (d *DB) AddPasskey(ctx context.Context, pk *store.Passkey, enrollmentID int64, at time.Time, ev domain.AuditEvent) error {
	return d.webTx(ctx, "storing the passkey", &ev, func(tx *sql.Tx) error {
		if enrollmentID > 0 {
			res, err := tx.ExecContext(ctx,
				`UPDATE enrollments SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND expires_at > $1`,
				micros(at), enrollmentID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return domain.Errorf(domain.KindConflict, "this enrollment link was already used or has expired: ask an administrator for a new one")
			}
		}
		err := tx.QueryRowContext(ctx, `
			INSERT INTO passkeys (user_id, name, credential_id, sign_count, backup_eligible, backup_state, credential, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			pk.UserID, pk.Name, pk.CredentialID, int64(pk.SignCount), pk.BackupEligible, pk.BackupState,
			string(pk.Credential), micros(pk.CreatedAt)).Scan(&pk.ID)
		if isUniqueErr(err) {
			return domain.Errorf(domain.KindConflict, "this passkey is already registered")
		}
		if err != nil || pk.Notice == "" {
			return err
		}
		return d.with(tx).AddNotice(ctx, pk.UserID, pk.Notice, at)
	})
}

// UpdatePasskeyUse implements store.WebStore.
func (d *DB) UpdatePasskeyUse(ctx context.Context, id int64, signCount uint32, backupState bool, credential []byte, at time.Time) error {
	res, err := d.db.ExecContext(ctx, `
		UPDATE passkeys SET sign_count = $1, backup_state = $2, credential = $3, last_used_at = $4
		WHERE id = $5 AND (sign_count < CAST($1 AS BIGINT) OR (sign_count = 0 AND CAST($1 AS BIGINT) = 0))`,
		int64(signCount), backupState, string(credential), micros(at), id)
	if err != nil {
		return wrap("recording passkey use", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return domain.Errorf(domain.KindConflict, "the passkey's signature counter did not advance")
	}
	return nil
}

// DeletePasskey implements store.WebStore.
func (d *DB) DeletePasskey(ctx context.Context, userID, id int64, ev domain.AuditEvent) error {
	return d.webTx(ctx, "removing the passkey", &ev, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM passkeys WHERE user_id = $1`, userID).Scan(&n); err != nil {
			return err
		}
		var exists int
		err := tx.QueryRowContext(ctx, `SELECT count(*) FROM passkeys WHERE user_id = $1 AND id = $2`, userID, id).Scan(&exists)
		if err != nil {
			return err
		}
		if exists == 0 {
			return domain.Errorf(domain.KindNotFound, "you have no such passkey")
		}
		if n <= 1 {
			return domain.Errorf(domain.KindConflict, "this is your last passkey: add another one before removing it, or you could no longer sign in")
		}
		// The sessions opened with the passkey end with it.
		if _, err := d.with(tx).EndSessions(ctx, store.SessionFilter{PasskeyID: id}); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM passkeys WHERE user_id = $1 AND id = $2`, userID, id)
		return err
	})
}

// CreateEnrollment implements store.WebStore.
func (d *DB) CreateEnrollment(ctx context.Context, e *store.Enrollment, ev domain.AuditEvent) error {
	return d.webTx(ctx, "creating the enrollment link", &ev, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `
			INSERT INTO enrollments (user_id, hash, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			e.UserID, e.Hash, e.CreatedBy, micros(e.CreatedAt), micros(e.ExpiresAt)).Scan(&e.ID)
		if err != nil || e.Notice == "" {
			return err
		}
		return d.with(tx).AddNotice(ctx, e.UserID, e.Notice, e.CreatedAt)
	})
}

const enrollmentCols = `e.id, e.user_id, u.username, e.hash, e.created_by, e.created_at, e.expires_at, e.used_at`

func scanEnrollment(row interface{ Scan(...any) error }) (*store.Enrollment, error) {
	var e store.Enrollment
	var created, expires int64
	var used sql.NullInt64
	if err := row.Scan(&e.ID, &e.UserID, &e.Username, &e.Hash, &e.CreatedBy, &created, &expires, &used); err != nil {
		return nil, err
	}
	e.CreatedAt, e.ExpiresAt, e.UsedAt = fromMicros(created), fromMicros(expires), fromNullMicros(used)
	return &e, nil
}

// EnrollmentByHash implements store.WebStore.
func (d *DB) EnrollmentByHash(ctx context.Context, hash []byte) (*store.Enrollment, error) {
	e, err := scanEnrollment(d.db.QueryRowContext(ctx,
		`SELECT `+enrollmentCols+` FROM enrollments e JOIN users u ON u.id = e.user_id WHERE e.hash = $1`, hash))
	if err != nil {
		return nil, notFound(err, "this enrollment link is not valid: ask an administrator for a new one")
	}
	return e, nil
}

// OpenEnrollments implements store.WebStore.
func (d *DB) OpenEnrollments(ctx context.Context, now time.Time) ([]store.Enrollment, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+enrollmentCols+` FROM enrollments e JOIN users u ON u.id = e.user_id
		WHERE e.used_at IS NULL AND e.expires_at > $1 ORDER BY e.id DESC`, micros(now))
	if err != nil {
		return nil, wrap("listing enrollment links", err)
	}
	defer rows.Close()
	var out []store.Enrollment
	for rows.Next() {
		e, err := scanEnrollment(rows)
		if err != nil {
			return nil, wrap("listing enrollment links", err)
		}
		out = append(out, *e)
	}
	return out, wrap("listing enrollment links", rows.Err())
}

// CreateSession implements store.WebStore.
func (d *DB) CreateSession(ctx context.Context, s *store.WebSession, ev domain.AuditEvent) error {
	return d.webTx(ctx, "creating the session", &ev, func(tx *sql.Tx) error {
		var passkey sql.NullInt64
		if s.PasskeyID > 0 {
			passkey = sql.NullInt64{Int64: s.PasskeyID, Valid: true}
		}
		return tx.QueryRowContext(ctx,
			`INSERT INTO web_sessions (hash, user_id, created_at, last_seen_at, client_ip, user_agent, passkey_id) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			s.Hash, s.UserID, micros(s.CreatedAt), micros(s.LastSeenAt), s.ClientIP, s.UserAgent, passkey).Scan(&s.ID)
	})
}

// SessionByHash implements store.WebStore.
func (d *DB) SessionByHash(ctx context.Context, hash []byte) (*store.WebSession, error) {
	var s store.WebSession
	var created, seen int64
	var passkey sql.NullInt64
	err := d.db.QueryRowContext(ctx,
		`SELECT id, hash, user_id, created_at, last_seen_at, client_ip, user_agent, passkey_id FROM web_sessions WHERE hash = $1`, hash).
		Scan(&s.ID, &s.Hash, &s.UserID, &created, &seen, &s.ClientIP, &s.UserAgent, &passkey)
	s.PasskeyID = passkey.Int64
	if err != nil {
		return nil, notFound(err, "no such session")
	}
	s.CreatedAt, s.LastSeenAt = fromMicros(created), fromMicros(seen)
	return &s, nil
}

// TouchSession implements store.WebStore.
func (d *DB) TouchSession(ctx context.Context, hash []byte, at time.Time) error {
	_, err := d.db.ExecContext(ctx, `UPDATE web_sessions SET last_seen_at = $1 WHERE hash = $2`, micros(at), hash)
	return wrap("recording session activity", err)
}

// DeleteSession implements store.WebStore.
func (d *DB) DeleteSession(ctx context.Context, hash []byte) error {
	_, err := d.db.ExecContext(ctx, `DELETE FROM web_sessions WHERE hash = $1`, hash)
	return wrap("ending the session", err)
}

// DeleteUserSessions implements store.WebStore.
func (d *DB) DeleteUserSessions(ctx context.Context, userID int64, ev domain.AuditEvent) (int, error) {
	var n int64
	err := d.webTx(ctx, "ending the sessions", &ev, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// CountSessions implements store.WebStore.
func (d *DB) CountSessions(ctx context.Context, userID int64) (int, error) {
	var n int
	err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM web_sessions WHERE user_id = $1`, userID).Scan(&n)
	return n, wrap("counting sessions", err)
}

// PurgeSessions implements store.WebStore.
func (d *DB) PurgeSessions(ctx context.Context, idleBefore, createdBefore, now time.Time) error {
	if _, err := d.db.ExecContext(ctx, `DELETE FROM web_sessions WHERE last_seen_at < $1 OR created_at < $2`,
		micros(idleBefore), micros(createdBefore)); err != nil {
		return wrap("purging sessions", err)
	}
	_, err := d.db.ExecContext(ctx, `DELETE FROM webauthn_ceremonies WHERE expires_at < $1`, micros(now))
	return wrap("purging ceremonies", err)
}

// PutCeremony implements store.WebStore.
func (d *DB) PutCeremony(ctx context.Context, c *store.Ceremony) error {
	_, err := d.db.ExecContext(ctx, `
		INSERT INTO webauthn_ceremonies (hash, kind, user_id, enrollment_id, passkey_name, data, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		c.Hash, c.Kind, c.UserID, c.EnrollmentID, c.PasskeyName, string(c.Data), micros(c.ExpiresAt))
	return wrap("storing the WebAuthn ceremony", err)
}

// TakeCeremony implements store.WebStore.
func (d *DB) TakeCeremony(ctx context.Context, hash []byte) (*store.Ceremony, error) {
	var c store.Ceremony
	var data string
	var exp int64
	// DELETE ... RETURNING makes taking atomic: two concurrent finishes
	// cannot both get the same ceremony.
	err := d.db.QueryRowContext(ctx, `
		DELETE FROM webauthn_ceremonies WHERE hash = $1
		RETURNING hash, kind, user_id, enrollment_id, passkey_name, data, expires_at`, hash).
		Scan(&c.Hash, &c.Kind, &c.UserID, &c.EnrollmentID, &c.PasskeyName, &data, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.Errorf(domain.KindNotFound, "this passkey request is unknown or was already used: reload the page and try again")
	}
	if err != nil {
		return nil, wrap("reading the WebAuthn ceremony", err)
	}
	c.Data = []byte(data)
	c.ExpiresAt = fromMicros(exp)
	return &c, nil
}
