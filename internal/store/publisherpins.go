package store

import (
	"context"
	"time"
)

// PublisherPinTx pins a trusted publisher to the repository it first
// served, by the ids the CI issuer gives it (a path can be taken over; an
// id cannot).
type PublisherPinTx interface {
	// PinPublisher records ids for the publisher unless it has some, and
	// returns the ids it has (one conditional insert, then a read: of two
	// replicas racing with different repositories, one pins).
	PinPublisher(ctx context.Context, projectID, publisherID int64, ids string, at time.Time) (string, error)
}
