package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"trel/internal/domain"
)

const serverKeyCols = `k.fingerprint, k.user_id, u.username, k.algorithm, k.sealed, k.created_at, k.expires_at, k.revoked_at, k.retired_at, k.failed_attempts, k.locked_until`

func scanServerKey(row interface{ Scan(...any) error }) (*domain.ServerKey, error) {
	var k domain.ServerKey
	var sealed string
	var created, expires int64
	var revoked, retired, locked sql.NullInt64
	if err := row.Scan(&k.Fingerprint, &k.UserID, &k.Owner, &k.Algorithm, &sealed, &created, &expires, &revoked, &retired, &k.FailedAttempts, &locked); err != nil {
		return nil, err
	}
	k.Sealed = []byte(sealed)
	k.CreatedAt, k.ExpiresAt = fromMicros(created), fromMicros(expires)
	k.RevokedAt, k.RetiredAt, k.LockedUntil = fromNullMicros(revoked), fromNullMicros(retired), fromNullMicros(locked)
	return &k, nil
}

func (s q) ServerKey(ctx context.Context, fpr string) (*domain.ServerKey, error) {
	k, err := scanServerKey(s.db.QueryRowContext(ctx, `SELECT `+serverKeyCols+` FROM signing_keys k JOIN users u ON u.id = k.user_id WHERE k.fingerprint = $1`, fpr))
	if err != nil {
		return nil, notFound(err, "no signing key held by trel with fingerprint %s: see `trel signing-key list`", fpr)
	}
	return k, nil
}

func (s q) ServerKeys(ctx context.Context, userID int64) ([]domain.ServerKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+serverKeyCols+` FROM signing_keys k JOIN users u ON u.id = k.user_id
		WHERE $1 = 0 OR k.user_id = $1 ORDER BY k.created_at`, userID)
	if err != nil {
		return nil, wrap("listing signing keys", err)
	}
	defer rows.Close()
	var out []domain.ServerKey
	for rows.Next() {
		k, err := scanServerKey(rows)
		if err != nil {
			return nil, wrap("listing signing keys", err)
		}
		out = append(out, *k)
	}
	return out, wrap("listing signing keys", rows.Err())
}

func (s q) PutServerKey(ctx context.Context, k *domain.ServerKey) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO signing_keys (fingerprint, user_id, algorithm, sealed, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.Fingerprint, k.UserID, k.Algorithm, string(k.Sealed), micros(k.CreatedAt), micros(k.ExpiresAt))
	return wrap("storing signing key", err)
}

func (s q) UpdateServerKey(ctx context.Context, k *domain.ServerKey) error {
	// failed_attempts and locked_until belong to the atomic counters
	// (ReservePasswordAttempt): a stale copy must never overwrite them.
	_, err := s.db.ExecContext(ctx, `UPDATE signing_keys SET sealed = $1, revoked_at = $2, retired_at = $3 WHERE fingerprint = $4`,
		string(k.Sealed), nullMicros(k.RevokedAt), nullMicros(k.RetiredAt), k.Fingerprint)
	return wrap("updating signing key", err)
}

func (s q) CreateSigningRequest(ctx context.Context, r *domain.SigningRequest) error {
	err := s.db.QueryRowContext(ctx, `
		INSERT INTO signing_requests (user_id, fingerprint, release_id, revision, tx, nonce, challenge, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		r.UserID, r.Fingerprint, r.ReleaseID, r.Revision, string(r.Tx), r.Nonce, r.Challenge, micros(r.CreatedAt), micros(r.ExpiresAt)).Scan(&r.ID)
	return wrap("storing signing request", err)
}

func (s q) SigningRequest(ctx context.Context, id int64) (*domain.SigningRequest, error) {
	var r domain.SigningRequest
	var tx string
	var created, expires int64
	var used sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT id, user_id, fingerprint, release_id, revision, tx, nonce, challenge, created_at, expires_at, used_at
		FROM signing_requests WHERE id = $1`, id).Scan(&r.ID, &r.UserID, &r.Fingerprint, &r.ReleaseID, &r.Revision, &tx, &r.Nonce, &r.Challenge, &created, &expires, &used)
	if err != nil {
		return nil, notFound(err, "no signing request %d", id)
	}
	r.Tx, r.CreatedAt, r.ExpiresAt, r.UsedAt = []byte(tx), fromMicros(created), fromMicros(expires), fromNullMicros(used)
	return &r, nil
}

func (s q) UseSigningRequest(ctx context.Context, id int64, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE signing_requests SET used_at = $1 WHERE id = $2 AND used_at IS NULL`, micros(at), id)
	if err != nil {
		return wrap("using signing request", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return domain.Errorf(domain.KindConflict, "this approval was already used: an approval signs once; start a new signing request")
	}
	return nil
}

func (s q) AddSigningEvent(ctx context.Context, ev *domain.SigningEvent) error {
	files, _ := json.Marshal(ev.Files)
	var req any
	if ev.RequestID != 0 {
		req = ev.RequestID
	}
	err := s.db.QueryRowContext(ctx, `
		INSERT INTO signing_events (time, user_id, client_ip, request_id, fingerprint, credential_id, aaguid, flags, sign_count, assertion, tx, files, outcome)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
		micros(ev.Time), ev.UserID, ev.ClientIP, req, ev.Fingerprint, ev.CredentialID, ev.AAGUID, ev.Flags, ev.SignCount, ev.Assertion,
		ev.Tx, string(files), ev.Outcome).Scan(&ev.ID)
	return wrap("auditing signing", err)
}

func (s q) SigningEvents(ctx context.Context, fpr string) ([]domain.SigningEvent, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT e.id, e.time, u.username, e.user_id, e.client_ip, COALESCE(e.request_id, 0), e.fingerprint, e.credential_id, e.aaguid,
			COALESCE(e.flags, 0), COALESCE(e.sign_count, 0), e.assertion, e.tx, e.files, e.outcome
		FROM signing_events e JOIN users u ON u.id = e.user_id WHERE e.fingerprint = $1 ORDER BY e.id DESC`, fpr)
	if err != nil {
		return nil, wrap("reading signing events", err)
	}
	defer rows.Close()
	var out []domain.SigningEvent
	for rows.Next() {
		var ev domain.SigningEvent
		var t int64
		var files string
		if err := rows.Scan(&ev.ID, &t, &ev.User, &ev.UserID, &ev.ClientIP, &ev.RequestID, &ev.Fingerprint, &ev.CredentialID, &ev.AAGUID,
			&ev.Flags, &ev.SignCount, &ev.Assertion, &ev.Tx, &files, &ev.Outcome); err != nil {
			return nil, wrap("reading signing events", err)
		}
		ev.Time = fromMicros(t)
		if err := json.Unmarshal([]byte(files), &ev.Files); err != nil {
			return nil, domain.Internal("decoding signing event", err)
		}
		out = append(out, ev)
	}
	return out, wrap("reading signing events", rows.Err())
}
