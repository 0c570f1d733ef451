package store

import (
	"context"
	"time"
)

// TokenLineageTx records which token made which, so that revoking a token
// (a leaked one, say) also revokes every token made with it.
type TokenLineageTx interface {
	// SetTokenParent records that token id was made with token parent.
	SetTokenParent(ctx context.Context, id, parent int64) error
	// RevokeDescendants revokes the active tokens made, directly or
	// through others, with token id, and returns their ids in order.
	RevokeDescendants(ctx context.Context, id int64, at time.Time) ([]int64, error)
}
