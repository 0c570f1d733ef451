package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"trel/internal/buildinfo"
)

// healthMonitor checks every engine (database, blobs, public log) every
// few seconds and on each /healthz. While one is unreachable, the replica
// answers every request except /healthz and /metrics with 503 and a
// Retry-After, so a load balancer takes it out and users get one clear
// message instead of errors page by page.
type healthMonitor struct {
	app *App
	log *slog.Logger

	mu      sync.RWMutex
	healthy bool
	lines   []string
}

// healthInterval is how often the engines are checked in the background.
const healthInterval = 2 * time.Second

func newHealthMonitor(app *App, log *slog.Logger) *healthMonitor {
	h := &healthMonitor{app: app, log: log, healthy: true}
	h.check(context.Background())
	return h
}

// run re-checks until ctx ends.
func (h *healthMonitor) run(ctx context.Context) {
	t := time.NewTicker(healthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.check(ctx)
		}
	}
}

// check probes each engine (each within 3 s) and records the result.
func (h *healthMonitor) check(ctx context.Context) (bool, []string) {
	probe := func(name, what string, f func(context.Context) error) (string, bool) {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if err := f(cctx); err != nil {
			h.log.Warn("health check failed", "engine", name, "err", err)
			return fmt.Sprintf("%s: unreachable (%s)", name, what), false
		}
		return fmt.Sprintf("%s: ok (%s)", name, what), true
	}
	eng := h.app.Engines
	dbWhat := h.app.Store.Engine()
	blobWhat := "local disk"
	if eng.Blobs != "" {
		blobWhat = "s3"
	}
	db, okDB := probe("database", dbWhat, h.app.Store.SQL().PingContext)
	bl, okBlobs := probe("blobs", blobWhat, h.app.pingBlobs)
	lines := []string{db, bl}
	ok := okDB && okBlobs
	if h.app.Log != nil {
		lg, okLog := probe("log", "tessera POSIX", func(ctx context.Context) error {
			_, err := h.app.Log.Checkpoint(ctx)
			if errors.Is(err, os.ErrNotExist) {
				return nil // a new log has no checkpoint for its first moments
			}
			return err
		})
		lines = append(lines, lg)
		ok = ok && okLog
	}
	h.mu.Lock()
	if h.healthy != ok {
		h.log.Warn("health changed", "healthy", ok, "engines", strings.Join(lines, "; "))
	}
	h.healthy, h.lines = ok, lines
	h.mu.Unlock()
	return ok, lines
}

func (h *healthMonitor) state() (bool, []string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.healthy, h.lines
}

// serveHealthz answers /healthz from a fresh check, in JSON: "status" is
// "ok" or "unavailable" (then with 503), "engines" says how each engine
// answered, "build" which trel this is.
func (h *healthMonitor) serveHealthz(w http.ResponseWriter, r *http.Request) {
	ok, lines := h.check(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	status := "ok"
	if !ok {
		status = "unavailable"
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(map[string]any{"status": status, "engines": lines, "build": buildinfo.Get()})
}

// gate answers 503 while an engine is unreachable.
func (h *healthMonitor) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, _ := h.state(); ok || r.URL.Path == "/healthz" || r.URL.Path == "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Retry-After", "5")
		msg := "trel is temporarily unavailable on this server (its database, blob store or log cannot be reached): try again in a moment"
		if strings.HasPrefix(r.URL.Path, "/api/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"error":{"code":"unavailable","message":%q}}`+"\n", msg)
			return
		}
		http.Error(w, msg, http.StatusServiceUnavailable)
	})
}
