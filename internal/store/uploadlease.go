package store

import (
	"context"
	"time"
)

// UploadLeases count each user's uploads in progress in the database, so
// that the bound holds across replicas. A lease expires unless its holder
// renews it, so a replica that dies leaves no count behind for long. It is
// embedded in Tx.
type UploadLeases interface {
	// TakeUploadLease records an upload in progress of the user, held by
	// holder until expires, unless the user already holds max leases that
	// have not expired at now (then ok is false). It removes the user's
	// expired leases. The count and the insert are one conditional insert
	// in the write transaction, so concurrent uploads on any replica never
	// exceed max. It must be the transaction's first statement.
	TakeUploadLease(ctx context.Context, userID int64, holder string, max int, now, expires time.Time) (id int64, ok bool, err error)
	// RenewUploadLease moves a lease's expiry.
	RenewUploadLease(ctx context.Context, id int64, expires time.Time) error
	// DropUploadLease ends one lease (a missing one is not an error).
	DropUploadLease(ctx context.Context, id int64) error
	// DropHolderLeases ends every lease of holder (a replica starting
	// again drops what its previous process held) and says how many.
	DropHolderLeases(ctx context.Context, holder string) (int, error)
	// QueueUploadCharge, as the first statement of a write transaction
	// that charges an upload to the storage counters, makes concurrent
	// such transactions wait for each other instead of failing on the
	// same counters and being retried (PostgreSQL: a table lock taken
	// before the transaction's snapshot; SQLite serialises writers anyway).
	QueueUploadCharge(ctx context.Context) error
}
