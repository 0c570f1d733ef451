// Package api serves trel's JSON API under /api/v1/. Every handler does the
// same four things: authenticate, decode and validate, call the core,
// render. Errors are rendered in one shape, {"error": {"code", "message"}},
// with the HTTP status that the domain error kind maps to.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
)

// API holds the handlers' dependencies.
type API struct {
	svc      *core.Service
	log      *slog.Logger
	approver Approver
}

// New returns the API handler, to be mounted at /api/v1/. approver may be
// nil: server-side signing then reports itself unavailable.
func New(svc *core.Service, log *slog.Logger, approver Approver) http.Handler {
	a := &API{svc: svc, log: log, approver: approver}
	mux := http.NewServeMux()
	for _, r := range a.routes() {
		mux.Handle(r.Method+" "+r.Pattern, a.authenticate(r.Handler))
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, domain.Errorf(domain.KindNotFound, "no API endpoint %s %s: see /api/v1/openapi.json", r.Method, r.URL.Path))
	})
	return mux
}

type ctxKey struct{}

// actor returns who is making the request (set by authenticate).
func actor(r *http.Request) *core.Actor {
	if a, ok := r.Context().Value(ctxKey{}).(*core.Actor); ok {
		return a
	}
	return core.Anonymous
}

// authenticate resolves the bearer token. A request without one is
// anonymous (public data only); a request with a bad one fails at once.
func (a *API) authenticate(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		act := &core.Actor{ClientIP: clientIP(r)}
		if h := r.Header.Get("Authorization"); h != "" {
			secret, ok := strings.CutPrefix(h, "Bearer ")
			if !ok {
				a.fail(w, r, domain.Errorf(domain.KindUnauthenticated, "use the header \"Authorization: Bearer TOKEN\""))
				return
			}
			secret = strings.TrimSpace(secret)
			if strings.HasPrefix(secret, core.CredentialPrefix) { // a trusted publisher's CI credential
				wl, err := a.svc.AuthenticateCredential(r.Context(), secret)
				if err != nil {
					a.fail(w, r, err)
					return
				}
				act.Workload = wl
				SetUser(r.Context(), wl.Account)
			} else {
				u, t, err := a.svc.Authenticate(r.Context(), secret)
				if err != nil {
					a.fail(w, r, err)
					return
				}
				act.User, act.Token = u, t
				SetUser(r.Context(), u.Username)
			}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, act)))
	})
}

func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// StatusOf maps each error kind to its one HTTP status (the web pages use
// the same mapping).
func StatusOf(k domain.Kind) int {
	switch k {
	case domain.KindInvalid:
		return http.StatusBadRequest
	case domain.KindUnauthenticated:
		return http.StatusUnauthorized
	case domain.KindForbidden:
		return http.StatusForbidden
	case domain.KindNotFound:
		return http.StatusNotFound
	case domain.KindConflict:
		return http.StatusConflict
	case domain.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case domain.KindUnavailable:
		return http.StatusServiceUnavailable
	case domain.KindRateLimited:
		return http.StatusTooManyRequests
	case domain.KindLocked:
		return http.StatusLocked
	}
	return http.StatusInternalServerError
}

// SetRetryAfter sends the Retry-After header (whole seconds, at least 1)
// of a rate-limited or busy answer.
func SetRetryAfter(w http.ResponseWriter, err error) {
	if domain.KindOf(err) != domain.KindRateLimited {
		return
	}
	secs := int(math.Ceil(domain.RetryAfterOf(err).Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
}

// DropBody prepares a refusal of a request whose body will not be read (a
// refused upload): the connection is closed after the answer instead of
// being drained, which a client trickling its body could stretch out.
func DropBody(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	http.NewResponseController(w).SetReadDeadline(time.Now())
}

// ErrorBody is the one error shape of the API.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		// Field names the request field the message is about, if any.
		Field string `json:"field,omitempty"`
	} `json:"error"`
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	kind := domain.KindOf(err)
	switch {
	case StatusOf(kind) < 500:
	case r.Context().Err() != nil && errors.Is(err, context.Canceled):
		// The client went away (a killed upload): nothing failed here.
		a.log.InfoContext(r.Context(), "request abandoned by the client", "method", r.Method, "path", r.URL.Path)
	default:
		a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", StatusOf(kind), "err", err)
	}
	var body ErrorBody
	body.Error.Code = string(kind)
	body.Error.Message = domain.PublicMessage(err)
	body.Error.Field = domain.FieldOf(err)
	if kind == domain.KindUnauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="trel"`)
	}
	SetRetryAfter(w, err)
	writeJSON(w, StatusOf(kind), body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// Bounds on JSON request bodies.
const (
	maxJSONBody     = 1 << 20
	maxKeysBody     = 7 << 20  // a KEYS file of 5 MiB, base64-encoded in JSON
	maxRevisionBody = 16 << 20 // up to domain.MaxFilesPerRev changes with long paths
)

// decode reads a JSON body of at most 1 MiB into v.
func decode(r *http.Request, v any) error { return decodeLimit(r, v, maxJSONBody) }

// decodeLimit reads a bounded JSON body into v, refusing unknown fields so
// that a typo in a client is an error rather than a silently ignored option.
func decodeLimit(r *http.Request, v any, limit int64) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return domain.Errorf(domain.KindTooLarge, "the request body is larger than %d MiB", limit>>20)
		}
		return domain.Errorf(domain.KindInvalid, "the request body is not valid JSON for this endpoint: %v", err)
	}
	if dec.More() {
		return domain.Errorf(domain.KindInvalid, "the request body must hold exactly one JSON object")
	}
	return nil
}

// intQuery reads an optional non-negative integer query parameter.
func intQuery(r *http.Request, name string) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, domain.Errorf(domain.KindInvalid, "query parameter %s must be a non-negative integer", name)
	}
	return n, nil
}
