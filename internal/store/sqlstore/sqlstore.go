// Package sqlstore implements store.Store over database/sql, on SQLite (the
// embedded default) and on PostgreSQL (through pgx). The queries are
// written in the SQL subset both share ($N placeholders, RETURNING,
// ON CONFLICT); the schema is migrated with goose from the embedded,
// versioned migrations of each engine, kept in step (migrations/postgres/
// README.md says how).
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // the embedded default database, pure Go

	"trel/internal/domain"
	"trel/internal/store"
)

//go:embed migrations
var migrations embed.FS

// DB is a store.Store backed by a SQL database.
type DB struct {
	db   *sql.DB
	pool *pgxpool.Pool // PostgreSQL only
	q
}

var _ store.Store = (*DB)(nil)

// OpenSQLite opens (creating if needed) the SQLite database at path and
// migrates it to the latest schema. WAL mode lets readers run beside the
// single writer, so admin commands work while the server runs;
// _txlock=immediate takes the write lock at BEGIN, which serialises
// transactions instead of failing them half-way with SQLITE_BUSY.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	if err := privateFiles(path); err != nil {
		return nil, err
	}
	dsn := "file:" + path + "?_txlock=immediate" +
		"&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	if err := migrate(ctx, db, goose.DialectSQLite3, "migrations/sqlite"); err != nil {
		db.Close()
		return nil, err
	}
	return &DB{db: db, q: q{db: db}}, nil
}

// privateFiles creates the database file readable by its owner only, and
// tightens the files of an existing one: SQLite gives its -wal and -shm
// files the database file's permissions.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening database %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restricting %s to its owner: %w", p, err)
		}
	}
	return nil
}

// SQL returns the underlying database handle (for the job queue, which
// shares the database).
func (d *DB) SQL() *sql.DB { return d.db }

func migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect, dir string, opts ...goose.ProviderOption) error {
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(dialect, db, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrating the database schema: %w", err)
	}
	return nil
}

// Close implements store.Store.
func (d *DB) Close() error {
	err := d.db.Close()
	if d.pool != nil {
		d.pool.Close()
	}
	return err
}

// Tx implements store.Store (see inTx for retries on PostgreSQL).
func (d *DB) Tx(ctx context.Context, fn func(store.Tx) error) error {
	return d.inTx(ctx, func(tx *sql.Tx) error { return fn(d.with(tx)) })
}

// TouchToken implements store.Store.
func (d *DB) TouchToken(ctx context.Context, id int64, at time.Time) error {
	_, err := d.db.ExecContext(ctx, `UPDATE tokens SET last_used_at = $1 WHERE id = $2`, micros(at), id)
	return wrap("recording token use", err)
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// q implements the queries on a querier; as a Tx it is bound to a *sql.Tx.
// pg is set on PostgreSQL, for the few statements whose form differs.
type q struct {
	db querier
	pg bool
}

// with binds the queries to a transaction of d.
func (d *DB) with(tx *sql.Tx) q { return q{db: tx, pg: d.pg} }

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// wrap turns a database error into a domain error; unique violations become
// conflicts.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	if isUniqueViolation(err) {
		return &domain.Error{Kind: domain.KindConflict, Message: "already exists", Err: err}
	}
	return domain.Internal(what, err)
}

func isUniqueViolation(err error) bool {
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505")
}

func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Errorf(domain.KindNotFound, format, args...)
	}
	return wrap("reading the database", err)
}
