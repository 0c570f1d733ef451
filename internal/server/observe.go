package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"trel/internal/api"
	"trel/internal/domain"
	"trel/internal/store"
	"trel/internal/web"
)

// metrics are trel's Prometheus metrics: HTTP requests and the domain
// events the core counts (it implements core.Meter) and the check queue
// (it implements jobs.Observer).
type metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	uploads       prometheus.Counter
	publications  prometheus.Counter
	actions       *prometheus.CounterVec
	signing       *prometheus.CounterVec
	passwords     *prometheus.CounterVec
	lockouts      prometheus.Counter
	refusals      *prometheus.CounterVec
	checkLatency  prometheus.Histogram
	checkRuns     prometheus.Counter
	checkFailures prometheus.Counter
}

func newMetrics(st store.Reader) *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &metrics{
		reg:           reg,
		requests:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trel_http_requests_total", Help: "HTTP requests by route pattern and status."}, []string{"route", "code"}),
		duration:      prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "trel_http_request_duration_seconds", Help: "HTTP request duration by route pattern.", Buckets: prometheus.DefBuckets}, []string{"route"}),
		uploads:       prometheus.NewCounter(prometheus.CounterOpts{Name: "trel_uploads_total", Help: "Files uploaded to drafts."}),
		publications:  prometheus.NewCounter(prometheus.CounterOpts{Name: "trel_publications_total", Help: "Releases published."}),
		actions:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trel_audited_actions_total", Help: "Audited actions by name (see the audit log)."}, []string{"action"}),
		signing:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trel_signing_attempts_total", Help: "Server-side signing attempts by outcome (signed, refused)."}, []string{"outcome"}),
		passwords:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trel_signing_password_checks_total", Help: "Signing-password checks by result (right, wrong)."}, []string{"result"}),
		lockouts:      prometheus.NewCounter(prometheus.CounterOpts{Name: "trel_signing_key_lockouts_total", Help: "Held keys locked after too many wrong passwords."}),
		refusals:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trel_refusals_total", Help: "Requests refused, by reason (role, suspended, locked, rate_limited, busy, uploads)."}, []string{"reason"}),
		checkLatency:  prometheus.NewHistogram(prometheus.HistogramOpts{Name: "trel_check_latency_seconds", Help: "Time from queueing a revision's checks to storing their results.", Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800}}),
		checkRuns:     prometheus.NewCounter(prometheus.CounterOpts{Name: "trel_check_runs_total", Help: "Check runs whose results were stored."}),
		checkFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "trel_check_exceptions_total", Help: "Check results that are exceptions (a checker failed, not the release)."}),
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "trel_check_queue_depth", Help: "Revisions whose checks are queued or running."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		runs, err := st.QueuedRuns(ctx)
		if err != nil {
			return -1
		}
		return float64(len(runs))
	})
	reg.MustRegister(m.requests, m.duration, m.uploads, m.publications, m.actions, m.signing, m.passwords, m.lockouts, m.refusals,
		m.checkLatency, m.checkRuns, m.checkFailures, queue)
	return m
}

// Inc implements core.Meter.
func (m *metrics) Inc(event, outcome string) {
	switch event {
	case "action":
		m.actions.WithLabelValues(outcome).Inc()
		switch outcome {
		case "file.upload":
			m.uploads.Inc()
		case "release.publish":
			m.publications.Inc()
		}
	case "signing":
		m.signing.WithLabelValues(outcome).Inc()
	case "password":
		m.passwords.WithLabelValues(outcome).Inc()
	case "lockout":
		m.lockouts.Inc()
	case "refusal":
		m.refusals.WithLabelValues(outcome).Inc()
	}
}

// CheckRunFinished implements jobs.Observer.
func (m *metrics) CheckRunFinished(run *domain.CheckRun, results []domain.CheckResult) {
	m.checkRuns.Inc()
	if run.FinishedAt != nil {
		m.checkLatency.Observe(run.FinishedAt.Sub(run.QueuedAt).Seconds())
	}
	for _, r := range results {
		if r.Status == domain.StatusException {
			m.checkFailures.Inc()
		}
	}
}

// handler serves /metrics, behind a bearer token when token is set.
func (m *metrics) handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="trel metrics"`)
			http.Error(w, "metrics need the bearer token given to trel serve --metrics-token-file", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// serveMetrics serves /metrics (only) on its own address, e.g. a loopback
// or internal interface, and returns its stop function.
func serveMetrics(addr string, app *App, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", app.metrics.handler(app.HTTP.MetricsToken))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("serving metrics", "addr", addr, "err", err)
		}
	}()
	log.Info("serving metrics", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}

// requestIDs gives each request an id, returned in X-Request-Id and
// carried (with the user, once known) in the context for the log.
func requestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		w.Header().Set("X-Request-Id", id)
		ctx, _ := api.WithRequestInfo(r.Context(), id)
		next.ServeHTTP(w, r.WithContext(ctx))
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

// logRequests logs one line per request, with the user when one was
// authenticated; a 5xx line is at ERROR (the handler logged its cause with
// the same request id). It logs the route pattern and path, never headers
// or bodies, so tokens cannot end up in logs.
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
		level, user := slog.LevelInfo, ""
		if sw.status >= 500 {
			level = slog.LevelError
		}
		if ri := api.RequestInfoFrom(r.Context()); ri != nil {
			user = ri.User()
		}
		log.Log(r.Context(), level, "request", "method", r.Method, "path", web.LogPath(r.URL.Path), "status", sw.status,
			"duration_ms", d.Milliseconds(), "remote", r.RemoteAddr, "user", user)
	})
}

// withRequestIDs makes every record logged with a request's context carry
// its request id.
func withRequestIDs(log *slog.Logger) *slog.Logger { return slog.New(requestIDHandler{log.Handler()}) }

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if ri := api.RequestInfoFrom(ctx); ri != nil {
		r.AddAttrs(slog.String("request_id", ri.ID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// clientAddress replaces the peer address of a request that came through
// a trusted reverse proxy with the client's, from X-Forwarded-For: the
// right-most address that is not itself a trusted proxy. Without trusted
// proxies, or from any other peer, forwarded headers are ignored.
func clientAddress(trusted []*net.IPNet, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	isTrusted := func(ip net.IP) bool {
		for _, n := range trusted {
			if n.Contains(ip) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if client := forwardedClient(r, isTrusted); client != nil {
			r.RemoteAddr = net.JoinHostPort(client.String(), "0")
		}
		next.ServeHTTP(w, r)
	})
}

// forwardedClient returns the client named by X-Forwarded-For when the
// peer is a trusted proxy, or nil.
func forwardedClient(r *http.Request, isTrusted func(net.IP) bool) net.IP {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return nil
	}
	peer := net.ParseIP(host)
	if peer == nil || !isTrusted(peer) {
		return nil
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	var client net.IP
	for i := len(hops) - 1; i >= 0; i-- {
		ip := net.ParseIP(strings.TrimSpace(hops[i]))
		if ip == nil {
			// A malformed hop: trust nothing left of it.
			return client
		}
		client = ip
		if !isTrusted(ip) {
			return ip
		}
	}
	return client
}

// ParseTrustedProxies reads --trusted-proxy values: CIDRs or single
// addresses.
func ParseTrustedProxies(specs []string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, s := range specs {
		for _, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if !strings.Contains(part, "/") {
				ip := net.ParseIP(part)
				if ip == nil {
					return nil, fmt.Errorf("--trusted-proxy %q: give a network such as 10.0.0.0/8 or an address such as 127.0.0.1", part)
				}
				bits := 32
				if ip.To4() == nil {
					bits = 128
				}
				part = fmt.Sprintf("%s/%d", ip, bits)
			}
			_, n, err := net.ParseCIDR(part)
			if err != nil {
				return nil, fmt.Errorf("--trusted-proxy %q: give a network such as 10.0.0.0/8 or an address such as 127.0.0.1", part)
			}
			out = append(out, n)
		}
	}
	return out, nil
}
