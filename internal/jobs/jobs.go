// Package jobs runs background work on River, a job queue in the
// database: River's SQLite driver for the embedded default, its pgx driver
// (riverpgxv5) on PostgreSQL, where every replica works the same queue.
// Its jobs check a revision and deliver a mail or a webhook call of the
// outbox (see deliver.go), fed the same way from the deliveries table.
//
// Across replicas a job runs once: River hands each job to one worker
// (FOR UPDATE SKIP LOCKED) and unique insertion makes the sweeps of several
// replicas insert it once. A replica that dies mid-job leaves the job
// "running"; River's rescuer gives it back to the queue after RescueAfter,
// and another replica runs it (the check run's generation makes a late
// finisher harmless).
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

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

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

// Checker runs the checks of one generation of a revision's check run
// (checks.Engine).
type Checker interface {
	Run(ctx context.Context, revisionID int64, gen int) (bool, error)
}

type checkWorker struct {
	river.WorkerDefaults[CheckArgs]
	checker  Checker
	timeout  time.Duration
	store    store.Store
	observer atomic.Pointer[Observer]
	after    Deliverer
	log      *slog.Logger
}

// Observer hears about each check run whose results were stored (for
// metrics: latency from queueing, exceptions).
type Observer interface {
	CheckRunFinished(run *domain.CheckRun, results []domain.CheckResult)
}

func (w *checkWorker) Work(ctx context.Context, job *river.Job[CheckArgs]) error {
	stored, err := w.checker.Run(ctx, job.Args.RevisionID, job.Args.Generation)
	if stored && err == nil && w.after != nil {
		if aerr := w.after.ChecksFinished(ctx, job.Args.RevisionID); aerr != nil {
			w.log.Warn("telling about finished checks", "revision", job.Args.RevisionID, "err", aerr)
		}
	}
	if o := w.observer.Load(); o != nil && stored && err == nil {
		run, rerr := w.store.CheckRun(ctx, job.Args.RevisionID)
		results, cerr := w.store.CheckResults(ctx, job.Args.RevisionID)
		if rerr == nil && cerr == nil {
			(*o).CheckRunFinished(run, results)
		}
	}
	return err
}

// Timeout bounds one revision's checks; each task has its own bound too.
func (w *checkWorker) Timeout(*river.Job[CheckArgs]) time.Duration { return w.timeout }

// DefaultRescueAfter is how long a job may stay "running" before River
// takes it for abandoned (its replica died) and queues it again. The job
// timeout is a little shorter, so a live worker has given up by then.
const DefaultRescueAfter = 35 * time.Minute

// Config says which queue to work and with what.
type Config struct {
	// Exactly one of SQLite and Postgres: the database the queue lives in.
	SQLite   *sql.DB
	Postgres *pgxpool.Pool
	Store    store.Store
	Checker  Checker
	Log      *slog.Logger
	// RescueAfter (default DefaultRescueAfter): see DefaultRescueAfter.
	RescueAfter time.Duration
	// Workers is how many jobs this process runs at once (default 2).
	Workers int
	// Deliverer, if set, works the outbox of mail and webhook calls and
	// hears about finished check runs.
	Deliverer Deliverer
	// Now is the clock deliveries are due by (default time.Now); Sweep is
	// how often the queue is fed without being woken (default 5 s).
	Now   func() time.Time
	Sweep time.Duration
}

// queue is what the Runner needs of a River client, whatever its driver.
type queue interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	Stop(ctx context.Context) error
}

// Runner owns the River client and the sweep that feeds it.
type Runner struct {
	client queue
	store  store.Store
	log    *slog.Logger
	wake   chan struct{}
	done   chan struct{}
	worker *checkWorker
	now    func() time.Time
	every  time.Duration
	outbox bool
}

// Observe registers o to hear about finished check runs.
func (r *Runner) Observe(o Observer) { r.worker.observer.Store(&o) }

// Migrate creates or upgrades River's tables in the SQLite database db.
func Migrate(ctx context.Context, db *sql.DB) error {
	return migrate(ctx, riversqlite.New(db))
}

// MigratePostgres creates or upgrades River's tables in PostgreSQL. Run it
// under the database's startup lock when replicas may start together.
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	return migrate(ctx, riverpgxv5.New(pool))
}

func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrating the job queue: %w", err)
	}
	return nil
}

// Start migrates the SQLite queue in db, starts workers in this process and
// the sweep (the embedded default; see Run).
func Start(ctx context.Context, db *sql.DB, st store.Store, engine *checks.Engine, log *slog.Logger) (*Runner, error) {
	if err := Migrate(ctx, db); err != nil {
		return nil, err
	}
	return Run(ctx, Config{SQLite: db, Store: st, Checker: engine, Log: log})
}

// Run starts workers and the sweep on an already migrated queue.
func Run(ctx context.Context, cfg Config) (*Runner, error) {
	if cfg.RescueAfter <= 0 {
		cfg.RescueAfter = DefaultRescueAfter
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	workers := river.NewWorkers()
	timeout := min(30*time.Minute, cfg.RescueAfter-cfg.RescueAfter/8)
	worker := &checkWorker{checker: cfg.Checker, timeout: timeout, store: cfg.Store, after: cfg.Deliverer, log: cfg.Log}
	if err := river.AddWorkerSafely(workers, worker); err != nil {
		return nil, err
	}
	if cfg.Deliverer != nil {
		if err := river.AddWorkerSafely(workers, &deliverWorker{d: cfg.Deliverer}); err != nil {
			return nil, err
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = 5 * time.Second
	}
	rc := &river.Config{
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:              workers,
		FetchCooldown:        20 * time.Millisecond,
		FetchPollInterval:    250 * time.Millisecond,
		RescueStuckJobsAfter: cfg.RescueAfter,
		JobTimeout:           timeout,
		Logger:               cfg.Log,
	}
	var client queue
	var err error
	switch {
	case cfg.Postgres != nil:
		client, err = startClient(ctx, riverpgxv5.New(cfg.Postgres), rc)
	case cfg.SQLite != nil:
		client, err = startClient(ctx, riversqlite.New(cfg.SQLite), rc)
	default:
		err = fmt.Errorf("jobs: no database")
	}
	if err != nil {
		return nil, err
	}
	r := &Runner{client: client, store: cfg.Store, log: cfg.Log, wake: make(chan struct{}, 1), done: make(chan struct{}), worker: worker,
		now: cfg.Now, every: cfg.Sweep, outbox: cfg.Deliverer != nil}
	go r.loop(ctx)
	r.Notify()
	return r, nil
}

func startClient[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], cfg *river.Config) (*river.Client[TTx], error) {
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("starting the job queue: %w", err)
	}
	if err := client.Start(ctx); err != nil {
		return nil, fmt.Errorf("starting the job queue: %w", err)
	}
	return client, nil
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
	tick := time.NewTicker(r.every)
	defer tick.Stop()
	for {
		if err := r.sweep(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("feeding the check queue", "err", err)
		}
		if r.outbox {
			if err := r.sweepDeliveries(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("feeding the delivery queue", "err", err)
			}
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
