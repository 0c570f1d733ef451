// Package services hands tests a fresh PostgreSQL database and a fresh S3
// bucket on the servers that ./scripts/services starts on loopback (and
// ./scripts/test always starts): TREL_TEST_POSTGRES names the PostgreSQL
// server, TREL_TEST_S3 the S3 endpoint.
//
// The rule: the shared suites always run on SQLite and local disk; they
// also run on PostgreSQL and S3 when these variables are set. Without them
// a test that needs the servers skips with a message, except when
// TREL_TEST_SERVICES=required (set by ./scripts/services, hence by
// ./scripts/test), where it fails: in the project's own test run nothing
// skips.
package services

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Required reports whether the servers must be present (./scripts/test).
func Required() bool { return os.Getenv("TREL_TEST_SERVICES") == "required" }

func need(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if Required() {
		t.Fatalf("%s is not set but TREL_TEST_SERVICES=required: start the servers with `eval \"$(./scripts/services start DIR)\"` (./scripts/test does)", name)
	}
	t.Skipf("%s is not set: this test needs the PostgreSQL and S3 servers that ./scripts/test starts (or `eval \"$(./scripts/services start DIR)\"`)", name)
	return ""
}

// PostgresServer returns the URL of the test PostgreSQL server's
// maintenance database (for tests that create databases themselves).
func PostgresServer(t testing.TB) string { return need(t, "TREL_TEST_POSTGRES") }

// Postgres creates an empty database for this test (with a locale-aware
// ICU collation) and returns its URL; the database is dropped when the
// test ends.
func Postgres(t testing.TB) string {
	t.Helper()
	server := PostgresServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := "trel_test_" + randomName()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("connecting to the test PostgreSQL server: %v", err)
	}
	defer conn.Close(ctx)
	// A locale-aware collation, as production databases usually have:
	// trel's schema must not depend on the server's locale (its text
	// columns sort in byte order, COLLATE "C").
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+
		" TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"); err != nil {
		t.Fatalf("creating the test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("dropping the test database: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping the test database: %v", err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// S3Server returns TREL_TEST_S3 (s3://BUCKET?endpoint=...&region=...).
func S3Server(t testing.TB) string { return need(t, "TREL_TEST_S3") }

// S3 returns an S3 URL for a fresh, empty place in the test bucket: a
// prefix of its own, so that tests never see each other's objects.
func S3(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(S3Server(t))
	if err != nil {
		t.Fatalf("TREL_TEST_S3: %v", err)
	}
	u.Path = "/" + "t-" + randomName()
	return u.String()
}

func randomName() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("services: %v", err))
	}
	return hex.EncodeToString(b[:])
}
