// Package core is trel's business logic: who may do what, and how releases,
// revisions, committees and tokens change. It knows nothing about HTTP; the
// API, the web UI and the admin commands all call it with an Actor.
package core

import (
	"context"
	"log/slog"
	"time"

	"trel/internal/blob"
	"trel/internal/domain"
	"trel/internal/signing"
	"trel/internal/sigstore"
	"trel/internal/store"
)

// DefaultMaxFileSize is the largest file accepted when nothing is configured.
const DefaultMaxFileSize = 4 << 30

// Service is the core. Create it with New.
type Service struct {
	store       store.Store
	blobs       blob.Store
	now         func() time.Time
	maxFileSize int64
	log         *slog.Logger
	notifier    CheckNotifier
	publisher   Publisher
	manifestLog ManifestLog
	master      signing.MasterKey
	sigLog      SignatureLog
	// sigstoreInst is where keys trel holds get timestamps for Sigstore
	// bundles; see SetSigstoreSigning.
	sigstoreInst *sigstore.Instance
}

// Options configure a Service.
type Options struct {
	MaxFileSize int64            // 0 means DefaultMaxFileSize
	Now         func() time.Time // nil means time.Now
	Logger      *slog.Logger
}

// New builds a Service.
func New(st store.Store, blobs blob.Store, opt Options) *Service {
	s := &Service{store: st, blobs: blobs, now: opt.Now, maxFileSize: opt.MaxFileSize, log: opt.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxFileSize <= 0 {
		s.maxFileSize = DefaultMaxFileSize
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Store exposes the store for read-only helpers (web pages, tests).
func (s *Service) Store() store.Store { return s.store }

// MaxFileSize is the configured upload limit in bytes.
func (s *Service) MaxFileSize() int64 { return s.maxFileSize }

// Actor is who is acting. A nil User is an anonymous visitor; System is
// trel itself or an operator using `trel admin` on the data directory.
type Actor struct {
	User     *domain.User
	System   bool
	ClientIP string
}

// Anonymous is a visitor without credentials.
var Anonymous = &Actor{}

// SystemActor is used by `trel admin` commands, which have direct access to
// the data directory and so already hold every power.
var SystemActor = &Actor{System: true}

func (a *Actor) name() string {
	switch {
	case a.System:
		return "system"
	case a.User != nil:
		return a.User.Username
	}
	return "anonymous"
}

func (a *Actor) id() int64 {
	if a.User != nil {
		return a.User.ID
	}
	return 0
}

func (s *Service) audit(ctx context.Context, tx store.Tx, a *Actor, action, target string, details map[string]any) error {
	return tx.Audit(ctx, domain.AuditEvent{
		Time: s.now(), ActorID: a.id(), Actor: a.name(), Action: action, Target: target,
		Details: details, ClientIP: a.ClientIP,
	})
}
