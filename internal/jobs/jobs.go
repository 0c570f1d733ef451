// Package jobs runs background work on River, a job queue in the
// database: the SQLite driver for the embedded default (PostgreSQL later).
// Today its one job checks a revision.
//
// The source of truth for "these checks must run" is the check_runs table,
// written in the same transaction as the change that needs checking. The
// queue is fed from it after commit (on Notify, and by a periodic sweep
// that also recovers runs interrupted by a crash), so a revision can never
// end up unchecked.
package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"trel/internal/checks"
	"trel/internal/domain"
	"trel/internal/store"
)

// CheckArgs is the job that runs the checks of one revision for one
// generation of its check run.
type CheckArgs struct {
	RevisionID int64 `json:"revision_id"`
	Generation int   `json:"generation"`
}

// Kind implements river.JobArgs.
func (CheckArgs) Kind() string { return "check_revision" }

// InsertOpts makes jobs unique per revision and generation.
func (CheckArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}, MaxAttempts: 5}
}

type checkWorker struct {
	river.WorkerDefaults[CheckArgs]
	engine   *checks.Engine
	store    store.Store
	observer atomic.Pointer[Observer]
}

// Observer hears about each check run whose results were stored (for
// metrics: latency from queueing, exceptions).
type Observer interface {
	CheckRunFinished(run *domain.CheckRun, results []domain.CheckResult)
}

func (w *checkWorker) Work(ctx context.Context, job *river.Job[CheckArgs]) error {
	stored, err := w.engine.Run(ctx, job.Args.RevisionID, job.Args.Generation)
	if o := w.observer.Load(); o != nil && stored && err == nil {
		run, rerr := w.store.CheckRun(ctx, job.Args.RevisionID)
		results, cerr := w.store.CheckResults(ctx, job.Args.RevisionID)
		if rerr == nil && cerr == nil {
			(*o).CheckRunFinished(run, results)
		}
	}
	return err
}

// Observe registers o to hear about finished check runs.
func (r *Runner) Observe(o Observer) { r.worker.observer.Store(&o) }

// Timeout bounds one revision's checks; each task has its own bound too.
func (w *checkWorker) Timeout(*river.Job[CheckArgs]) time.Duration { return 30 * time.Minute }

// Runner owns the River client and the sweep that feeds it.
type Runner struct {
	client *river.Client[*sql.Tx]
	store  store.Store
	log    *slog.Logger
	wake   chan struct{}
	done   chan struct{}
	worker *checkWorker
}

// Migrate creates or upgrades River's tables in db.
func Migrate(ctx context.Context, db *sql.DB) error {
	m, err := rivermigrate.New(riversqlite.New(db), nil)
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrating the job queue: %w", err)
	}
	return nil
}

// Start migrates the queue, starts workers in this process and the sweep.
func Start(ctx context.Context, db *sql.DB, st store.Store, engine *checks.Engine, log *slog.Logger) (*Runner, error) {
	if err := Migrate(ctx, db); err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	worker := &checkWorker{engine: engine, store: st}
	if err := river.AddWorkerSafely(workers, worker); err != nil {
		return nil, err
	}
	client, err := river.NewClient(riversqlite.New(db), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
		Workers:           workers,
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 250 * time.Millisecond,
		Logger:            log,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the job queue: %w", err)
	}
	if err := client.Start(ctx); err != nil {
		return nil, fmt.Errorf("starting the job queue: %w", err)
	}
	r := &Runner{client: client, store: st, log: log, wake: make(chan struct{}, 1), done: make(chan struct{}), worker: worker}
	go r.loop(ctx)
	r.Notify()
	return r, nil
}

// Notify implements core.CheckNotifier: feed newly queued runs to River.
func (r *Runner) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Runner) loop(ctx context.Context) {
	defer close(r.done)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		if err := r.sweep(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("feeding the check queue", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-tick.C:
		}
	}
}

// sweep inserts a job for every queued (or interrupted) check run; River's
// uniqueness makes repeated inserts harmless.
func (r *Runner) sweep(ctx context.Context) error {
	ids, err := r.store.QueuedRuns(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		run, err := r.store.CheckRun(ctx, id)
		if err != nil {
			return err
		}
		if _, err := r.client.Insert(ctx, CheckArgs{RevisionID: id, Generation: run.Generation}, nil); err != nil {
			return fmt.Errorf("queueing checks of revision %d: %w", id, err)
		}
	}
	return nil
}

// Stop stops the workers, letting running jobs finish for up to the
// context's deadline.
func (r *Runner) Stop(ctx context.Context) error {
	err := r.client.Stop(ctx)
	return err
}
