package services_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"trel/internal/blob/s3"
	"trel/internal/testutil/services"
)

// TestServicesArePresentWhenRequired guards the rule of this package: under
// ./scripts/test (TREL_TEST_SERVICES=required) both servers are set and
// answer, so no PostgreSQL or S3 test can have skipped.
func TestServicesArePresentWhenRequired(t *testing.T) {
	if !services.Required() {
		t.Skip("TREL_TEST_SERVICES is not \"required\": outside ./scripts/test the PostgreSQL and S3 tests may skip")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, services.PostgresServer(t))
	if err != nil {
		t.Fatalf("TREL_TEST_POSTGRES does not answer: %v", err)
	}
	conn.Close(ctx)
	if _, err := s3.Open(ctx, services.S3(t)); err != nil {
		t.Fatalf("TREL_TEST_S3 does not answer: %v", err)
	}
}
