// Package core is trel's business logic: who may do what, and how releases,
// revisions, committees and tokens change. It knows nothing about HTTP; the
// API, the web UI and the admin commands all call it with an Actor.
package core

import (
	"context"
	"log/slog"
	"maps"
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
	store          store.Store
	blobs          blob.Store
	now            func() time.Time
	maxFileSize    int64
	log            *slog.Logger
	notifier       CheckNotifier
	publisher      Publisher
	manifestLog    ManifestLog
	master         signing.MasterKey
	sigLog         SignatureLog
	quota          domain.Quota
	blobGrace      time.Duration
	publishHook    func(step string)
	limits         Limits
	keyLocks       keyLocks
	sessionLocks   keyLocks // one chunk at a time per upload session (in this process)
	meter          Meter
	uploadsPerUser int
	uploadHolder   string
	chunkSize      int64 // of new upload sessions
	// sigstoreInst is where keys trel holds get timestamps for Sigstore
	// bundles; see SetSigstoreSigning.
	sigstoreInst *sigstore.Instance
	// tp configures trusted publishing; see SetTrustedPublishing.
	tp *TrustedPublishing
	// notify connects mail and webhooks; see SetNotify.
	notify NotifyConfig
	// archiver moves published releases to the archive tree.
	archiver Archiver
}

// Options configure a Service.
type Options struct {
	MaxFileSize int64            // 0 means DefaultMaxFileSize
	Now         func() time.Time // nil means time.Now
	Logger      *slog.Logger
	// Quota limits what each release and each user stores (zero fields:
	// no limit).
	Quota domain.Quota
	// BlobGrace is how long uploaded content that no revision uses is
	// kept (0 means DefaultBlobGrace).
	BlobGrace time.Duration
	// PublishHook, if set, is called at each step of a publication
	// (tests use it to kill the server there).
	PublishHook func(step string)
	// Limits on server-held keys; zero fields take the defaults.
	Limits Limits
	// Meter counts domain events for monitoring (nil: nothing is counted).
	Meter Meter
	// UploadsPerUser bounds one user's concurrent uploads, across every
	// process on the database (0: default).
	UploadsPerUser int
	// UploadHolder names this process's upload leases (the replica; see
	// DropUploadLeases).
	UploadHolder string
	// SessionChunkSize is the chunk size of new resumable uploads (0:
	// DefaultSessionChunkSize; see MinSessionChunkSize).
	SessionChunkSize int64
}

// New builds a Service.
func New(st store.Store, blobs blob.Store, opt Options) *Service {
	s := &Service{store: st, blobs: blobs, now: opt.Now, maxFileSize: opt.MaxFileSize, log: opt.Logger,
		quota: opt.Quota, blobGrace: opt.BlobGrace, publishHook: opt.PublishHook,
		limits: opt.Limits.withDefaults(), meter: opt.Meter, uploadsPerUser: opt.UploadsPerUser, uploadHolder: opt.UploadHolder,
		chunkSize: opt.SessionChunkSize}
	if s.chunkSize <= 0 {
		s.chunkSize = DefaultSessionChunkSize
	}
	if s.blobGrace <= 0 {
		s.blobGrace = DefaultBlobGrace
	}
	if s.uploadsPerUser <= 0 {
		s.uploadsPerUser = DefaultUploadsPerUser
	}
	if s.meter == nil {
		s.meter = noMeter{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxFileSize <= 0 {
		s.maxFileSize = DefaultMaxFileSize
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.SetNotify(NotifyConfig{})
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
	// Token is the API token the request came with (nil for browser
	// sessions and the system): a token cannot make one that outlives it.
	Token *domain.Token
	// Workload is set (and User nil) for a trusted publisher's CI
	// credential: it may do only what its grant says (see authorizeIn).
	Workload *domain.Workload
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
	case a.Workload != nil:
		return a.Workload.Account
	}
	return "anonymous"
}

func (a *Actor) id() int64 {
	switch {
	case a.User != nil:
		return a.User.ID
	case a.Workload != nil:
		return a.Workload.UserID
	}
	return 0
}

func (s *Service) audit(ctx context.Context, tx store.Tx, a *Actor, action, target string, details map[string]any) error {
	s.meter.Inc("action", action)
	if a.Workload != nil { // what a CI credential does names its workflow run
		details = maps.Clone(details)
		if details == nil {
			details = map[string]any{}
		}
		details["workflow_run"] = a.Workload.Run
	}
	return tx.Audit(ctx, domain.AuditEvent{
		Time: s.now(), ActorID: a.id(), Actor: a.name(), Action: action, Target: target,
		Details: details, ClientIP: a.ClientIP,
	})
}
