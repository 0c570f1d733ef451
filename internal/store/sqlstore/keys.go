package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"trel/internal/domain"
)

const keyCols = `k.fingerprint, k.key_id, k.algorithm, k.bits, k.curve, k.created_at, k.expires_at, k.revoked_at,
	k.revocation_reason, k.compromised, k.user_ids, k.emails, k.armored, COALESCE(k.owner_id, 0), COALESCE(o.username, ''),
	k.proof, k.proven_at, k.uploaded_by, u.username, k.uploaded_at, k.updated_at, k.deleted_at, k.historic`

const keyFrom = ` FROM keys k JOIN users u ON u.id = k.uploaded_by LEFT JOIN users o ON o.id = k.owner_id `

func scanKey(row interface{ Scan(...any) error }) (*domain.Key, error) {
	var k domain.Key
	var created, uploaded, updated int64
	var expires, revoked, proven, deleted sql.NullInt64
	var uids, emails string
	err := row.Scan(&k.Fingerprint, &k.KeyID, &k.Algorithm, &k.Bits, &k.Curve, &created, &expires, &revoked,
		&k.RevocationReason, &k.Compromised, &uids, &emails, &k.Armored, &k.OwnerID, &k.Owner,
		&k.Proof, &proven, &k.UploadedByID, &k.UploadedBy, &uploaded, &updated, &deleted, &k.Historic)
	if err != nil {
		return nil, err
	}
	k.CreatedAt, k.UploadedAt, k.UpdatedAt = fromMicros(created), fromMicros(uploaded), fromMicros(updated)
	k.ExpiresAt, k.RevokedAt, k.ProvenAt, k.DeletedAt = fromNullMicros(expires), fromNullMicros(revoked), fromNullMicros(proven), fromNullMicros(deleted)
	if err := json.Unmarshal([]byte(uids), &k.UserIDs); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(emails), &k.Emails); err != nil {
		return nil, err
	}
	return &k, nil
}

// fill loads subkeys and committee links of keys.
func (s q) fill(ctx context.Context, keys []domain.Key) error {
	for i := range keys {
		k := &keys[i]
		rows, err := s.db.QueryContext(ctx, `
			SELECT fingerprint, key_id, algorithm, bits, curve, created_at, expires_at, revoked_at, can_sign
			FROM key_subkeys WHERE primary_fpr = $1 ORDER BY created_at, fingerprint`, k.Fingerprint)
		if err != nil {
			return err
		}
		k.Subkeys = []domain.Subkey{}
		for rows.Next() {
			var sk domain.Subkey
			var created int64
			var expires, revoked sql.NullInt64
			if err := rows.Scan(&sk.Fingerprint, &sk.KeyID, &sk.Algorithm, &sk.Bits, &sk.Curve, &created, &expires, &revoked, &sk.CanSign); err != nil {
				rows.Close()
				return err
			}
			sk.CreatedAt, sk.ExpiresAt, sk.RevokedAt = fromMicros(created), fromNullMicros(expires), fromNullMicros(revoked)
			k.Subkeys = append(k.Subkeys, sk)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = s.db.QueryContext(ctx, `
			SELECT ck.committee_id, c.key, ck.fingerprint, ck.automation, u.username, ck.added_at
			FROM committee_keys ck JOIN committees c ON c.id = ck.committee_id JOIN users u ON u.id = ck.added_by
			WHERE ck.fingerprint = $1 ORDER BY c.key`, k.Fingerprint)
		if err != nil {
			return err
		}
		for rows.Next() {
			var l domain.CommitteeKey
			var added int64
			if err := rows.Scan(&l.CommitteeID, &l.CommitteeKey, &l.Fingerprint, &l.Automation, &l.AddedBy, &added); err != nil {
				rows.Close()
				return err
			}
			l.AddedAt = fromMicros(added)
			k.Committees = append(k.Committees, l)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (s q) keys(ctx context.Context, query string, args ...any) ([]domain.Key, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyCols+keyFrom+query, args...)
	if err != nil {
		return nil, wrap("reading keys", err)
	}
	var out []domain.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			rows.Close()
			return nil, wrap("reading keys", err)
		}
		out = append(out, *k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("reading keys", err)
	}
	return out, wrap("reading keys", s.fill(ctx, out))
}

func (s q) Key(ctx context.Context, fpr string) (*domain.Key, error) {
	ks, err := s.keys(ctx, `WHERE k.fingerprint = $1`, fpr)
	if err != nil {
		return nil, err
	}
	if len(ks) == 0 {
		return nil, domain.Errorf(domain.KindNotFound, "no key with fingerprint %s: add it with `trel keys add FILE`", fpr)
	}
	return &ks[0], nil
}

func (s q) KeysByKeyID(ctx context.Context, keyID string) ([]domain.Key, error) {
	return s.keys(ctx, `WHERE k.deleted_at IS NULL AND (k.key_id = $1 OR k.fingerprint IN
		(SELECT primary_fpr FROM key_subkeys WHERE key_id = $1)) ORDER BY k.fingerprint`, keyID)
}

func (s q) CommitteeKeys(ctx context.Context, committeeID int64, includeDeleted bool) ([]domain.Key, error) {
	return s.keys(ctx, `WHERE k.fingerprint IN (SELECT fingerprint FROM committee_keys WHERE committee_id = $1)
		AND ($2 OR k.deleted_at IS NULL) ORDER BY k.fingerprint`, committeeID, includeDeleted)
}

func (s q) UserKeys(ctx context.Context, userID int64) ([]domain.Key, error) {
	return s.keys(ctx, `WHERE k.deleted_at IS NULL AND (k.owner_id = $1 OR k.uploaded_by = $1) ORDER BY k.fingerprint`, userID)
}

func (s q) PutKey(ctx context.Context, k *domain.Key) error {
	uids, _ := json.Marshal(nonNilStrings(k.UserIDs))
	emails, _ := json.Marshal(nonNilStrings(k.Emails))
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO keys (fingerprint, key_id, algorithm, bits, curve, created_at, expires_at, revoked_at, revocation_reason,
			compromised, user_ids, emails, armored, uploaded_by, uploaded_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT (fingerprint) DO UPDATE SET
			algorithm = excluded.algorithm, bits = excluded.bits, curve = excluded.curve,
			expires_at = excluded.expires_at, revoked_at = excluded.revoked_at,
			revocation_reason = excluded.revocation_reason, compromised = excluded.compromised,
			user_ids = excluded.user_ids, emails = excluded.emails, armored = excluded.armored,
			updated_at = excluded.updated_at`,
		k.Fingerprint, k.KeyID, k.Algorithm, k.Bits, k.Curve, micros(k.CreatedAt), nullMicros(k.ExpiresAt), nullMicros(k.RevokedAt),
		k.RevocationReason, k.Compromised, string(uids), string(emails), k.Armored, k.UploadedByID, micros(k.UploadedAt), micros(k.UpdatedAt))
	if err != nil {
		return wrap("storing key", err)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM key_subkeys WHERE primary_fpr = $1`, k.Fingerprint); err != nil {
		return wrap("storing key", err)
	}
	for _, sk := range k.Subkeys {
		_, err := s.db.ExecContext(ctx, `
			INSERT INTO key_subkeys (fingerprint, primary_fpr, key_id, algorithm, bits, curve, created_at, expires_at, revoked_at, can_sign)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			sk.Fingerprint, k.Fingerprint, sk.KeyID, sk.Algorithm, sk.Bits, sk.Curve, micros(sk.CreatedAt), nullMicros(sk.ExpiresAt), nullMicros(sk.RevokedAt), sk.CanSign)
		if err != nil {
			return wrap("storing subkey", err)
		}
	}
	return nil
}

func (s q) SetKeyOwner(ctx context.Context, fpr string, ownerID int64, proof string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE keys SET owner_id = $1, proof = $2, proven_at = $3 WHERE fingerprint = $4`, ownerID, proof, micros(at), fpr)
	return wrap("recording key owner", err)
}

func (s q) SoftDeleteKey(ctx context.Context, fpr string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE keys SET deleted_at = $1 WHERE fingerprint = $2`, micros(at), fpr)
	return wrap("deleting key", err)
}

func (s q) MarkKeyHistoric(ctx context.Context, fpr string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE keys SET historic = TRUE WHERE fingerprint = $1 AND NOT historic`, fpr)
	return wrap("marking key historic", err)
}

func (s q) LinkKey(ctx context.Context, l domain.CommitteeKey, by int64) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO committee_keys (committee_id, fingerprint, automation, added_by, added_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (committee_id, fingerprint) DO UPDATE SET automation = committee_keys.automation OR excluded.automation`,
		l.CommitteeID, l.Fingerprint, l.Automation, by, micros(l.AddedAt))
	return wrap("linking key", err)
}

func (s q) UnlinkKey(ctx context.Context, committeeID int64, fpr string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM committee_keys WHERE committee_id = $1 AND fingerprint = $2`, committeeID, fpr)
	return wrap("unlinking key", err)
}

func (s q) CreateChallenge(ctx context.Context, c *domain.Challenge) error {
	err := s.db.QueryRowContext(ctx, `
		INSERT INTO key_challenges (fingerprint, user_id, text, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		c.Fingerprint, c.UserID, c.Text, micros(c.CreatedAt), micros(c.ExpiresAt)).Scan(&c.ID)
	return wrap("creating challenge", err)
}

func (s q) OpenChallenge(ctx context.Context, userID int64, fpr string) (*domain.Challenge, error) {
	var c domain.Challenge
	var created, expires int64
	err := s.db.QueryRowContext(ctx, `
		SELECT id, fingerprint, user_id, text, created_at, expires_at FROM key_challenges
		WHERE user_id = $1 AND fingerprint = $2 AND used_at IS NULL ORDER BY id DESC LIMIT 1`, userID, fpr).
		Scan(&c.ID, &c.Fingerprint, &c.UserID, &c.Text, &created, &expires)
	if err != nil {
		return nil, notFound(err, "no open challenge for key %s: run `trel keys challenge %s` first", fpr, fpr)
	}
	c.CreatedAt, c.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &c, nil
}

func (s q) UseChallenge(ctx context.Context, id int64, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE key_challenges SET used_at = $1 WHERE id = $2 AND used_at IS NULL`, micros(at), id)
	if err != nil {
		return wrap("using challenge", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return domain.Errorf(domain.KindConflict, "this challenge was already used: request a new one with `trel keys challenge`")
	}
	return nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
