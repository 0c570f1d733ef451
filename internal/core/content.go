package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"trel/internal/domain"
	"trel/internal/secrets"
	"trel/internal/store"
)

// Storage hygiene: quotas on what releases and users store, refusal of
// uploads that hold secrets, and the sweep that collects content no
// revision uses.

// Defaults for the storage options.
const (
	DefaultReleaseQuota = 64 << 30
	DefaultUserQuota    = 512 << 30
	DefaultBlobGrace    = 24 * time.Hour
)

// checkQuota refuses an upload whose announced size alone passes a quota
// before any byte is streamed. Usage is not compared here: the same
// content uploaded again costs nothing, and only the transaction that
// records the upload knows; it checks exactly and atomically.
func (s *Service) checkQuota(rel *domain.Release, size int64) error {
	for _, c := range []struct {
		scope string
		limit int64
	}{{"release", s.quota.Release}, {"user", s.quota.User}} {
		if c.limit > 0 && size > c.limit {
			return s.quotaError(rel, &domain.QuotaExceeded{Scope: c.scope, Limit: c.limit, Size: size})
		}
	}
	return nil
}

// quotaError turns a quota refusal into a message that says the quota, the
// usage and what to do.
func (s *Service) quotaError(rel *domain.Release, err error) error {
	var qe *domain.QuotaExceeded
	if !errors.As(err, &qe) {
		return err
	}
	what, flag := fmt.Sprintf("release %s %s", rel.ProjectKey, rel.Version), "--release-quota"
	if qe.Scope == "user" {
		what, flag = "you", "--user-quota"
	}
	return &domain.Error{Kind: domain.KindTooLarge, Err: qe, Message: fmt.Sprintf(
		"storage quota exceeded for %s: %s. Content uploaded but used by no revision is freed %s after its upload; otherwise ask an administrator to raise `trel serve %s`",
		what, qe.Error(), shortDuration(s.blobGrace), flag)}
}

// refuseSecret audits and logs an upload that held private key material
// or credentials (its kind only, never a byte of it) and returns the
// refusal.
func (s *Service) refuseSecret(ctx context.Context, rel *domain.Release, a *Actor, f *secrets.Finding) error {
	s.log.Warn("refused an upload holding a secret", "release", releaseTarget(rel), "user", a.name(), "kind", f.Kind)
	err := s.store.Tx(context.WithoutCancel(ctx), func(tx store.Tx) error {
		return s.audit(ctx, tx, a, "file.refused-secret", releaseTarget(rel), map[string]any{"kind": f.Kind})
	})
	if err != nil {
		s.log.Error("auditing a refused upload", "err", err)
	}
	return &domain.Error{Kind: domain.KindInvalid, Message: f.Error(), Err: f}
}

// SweepReport says what a storage sweep collected.
type SweepReport struct {
	Rows  int `json:"rows"`  // content records no revision referenced
	Files int `json:"files"` // stored blobs without a record
	// Sessions counts expired upload sessions removed with their parts.
	Sessions int `json:"sessions"`
}

// SweepBlobs collects content that no revision references and that nobody
// uploaded for the grace period: first its records (each in a transaction
// that re-checks the condition, so that a revision created meanwhile keeps
// it), then stored bytes without a record, each removed inside a write
// transaction that checks again that no record names them. Uploads check,
// in their own transaction, that their bytes are still there; so an
// upload racing with the sweep either keeps its bytes or is told to
// upload again, and no record ever names missing bytes.
func (s *Service) SweepBlobs(ctx context.Context) (SweepReport, error) {
	var rep SweepReport
	var err error
	if rep.Sessions, err = s.sweepSessions(ctx); err != nil {
		return rep, err
	}
	cutoff := s.now().Add(-s.blobGrace)
	for {
		shas, err := s.store.UnreferencedBlobs(ctx, cutoff, 500)
		if err != nil {
			return rep, err
		}
		n := 0
		for _, sha := range shas {
			var gone bool
			err := s.store.Tx(ctx, func(tx store.Tx) error {
				var err error
				gone, err = tx.DeleteUnreferencedBlob(ctx, sha, cutoff)
				return err
			})
			if err != nil {
				s.log.Warn("storage sweep: keeping content", "sha256", sha, "err", err)
				continue
			}
			if gone {
				rep.Rows++
				n++
			}
		}
		if n == 0 || len(shas) < 500 {
			break
		}
	}
	var orphans []string
	err = s.blobs.List(ctx, func(sha string, written time.Time) error {
		if written.Before(cutoff) {
			orphans = append(orphans, sha)
		}
		return nil
	})
	if err != nil {
		return rep, domain.Internal("listing stored content", err)
	}
	for _, sha := range orphans {
		var gone bool
		err := s.store.Tx(ctx, func(tx store.Tx) error {
			if _, err := tx.Blob(ctx, sha); !domain.IsKind(err, domain.KindNotFound) {
				return err // recorded (or unreadable): keep it
			}
			var err error
			gone, err = s.blobs.Delete(ctx, sha, cutoff)
			return err
		})
		if err != nil {
			return rep, err
		}
		if gone {
			rep.Files++
		}
	}
	if rep.Rows+rep.Files+rep.Sessions > 0 {
		err := s.store.Tx(ctx, func(tx store.Tx) error {
			return s.audit(ctx, tx, SystemActor, "storage.sweep", "blobs", map[string]any{"records": rep.Rows, "files": rep.Files,
				"upload_sessions": rep.Sessions, "grace": shortDuration(s.blobGrace)})
		})
		if err != nil {
			return rep, err
		}
		s.log.Info("storage sweep", "records", rep.Rows, "files", rep.Files, "upload_sessions", rep.Sessions)
	}
	return rep, nil
}

// RunSweeper sweeps every interval until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.SweepBlobs(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("storage sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// shortDuration prints 24h rather than 24h0m0s.
func shortDuration(d time.Duration) string {
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}
