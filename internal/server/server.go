// Package server wires trel together: it opens the data directory (database
// and blobs), builds the core, and serves the API with logging, metrics,
// health checks and graceful shutdown.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"

	"trel/internal/api"
	"trel/internal/auth"
	"trel/internal/blob"
	"trel/internal/checks"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/downloads"
	"trel/internal/jobs"
	"trel/internal/sigstore"
	"trel/internal/store/sqlstore"
	"trel/internal/translog"
	"trel/internal/web"
)

// App is an opened data directory.
type App struct {
	DataDir string
	Store   *sqlstore.DB
	Blobs   *blob.Disk
	Core    *core.Service
	// Downloads is the public tree of published releases (DIR/downloads).
	Downloads *downloads.Tree
	// Log is the public append-only log (DIR/log), open only in a server.
	Log *translog.Log
	// PublicURL is where browsers reach the server (WebAuthn relying
	// party); empty means DefaultPublicURL.
	PublicURL string
}

// DefaultPublicURL is the public URL when none is configured.
const DefaultPublicURL = "http://localhost:8080"

// Open opens (creating if needed) the data directory: DIR/trel.db and
// DIR/blobs. It is used by `trel serve` and by the `trel admin` commands,
// which may run beside a live server.
func Open(ctx context.Context, dataDir string, opt core.Options) (*App, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory %s: %w", dataDir, err)
	}
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dataDir, "trel.db"))
	if err != nil {
		return nil, err
	}
	blobs, err := blob.NewDisk(filepath.Join(dataDir, "blobs"))
	if err != nil {
		st.Close()
		return nil, err
	}
	tree, err := downloads.New(filepath.Join(dataDir, "downloads"), blobs)
	if err != nil {
		st.Close()
		return nil, err
	}
	svc := core.New(st, blobs, opt)
	svc.SetPublisher(tree, nil)
	return &App{DataDir: dataDir, Store: st, Blobs: blobs, Core: svc, Downloads: tree}, nil
}

// Close releases the data directory.
func (a *App) Close() error { return a.Store.Close() }

// Config is what `trel serve` needs.
type Config struct {
	DataDir       string
	Addr          string
	MaxFileSize   int64
	AdminUsername string
	AdminEmail    string
	PublicURL     string // where browsers reach trel; see App.PublicURL
	Logger        *slog.Logger
	// SigstoreRoots are extra trusted roots ("NAME=FILE") beside the
	// embedded production root: staging, or a private Sigstore instance.
	SigstoreRoots []string
	// SigstoreSigningConfig (a signing_config v0.2 file; public-good when
	// empty) and SigstoreSigningRoot (the name of one of the trusted roots;
	// public-good when empty) are the Sigstore instance whose timestamp
	// authority dates the bundles that keys trel holds make.
	SigstoreSigningConfig string
	SigstoreSigningRoot   string
	// MasterKeyFile (or the environment variable named MasterKeyEnv) holds
	// the master key that, with each user's password, protects the keys
	// trel holds. Without one, server-side signing is unavailable.
	MasterKeyFile string
	MasterKeyEnv  string
	// Ready, if set, receives the listening address once the server accepts
	// connections (tests listen on port 0).
	Ready func(addr string)
}

// Serve runs the server until ctx is cancelled, then shuts down gracefully.
func Serve(ctx context.Context, cfg Config, out io.Writer) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	app, err := Open(ctx, cfg.DataDir, core.Options{MaxFileSize: cfg.MaxFileSize, Logger: log})
	if err != nil {
		return err
	}
	defer app.Close()
	app.PublicURL = cfg.PublicURL
	if _, err := newAuth(app); err != nil {
		return err
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := app.Blobs.CleanTemp(); err != nil {
		return err
	}
	// The public log's library logs through klog: send it to our logger.
	klog.SetSlogLogger(log)
	closeLog, err := EnableSigning(ctx, app, cfg.MasterKeyFile, cfg.MasterKeyEnv)
	if err != nil {
		return err
	}
	defer closeLog()
	if !app.Core.SigningAvailable() {
		log.Info("server-side signing is unavailable: no master key configured")
	}
	// Background workers (checks) run in this process, on the job queue in
	// the same database.
	verifier, err := SigstoreVerifier(cfg.SigstoreRoots)
	if err != nil {
		return err
	}
	signingInstance, err := sigstore.SigningInstance(verifier, cfg.SigstoreSigningConfig, cfg.SigstoreSigningRoot)
	if err != nil {
		return fmt.Errorf("--sigstore-signing-config/--sigstore-signing-root: %w", err)
	}
	app.Core.SetSigstoreSigning(signingInstance)
	runner, err := jobs.Start(ctx, app.Store.SQL(), app.Store, checks.NewEngine(app.Store, app.Blobs, verifier), log)
	if err != nil {
		return err
	}
	app.Core.SetCheckNotifier(runner)
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := runner.Stop(stopCtx); err != nil {
			log.Warn("stopping workers", "err", err)
		}
	}()
	created, err := app.Core.Bootstrap(ctx, cfg.AdminUsername, cfg.AdminEmail)
	if err != nil {
		return fmt.Errorf("creating the first administrator: %w", err)
	}
	if created {
		exe := "trel"
		fmt.Fprintf(out, "Created a new trel data directory in %s with the first administrator %q.\n", cfg.DataDir, cfg.AdminUsername)
		fmt.Fprintf(out, "Get an administrator API token (shown once) with:\n\n    %s admin create-token --data %s --username %s\n\n", exe, cfg.DataDir, cfg.AdminUsername)
		link, err := EnrollmentLink(ctx, app, cfg.AdminUsername)
		if err != nil {
			return fmt.Errorf("creating the first administrator's enrollment link: %w", err)
		}
		fmt.Fprintf(out, "Create the administrator's passkey in a browser (one use, valid 24 hours):\n\n    %s\n\n", link)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           Handler(app, log),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // uploads and downloads extend their own deadlines
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(out, "trel is serving on http://%s (data in %s)\n", ln.Addr(), cfg.DataDir)
	log.Info("serving", "addr", ln.Addr().String(), "data", cfg.DataDir)
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr().String())
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// SigstoreVerifier trusts the embedded production root plus the named
// extra roots ("NAME=FILE"). Nothing is fetched: roots are files.
func SigstoreVerifier(extra []string) (*sigstore.Verifier, error) {
	roots := []sigstore.NamedRoot{sigstore.PublicGoodRoot()}
	for _, spec := range extra {
		name, path, ok := strings.Cut(spec, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("--sigstore-root %q: use NAME=FILE, e.g. staging=/etc/trel/staging-root.json", spec)
		}
		r, err := sigstore.LoadTrustedRootFile(name, path)
		if err != nil {
			return nil, fmt.Errorf("--sigstore-root %s: %w", name, err)
		}
		roots = append(roots, r)
	}
	return sigstore.NewVerifier(roots...)
}

// Handler is the root handler: API, health, metrics.
func Handler(app *App, log *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newMetrics(reg)

	mux := http.NewServeMux()
	authn, authErr := newAuth(app)
	var approver api.Approver
	if authErr == nil {
		approver = authn
	}
	mux.Handle("/api/", api.New(app.Core, log, approver))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := app.Store.SQL().PingContext(r.Context()); err != nil {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// The public downloads tree. Each committee's KEYS file is rendered
	// from the database, so it reflects every key change at once.
	mux.HandleFunc("GET /downloads/{committee}/KEYS", func(w http.ResponseWriter, r *http.Request) {
		data, err := app.Core.KEYSFile(r.Context(), r.PathValue("committee"))
		if err != nil {
			http.Error(w, domain.PublicMessage(err), http.StatusNotFound)
			return
		}
		api.WriteKEYS(w, data)
	})
	mux.Handle("GET /downloads/", app.Downloads.Handler())
	if app.Log != nil {
		mux.Handle("GET /log/", http.StripPrefix("/log", app.Log.Handler()))
		mux.HandleFunc("GET /log/verifier-key", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, app.Log.VerifierKey()+"\n")
		})
	}
	mux.Handle("/", webHandler(app, log))
	return requestIDs(logRequests(log, m, recoverPanics(log, securityHeaders(mux))))
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trel_http_requests_total", Help: "HTTP requests by route pattern, method and status."}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "trel_http_request_duration_seconds", Help: "HTTP request duration by route pattern.", Buckets: prometheus.DefBuckets}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

type ctxKey struct{}

// requestIDs gives each request an id, returned in X-Request-Id and logged.
func requestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = 200
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests logs one line per request. It logs the route pattern and
// path, never headers or bodies, so tokens cannot end up in logs.
func logRequests(log *slog.Logger, m *metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		d := time.Since(start)
		m.requests.WithLabelValues(route, fmt.Sprint(sw.status)).Inc()
		m.duration.WithLabelValues(route).Observe(d.Seconds())
		id, _ := r.Context().Value(ctxKey{}).(string)
		log.Info("request", "request_id", id, "method", r.Method, "path", web.LogPath(r.URL.Path), "status", sw.status,
			"duration_ms", d.Milliseconds(), "remote", r.RemoteAddr)
	})
}

// recoverPanics turns a handler panic into a 500 and a log line; the
// server keeps running.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic in handler", "path", web.LogPath(r.URL.Path), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				http.Error(w, `{"error":{"code":"internal","message":"internal error"}}`, http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// webHandler is the browser interface on "/" (its own CSP and
// cross-origin protection); a bad public URL makes every page an error.
func webHandler(app *App, log *slog.Logger) http.Handler {
	a, err := newAuth(app)
	if err == nil {
		var h http.Handler
		if h, err = web.New(app.Core, a, log); err == nil {
			return h
		}
	}
	log.Error("the web interface is unavailable", "err", err)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the web interface is misconfigured: see the server log", http.StatusInternalServerError)
	})
}

func newAuth(app *App) (*auth.Auth, error) {
	u := app.PublicURL
	if u == "" {
		u = DefaultPublicURL
	}
	return auth.New(app.Core, app.Store, auth.Config{PublicURL: u})
}

// EnrollmentLink creates a one-time passkey enrollment link for username
// (used by `trel serve` for the first administrator and `trel admin enroll`).
func EnrollmentLink(ctx context.Context, app *App, username string) (string, error) {
	a, err := newAuth(app)
	if err != nil {
		return "", err
	}
	link, _, err := a.CreateEnrollment(ctx, core.SystemActor, username)
	return link, err
}
