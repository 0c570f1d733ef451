package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"trel/internal/domain"
)

func (s q) HeldSigstoreKeys(ctx context.Context, userIDs []int64) ([]domain.HeldSigstoreKey, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	marks, args := inList(userIDs)
	rows, err := s.db.QueryContext(ctx, `SELECT h.fingerprint, k.user_id, u.username, h.public_key, h.key_id, h.created_at, k.revoked_at, k.retired_at
		FROM held_sigstore_keys h JOIN signing_keys k ON k.fingerprint = h.fingerprint JOIN users u ON u.id = k.user_id
		WHERE k.user_id IN (`+marks+`) ORDER BY h.fingerprint`, args...)
	if err != nil {
		return nil, wrap("listing held Sigstore keys", err)
	}
	defer rows.Close()
	var out []domain.HeldSigstoreKey
	for rows.Next() {
		var k domain.HeldSigstoreKey
		var created int64
		var revoked, retired sql.NullInt64
		if err := rows.Scan(&k.Fingerprint, &k.UserID, &k.Owner, &k.PublicKey, &k.KeyID, &created, &revoked, &retired); err != nil {
			return nil, wrap("listing held Sigstore keys", err)
		}
		k.CreatedAt, k.RevokedAt, k.RetiredAt = fromMicros(created), fromNullMicros(revoked), fromNullMicros(retired)
		out = append(out, k)
	}
	return out, wrap("listing held Sigstore keys", rows.Err())
}

// inList is the placeholders ($1,$2,...) and arguments of an IN list.
func inList(ids []int64) (string, []any) {
	ph := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		ph[i], args[i] = "$"+strconv.Itoa(i+1), id
	}
	return strings.Join(ph, ","), args
}

func (s q) PutHeldSigstoreKey(ctx context.Context, k *domain.HeldSigstoreKey) error {
	var existing string
	err := s.db.QueryRowContext(ctx, `SELECT key_id FROM held_sigstore_keys WHERE fingerprint = $1`, k.Fingerprint).Scan(&existing)
	switch {
	case err == nil && existing == k.KeyID:
		return nil
	case err == nil:
		return domain.Errorf(domain.KindConflict, "key %s already has another Sigstore key (%s)", k.Fingerprint, existing)
	case err != sql.ErrNoRows:
		return wrap("reading held Sigstore key", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO held_sigstore_keys (fingerprint, public_key, key_id, created_at) VALUES ($1, $2, $3, $4)`,
		k.Fingerprint, k.PublicKey, k.KeyID, micros(k.CreatedAt))
	return wrap("storing held Sigstore key", err)
}
