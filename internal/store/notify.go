package store

import (
	"context"
	"time"

	"trel/internal/domain"
)

// NotifyReader holds the queries of mail, notifications, webhooks and a
// release's state after publication.
type NotifyReader interface {
	// AllNotices lists a user's notices, read ones too, newest first (at
	// most limit).
	AllNotices(ctx context.Context, userID int64, limit int) ([]domain.Notice, error)
	// Webhooks lists a project's webhooks that are not removed.
	Webhooks(ctx context.Context, projectID int64) ([]domain.Webhook, error)
	// Webhook returns one webhook (a removed one too).
	Webhook(ctx context.Context, id int64) (*domain.Webhook, error)
	// Delivery returns one delivery with its payload.
	Delivery(ctx context.Context, id int64) (*domain.Delivery, error)
	// ReleaseDeliveries lists a release's mail (no payloads), newest first.
	ReleaseDeliveries(ctx context.Context, releaseID int64) ([]domain.Delivery, error)
	// WebhookDeliveries lists the webhook calls of a project's webhooks
	// (no payloads), newest first, at most limit.
	WebhookDeliveries(ctx context.Context, projectID int64, limit int) ([]domain.Delivery, error)
	// DueDeliveries lists pending deliveries due at now (id and attempts
	// made), oldest first, at most limit.
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]DueDelivery, error)
}

// DueDelivery names a delivery to hand to a worker.
type DueDelivery struct {
	ID       int64
	Attempts int
}

// DeliveryOutcome is what an attempt came to.
type DeliveryOutcome struct {
	State      string    // DeliverySent, DeliveryFailed, DeliverySkipped, or DeliveryPending for a retry
	NotBefore  time.Time // the next attempt (pending)
	LastError  string
	Refused    string
	StatusCode int
	At         time.Time
}

// NotifyTx holds the writes. Claiming a delivery is one conditional
// UPDATE, so two workers (two replicas) never send the same one.
type NotifyTx interface {
	// SetEmbargoed marks a new release as embargoed.
	SetEmbargoed(ctx context.Context, releaseID int64) error
	// LiftEmbargo ends a release's embargo (at publication).
	LiftEmbargo(ctx context.Context, releaseID int64, at time.Time) error
	// SetYanked yanks (at != nil) a release that is not yanked, or
	// un-yanks (nil) one that is; false when it was not (one conditional
	// UPDATE: of two racing requests, one changes the release).
	SetYanked(ctx context.Context, releaseID int64, at *time.Time, by, reason string) (bool, error)
	// SetArchived records that a release's files moved to the archive
	// tree; false when it was recorded already (one conditional UPDATE).
	SetArchived(ctx context.Context, releaseID int64, at time.Time, by string) (bool, error)
	// AddNotification stores a notice unless the user already has one
	// with the same dedupe key ("" = no key); it reports whether it did.
	AddNotification(ctx context.Context, n domain.Notice, dedupe string) (bool, error)
	// DismissAllNotices marks every open notice of the user read.
	DismissAllNotices(ctx context.Context, userID int64, at time.Time) (int, error)
	// AddWebhook stores a webhook and sets its ID, unless the project has
	// limit webhooks already (KindConflict), counted in the same statement
	// under the project's lock, so racing additions cannot pass the limit.
	AddWebhook(ctx context.Context, w *domain.Webhook, by int64, limit int) error
	// DeleteWebhook removes a project's webhook (its log stays).
	DeleteWebhook(ctx context.Context, projectID, id int64, at time.Time) error
	// AddDelivery stores a pending delivery and sets its ID.
	AddDelivery(ctx context.Context, d *domain.Delivery) error
	// ClaimDelivery takes a pending delivery due at now until until,
	// counting the attempt; ok is false when it is not pending and due
	// (another worker has it, or it is done).
	ClaimDelivery(ctx context.Context, id int64, now, until time.Time) (d *domain.Delivery, ok bool, err error)
	// FinishAttempt records the outcome of attempt n, if the delivery is
	// still claimed by it (false otherwise).
	FinishAttempt(ctx context.Context, id int64, n int, o DeliveryOutcome) (bool, error)
	// ReleaseStaleClaims gives deliveries whose claim ran out (their
	// worker died) back to the queue.
	ReleaseStaleClaims(ctx context.Context, now time.Time) (int, error)
}
