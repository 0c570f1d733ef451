package sqlstore

import (
	"context"
	"slices"
	"time"
)

// SetTokenParent implements store.TokenLineageTx.
func (s q) SetTokenParent(ctx context.Context, id, parent int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE tokens SET parent_id = $1 WHERE id = $2`, parent, id)
	return wrap("recording the token's parent", err)
}

// RevokeDescendants implements store.TokenLineageTx: one statement walks
// the lineage (UNION stops at a token seen before) and revokes it.
func (s q) RevokeDescendants(ctx context.Context, id int64, at time.Time) ([]int64, error) {
	out, err := queryAll(ctx, s.db, "revoking the tokens made with a token", func(r interface{ Scan(...any) error }) (*int64, error) {
		var n int64
		return &n, r.Scan(&n)
	}, `
		WITH RECURSIVE made(id) AS (
			SELECT id FROM tokens WHERE parent_id = $1
			UNION SELECT t.id FROM tokens t JOIN made ON t.parent_id = made.id)
		UPDATE tokens SET revoked_at = $2
		WHERE revoked_at IS NULL AND id IN (SELECT id FROM made)
		RETURNING id`, id, micros(at))
	slices.Sort(out)
	return out, err
}
