package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"trel/internal/store"
)

// DeliverArgs is the job that makes one attempt of one delivery (a mail
// or a webhook call) of the outbox. The attempt number is part of the
// arguments so that each retry is its own unique job.
type DeliverArgs struct {
	DeliveryID int64 `json:"delivery_id"`
	Attempt    int   `json:"attempt"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "deliver" }

// InsertOpts makes jobs unique per delivery and attempt: the sweeps of
// several replicas insert each once.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}, MaxAttempts: 3}
}

// Deliverer makes delivery attempts and hears about finished check runs
// (core.Service).
type Deliverer interface {
	// Deliver makes one attempt of a delivery if it is still due; it
	// claims the delivery first, so a second worker does nothing.
	Deliver(ctx context.Context, id int64) error
	// ChecksFinished runs after a revision's results were stored.
	ChecksFinished(ctx context.Context, revisionID int64) error
}

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	d Deliverer
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	return w.d.Deliver(ctx, job.Args.DeliveryID)
}

// Timeout bounds one attempt (an SMTP transaction or an HTTP call).
func (w *deliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration { return 2 * time.Minute }

// sweepDeliveries gives back deliveries whose worker died, then queues a
// job for every due delivery.
func (r *Runner) sweepDeliveries(ctx context.Context) error {
	now := r.now()
	if err := r.store.Tx(ctx, func(tx store.Tx) error {
		_, err := tx.ReleaseStaleClaims(ctx, now)
		return err
	}); err != nil {
		return err
	}
	due, err := r.store.DueDeliveries(ctx, now, 500)
	if err != nil {
		return err
	}
	for _, d := range due {
		if _, err := r.client.Insert(ctx, DeliverArgs{DeliveryID: d.ID, Attempt: d.Attempts + 1}, nil); err != nil {
			return fmt.Errorf("queueing delivery %d: %w", d.ID, err)
		}
	}
	return nil
}
