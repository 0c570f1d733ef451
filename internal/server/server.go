// Package server wires trel together: it opens the data directory (database
// and blobs), builds the core, and serves the API with logging, metrics,
// health checks and graceful shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"k8s.io/klog/v2"

	"trel/internal/api"
	"trel/internal/auth"
	"trel/internal/blob"
	"trel/internal/buildinfo"
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

// App is an opened set of engines (see Engines).
type App struct {
	DataDir string
	Engines Engines
	Store   *sqlstore.DB
	Blobs   blob.Store
	Core    *core.Service
	// Downloads is the public tree of published releases (DIR/downloads,
	// or downloads/ in the bucket).
	Downloads downloads.Tree
	// Archive holds archived releases (DIR/archive, or archive/ in the
	// bucket), served under /archive/.
	Archive downloads.Tree
	// Log is the public append-only log (LOG/log), open only in a server.
	Log *translog.Log
	// PublicURL is where browsers reach the server (WebAuthn relying
	// party); empty means DefaultPublicURL.
	PublicURL string
	// HTTP configures the handler (proxies, /metrics); zero is the default.
	HTTP    HTTPOptions
	metrics *metrics

	cleanBlobs func(context.Context) error // removes abandoned uploads
	pingBlobs  func(context.Context) error
	health     *healthMonitor
}

// HTTPOptions configure Handler.
type HTTPOptions struct {
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For header names the client (see clientAddress).
	TrustedProxies []*net.IPNet
	// MetricsElsewhere leaves /metrics off the main handler (it is served
	// on its own address).
	MetricsElsewhere bool
	// MetricsToken, if set, is the bearer token /metrics requires.
	MetricsToken string
}

// DefaultPublicURL is the public URL when none is configured.
const DefaultPublicURL = "http://localhost:8080"

// Open opens an existing embedded data directory: DIR/trel.db and
// DIR/blobs (see OpenEngines for PostgreSQL and S3).
func Open(ctx context.Context, dataDir string, opt core.Options) (*App, error) {
	return OpenEngines(ctx, Engines{DataDir: dataDir}, opt)
}

// Close releases the data directory.
func (a *App) Close() error { return a.Store.Close() }

// Config is what `trel serve` needs.
type Config struct {
	DataDir string
	// Database, Blobs and LogDir select the engines (see Engines).
	Database, Blobs, LogDir string
	// JobRescueAfter: see jobs.DefaultRescueAfter (0: the default).
	JobRescueAfter time.Duration
	Addr           string
	MaxFileSize    int64
	AdminUsername  string
	AdminEmail     string
	PublicURL      string // where browsers reach trel; see App.PublicURL
	Logger         *slog.Logger
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
	// Limits bound server-held keys per user (zero fields: defaults).
	Limits core.Limits
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For header names the client.
	TrustedProxies []*net.IPNet
	// Uploads bounds concurrent uploads per user (0: DefaultUploadsPerUser).
	UploadsPerUser int
	// UploadChunkSize is the chunk size of resumable uploads (0: the default).
	UploadChunkSize int64
	// MetricsAddr, if set, serves /metrics on this address only (not on
	// the main one); MetricsToken, if set, is the bearer token /metrics
	// requires.
	MetricsAddr  string
	MetricsToken string
	// Ready, if set, receives the listening address once the server accepts
	// connections (tests listen on port 0).
	Ready func(addr string)
	// Quota limits what each release and each user stores; BlobGrace is
	// how long uploaded content that no revision uses is kept (the sweep
	// runs every SweepInterval, default a quarter of the grace, at most an
	// hour).
	Quota         domain.Quota
	BlobGrace     time.Duration
	SweepInterval time.Duration
	// Notify configures mail and webhooks.
	Notify NotifyConfig
}

// crashHook supports the crash tests: TREL_TEST_CRASH_AT=publish:STEP makes
// the server kill itself (SIGKILL, no clean-up) when a publication reaches
// STEP. Nothing else reads it.
func crashHook() func(step string) {
	at := os.Getenv("TREL_TEST_CRASH_AT")
	if at == "" {
		return nil
	}
	return func(step string) {
		if "publish:"+step == at {
			p, _ := os.FindProcess(os.Getpid())
			p.Kill()
			select {} // wait for the signal
		}
	}
}

// checkHook supports the replica tests: TREL_TEST_CRASH_AT=check stops the
// first attempt of every check job before it runs, as a hung worker
// would, until the test kills the process. Nothing else reads it.
func checkHook(log *slog.Logger) func(revisionID int64, attempt int) {
	if os.Getenv("TREL_TEST_CRASH_AT") != "check" {
		return nil
	}
	return func(revisionID int64, attempt int) {
		if attempt == 1 {
			log.Warn("test hook: holding a check job until this process is killed", "revision", revisionID)
			select {}
		}
	}
}

// Serve runs the server until ctx is cancelled, then shuts down gracefully.
func Serve(ctx context.Context, cfg Config, out io.Writer) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	log = withRequestIDs(log)
	hook := crashHook()
	eng := Engines{DataDir: cfg.DataDir, Database: cfg.Database, Blobs: cfg.Blobs, LogDir: cfg.LogDir}
	if err := eng.CheckServe(); err != nil {
		return err
	}
	// Bind first: a busy port must not leave a new data directory behind.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	if err := prepareDataDir(cfg.DataDir, log); err != nil {
		return err
	}
	holder, err := replicaID(cfg.DataDir)
	if err != nil {
		return err
	}
	app, err := OpenEngines(ctx, eng, core.Options{MaxFileSize: cfg.MaxFileSize, Logger: log,
		Quota: cfg.Quota, BlobGrace: cfg.BlobGrace, PublishHook: hook,
		Limits: cfg.Limits, UploadsPerUser: cfg.UploadsPerUser, UploadHolder: holder, SessionChunkSize: cfg.UploadChunkSize})
	if err != nil {
		return err
	}
	if hook != nil {
		switch d := app.Downloads.(type) {
		case *downloads.Dir:
			d.BeforeRename = func() { hook("tree-copied") }
		case *downloads.BucketTree:
			d.BeforeManifest = func() { hook("tree-copied") }
		}
	}
	defer app.Close()
	app.PublicURL = cfg.PublicURL
	app.HTTP = HTTPOptions{TrustedProxies: cfg.TrustedProxies, MetricsElsewhere: cfg.MetricsAddr != "", MetricsToken: cfg.MetricsToken}
	if _, err := newAuth(app); err != nil {
		return err
	}
	// One server per data directory (its scratch); on PostgreSQL the
	// replicas coordinate through the database (startup lock, job queue,
	// row locks) and the log directory's file locks.
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	if n, err := app.Core.DropUploadLeases(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("dropped the upload leases a previous process of this replica left", "leases", n)
	}
	if err := app.cleanBlobs(ctx); err != nil {
		return err
	}
	// The public log's library logs through klog: send it to our logger,
	// without the messages of a normal first start that read like errors.
	klog.SetSlogLogger(slog.New(quietLibrary{log.Handler()}))
	closeLog, err := EnableSigning(ctx, app, cfg.MasterKeyFile, cfg.MasterKeyEnv)
	if err != nil {
		return err
	}
	defer closeLog()
	if !app.Core.SigningAvailable() {
		log.Info("server-side signing is unavailable: no master key configured")
	}
	// Publications a previous process left unfinished are finished now,
	// after removing their half-written directories.
	if err := app.Downloads.CleanTemp(); err != nil {
		return err
	}
	if err := app.Archive.CleanTemp(); err != nil {
		return err
	}
	if err := configureNotify(app, cfg.Notify, log); err != nil {
		return err
	}
	if err := app.Core.ResumePublications(ctx); err != nil {
		return fmt.Errorf("finishing interrupted publications: %w", err)
	}
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go app.Core.RunSweeper(sweepCtx, sweepInterval(cfg))
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
	var created bool
	err = app.Store.WithStartupLock(ctx, func() error {
		var err error
		if pool := app.Store.Pool(); pool != nil {
			err = jobs.MigratePostgres(ctx, pool)
		} else {
			err = jobs.Migrate(ctx, app.Store.SQL())
		}
		if err != nil {
			return err
		}
		created, err = app.Core.Bootstrap(ctx, cfg.AdminUsername, cfg.AdminEmail)
		if err != nil {
			return fmt.Errorf("creating the first administrator: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	jcfg := jobs.Config{Store: app.Store, Checker: checks.NewEngine(app.Store, app.Blobs, verifier), Log: log, RescueAfter: cfg.JobRescueAfter,
		BeforeCheck: checkHook(log), Deliverer: app.Core, Now: app.Core.Now, Sweep: cfg.Notify.Sweep}
	if pool := app.Store.Pool(); pool != nil {
		jcfg.Postgres = pool
	} else {
		jcfg.SQLite = app.Store.SQL()
	}
	runner, err := jobs.Run(ctx, jcfg)
	if err != nil {
		return err
	}
	runner.Observe(app.metrics)
	app.Core.SetCheckNotifier(runner)
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := runner.Stop(stopCtx); err != nil {
			log.Warn("stopping workers", "err", err)
		}
	}()
	if err := app.Core.RecordPublicURL(ctx, publicURLOf(app)); err != nil {
		return fmt.Errorf("recording the public URL: %w", err)
	}
	if created {
		exe := "trel"
		fmt.Fprintf(out, "Created a new trel data directory in %s with the first administrator %q.\n", cfg.DataDir, cfg.AdminUsername)
		fmt.Fprintf(out, "Get an administrator API token (shown once) with:\n\n    %s admin create-token %s --username %s\n\n", exe, eng.adminFlags(), cfg.AdminUsername)
		link, err := EnrollmentLink(ctx, app, cfg.AdminUsername)
		if err != nil {
			return fmt.Errorf("creating the first administrator's enrollment link: %w", err)
		}
		fmt.Fprintf(out, "Create the administrator's passkey in a browser (one use, valid 24 hours):\n\n    %s\n\n", link)
	}

	app.health = newHealthMonitor(app, log)
	go app.health.run(ctx)

	srv := &http.Server{
		Handler:           Handler(app, log),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // uploads and downloads extend their own deadlines
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if cfg.MetricsAddr != "" {
		stop, err := serveMetrics(cfg.MetricsAddr, app, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	fmt.Fprintf(out, "trel is serving on http://%s (data in %s)\n", ln.Addr(), cfg.DataDir)
	fmt.Fprintf(out, "Open %s in a browser: that is its public URL (--public-url), the only address where passkeys work.\n", publicURLOf(app))
	log.Info("serving", "addr", ln.Addr().String(), "data", cfg.DataDir, "version", buildinfo.Get().String())
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

func sweepInterval(cfg Config) time.Duration {
	if cfg.SweepInterval > 0 {
		return cfg.SweepInterval
	}
	grace := cfg.BlobGrace
	if grace <= 0 {
		grace = core.DefaultBlobGrace
	}
	return min(grace/4, time.Hour)
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
	m := app.metrics
	mux := http.NewServeMux()
	authn, authErr := newAuth(app)
	var approver api.Approver
	if authErr == nil {
		approver = authn
	}
	enableTrustedPublishing(app)
	mux.Handle("/api/", api.New(app.Core, log, approver))
	if app.health == nil {
		app.health = newHealthMonitor(app, log)
	}
	mux.HandleFunc("GET /healthz", app.health.serveHealthz)
	if !app.HTTP.MetricsElsewhere {
		mux.Handle("GET /metrics", m.handler(app.HTTP.MetricsToken))
	}
	// The public downloads tree. Each committee's KEYS file is rendered
	// from the database, so it reflects every key change at once.
	mux.HandleFunc("GET /downloads/{committee}/KEYS", func(w http.ResponseWriter, r *http.Request) {
		data, err := app.Core.KEYSFile(r.Context(), r.PathValue("committee"))
		if err != nil {
			http.Error(w, domain.PublicMessage(err), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Security-Policy", downloads.FileCSP)
		api.WriteKEYS(w, r, data)
	})
	mux.Handle("GET /downloads/", yankNotes(app, "downloads", app.Downloads.Handler()))
	if app.Archive != nil {
		mux.Handle("GET /archive/", yankNotes(app, "archive", app.Archive.Handler()))
	}
	for _, tree := range []string{"downloads", "archive"} {
		mux.HandleFunc("GET /"+tree+"/{committee}/{project}/{version}/trel-release-status.json", releaseStatus(app))
	}
	if app.Log != nil {
		mux.Handle("GET /log/", http.StripPrefix("/log", app.Log.Handler()))
		mux.HandleFunc("GET /log/verifier-key", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, app.Log.VerifierKey()+"\n")
		})
	}
	mux.Handle("/", webHandler(app, log))
	return clientAddress(app.HTTP.TrustedProxies, requestIDs(logRequests(log, m, recoverPanics(log, securityHeaders(app.health.gate(mux))))))
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
				log.ErrorContext(r.Context(), "panic in handler", "path", web.LogPath(r.URL.Path), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
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
		var opts []web.Option
		if app.Log != nil {
			opts = append(opts, web.WithLog(app.Log))
		}
		if h, err = web.New(app.Core, a, log, opts...); err == nil {
			return h
		}
	}
	log.Error("the web interface is unavailable", "err", err)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the web interface is misconfigured: see the server log", http.StatusInternalServerError)
	})
}

func newAuth(app *App) (*auth.Auth, error) {
	return auth.New(app.Core, app.Store, auth.Config{PublicURL: publicURLOf(app)})
}

// publicURLOf is the app's public URL, or the default.
func publicURLOf(app *App) string {
	if app.PublicURL == "" {
		return DefaultPublicURL
	}
	return app.PublicURL
}

// StoredPublicURL is the public URL `trel serve` last ran with on these
// engines, or the default when it never ran.
func StoredPublicURL(ctx context.Context, app *App) (string, error) {
	u, err := app.Core.PublicURL(ctx)
	if err != nil || u == "" {
		return DefaultPublicURL, err
	}
	return u, nil
}

// quietLibrary lowers to DEBUG the messages libraries log on a normal
// first start that read like errors (an empty log has no checkpoint yet).
type quietLibrary struct{ slog.Handler }

// benignLibraryMessages are those messages (substrings).
var benignLibraryMessages = []string{
	"Failed to fetch old checkpoint: file does not exist",
	"Initializing directory for POSIX log",
	"PublicationAwaiter exiting due to context completion",
}

func (q quietLibrary) Handle(ctx context.Context, r slog.Record) error {
	for _, m := range benignLibraryMessages {
		if strings.Contains(r.Message, m) {
			if !q.Handler.Enabled(ctx, slog.LevelDebug) {
				return nil
			}
			r.Level = slog.LevelDebug
		}
	}
	return q.Handler.Handle(ctx, r)
}

func (q quietLibrary) WithAttrs(as []slog.Attr) slog.Handler {
	return quietLibrary{q.Handler.WithAttrs(as)}
}
func (q quietLibrary) WithGroup(g string) slog.Handler { return quietLibrary{q.Handler.WithGroup(g)} }

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
