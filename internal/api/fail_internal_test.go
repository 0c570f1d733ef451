package api

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"trel/internal/domain"
)

// TestFailLogsAbandonedRequestsQuietly: a server error caused by the client
// going away (its request context canceled) is logged as information, not
// as a failure; a real server error still is.
func TestFailLogsAbandonedRequestsQuietly(t *testing.T) {
	var logs bytes.Buffer
	a := &API{log: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("PUT", "/api/v1/x", nil).WithContext(ctx)
	a.fail(httptest.NewRecorder(), r, domain.Internal("starting a transaction", context.Canceled))
	if out := logs.String(); strings.Contains(out, "level=ERROR") || !strings.Contains(out, "request abandoned by the client") {
		t.Fatalf("a request abandoned by its client was logged as:\n%s", out)
	}
	logs.Reset()
	r = httptest.NewRequest("PUT", "/api/v1/x", nil)
	a.fail(httptest.NewRecorder(), r, domain.Internal("starting a transaction", errors.New("disk full")))
	if out := logs.String(); !strings.Contains(out, "level=ERROR") {
		t.Fatalf("a server error was logged as:\n%s", out)
	}
}
