package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"trel/internal/store"
	"trel/internal/store/sqlstore"
	"trel/internal/store/storetest"
	"trel/internal/testutil/services"
)

// opener returns a fresh, empty, migrated store that closes with the test.
type opener func(t *testing.T) *sqlstore.DB

func openSQLite(t *testing.T) *sqlstore.DB {
	s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "trel.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t *testing.T) *sqlstore.DB {
	s, err := sqlstore.OpenPostgres(context.Background(), services.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forEngines runs f on SQLite and on PostgreSQL (see package services for
// when PostgreSQL is there).
func forEngines(t *testing.T, f func(t *testing.T, open opener)) {
	t.Run("sqlite", func(t *testing.T) { f(t, openSQLite) })
	t.Run("postgres", func(t *testing.T) { f(t, openPostgres) })
}

func TestPostgres(t *testing.T) {
	services.PostgresServer(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openPostgres(t) })
}
