package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"trel/internal/domain"

	"trel/internal/store"
	"trel/internal/store/sqlstore"
	"trel/internal/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "trel.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestReopenKeepsData proves migrations are idempotent and data persists.
func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trel.db")
	s, err := sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tx(ctx, func(tx store.Tx) error {
		return tx.Audit(ctx, domainEvent())
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs, err := s.ListAudit(ctx, 10)
	if err != nil || len(evs) != 1 || evs[0].Details["k"] != "v" {
		t.Fatalf("%+v %v", evs, err)
	}
}

func domainEvent() domain.AuditEvent {
	return domain.AuditEvent{Time: time.Now(), Actor: "system", Action: "test", Target: "x", Details: map[string]any{"k": "v"}}
}

// TestDatabaseFilesAreOwnerOnly: trel.db and its WAL and shared-memory
// files are created 0600 whatever the umask, and an existing database's
// files are tightened when it is opened.
func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "trel.db")
	check := func() {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("%s has mode %o, want 600", filepath.Base(p), fi.Mode().Perm())
			}
		}
	}
	db, err := sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CountUsers(ctx); err != nil { // the WAL files exist once read
		t.Fatal(err)
	}
	check()
	db.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Chmod(p, 0o644)
	}
	db, err = sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check()
}
