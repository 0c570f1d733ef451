package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"trel/internal/domain"
)

// DefaultPoolSize is the connection pool of one replica when the URL sets
// no pool_max_conns: HTTP handlers, the job queue and its notifications
// share it.
const DefaultPoolSize = 24

// startupLockID is the PostgreSQL advisory lock that replicas take while
// they prepare the database (job queue migrations, first administrator):
// the database's own coordination replaces the data directory's file lock.
const startupLockID = 0x7472656c // "trel"

// OpenPostgres connects to the PostgreSQL database at rawURL
// (postgres://USER@HOST:PORT/DB?...) and migrates it to the latest schema.
// Replicas may call it at the same time: goose migrates under a
// PostgreSQL advisory lock.
func OpenPostgres(ctx context.Context, rawURL string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(withPoolSize(rawURL))
	if err != nil {
		return nil, fmt.Errorf("--database: %s", RedactURL(rawURL))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL at %s: %w", RedactURL(rawURL), err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL at %s: %w", RedactURL(rawURL), err)
	}
	db := stdlib.OpenDBFromPool(pool)
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrations: %w", err)
	}
	if err := migrate(ctx, db, goose.DialectPostgres, "migrations/postgres", goose.WithSessionLocker(locker)); err != nil {
		db.Close()
		pool.Close()
		return nil, err
	}
	return &DB{db: db, q: q{db: db, pg: true}, pool: pool}, nil
}

func withPoolSize(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	q := u.Query()
	if q.Get("pool_max_conns") == "" {
		q.Set("pool_max_conns", fmt.Sprint(DefaultPoolSize))
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// RedactURL removes the password from a database URL, for messages.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(a malformed URL)"
	}
	return u.Redacted()
}

// Pool returns the PostgreSQL connection pool (nil for SQLite), which the
// job queue shares.
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// Engine names the database engine: "sqlite" or "postgres".
func (d *DB) Engine() string {
	if d.pool != nil {
		return "postgres"
	}
	return "sqlite"
}

// WithStartupLock runs fn while holding the database-wide startup lock
// (PostgreSQL: an advisory lock; SQLite: nothing, the serve lock on the
// data directory already excludes a second server).
func (d *DB) WithStartupLock(ctx context.Context, fn func() error) error {
	if d.pool == nil {
		return fn()
	}
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("taking the startup lock: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(startupLockID)); err != nil {
		return fmt.Errorf("taking the startup lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(startupLockID))
	return fn()
}

// maxTxAttempts bounds the retries of a transaction that PostgreSQL
// aborted to keep serialisable order. Each attempt waits a little longer
// (with jitter), so 20 writers racing for one release all get through.
const maxTxAttempts = 60

// retryable reports whether PostgreSQL aborted the transaction only to keep
// it serialisable (40001) or to break a deadlock (40P01): running it again
// is safe and will succeed once the other writer is done.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// inTx runs fn in one write transaction. On PostgreSQL it is serialisable
// and is retried when PostgreSQL aborts it for a serialisation failure or
// a deadlock; fn must therefore only touch the database (no files, no
// network) and leave results in variables it sets on every run. SQLite
// serialises writers at BEGIN (_txlock=immediate) and never needs a retry.
func (d *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	opts := &sql.TxOptions{}
	if d.pool != nil {
		opts.Isolation = sql.LevelSerializable
	}
	for attempt := 1; ; attempt++ {
		err := d.tryTx(ctx, opts, fn)
		if err == nil || d.pool == nil || !retryable(err) || attempt == maxTxAttempts {
			return err
		}
		// Exponential backoff from 1 ms, capped at 50 ms, with full jitter.
		backoff := min(time.Millisecond<<min(attempt, 6), 50*time.Millisecond)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(rand.N(backoff) + time.Millisecond):
		}
	}
}

func (d *DB) tryTx(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, opts)
	if err != nil {
		return domain.Internal("starting a transaction", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return domain.Internal("committing a transaction", err)
	}
	return nil
}
