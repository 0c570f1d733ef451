package core

import (
	"context"

	"trel/internal/domain"
	"trel/internal/store"
)

// PublicReleases lists the releases everyone may see (candidates, passed
// votes, published), of one committee or of all when committeeKey is "",
// in one phase or any when phase is "", newest first.
func (s *Service) PublicReleases(ctx context.Context, a *Actor, committeeKey string, phase domain.Phase, limit int) ([]domain.Release, error) {
	var id int64
	if committeeKey != "" {
		c, err := s.store.CommitteeByKey(ctx, committeeKey)
		if err != nil {
			return nil, err
		}
		id = c.ID
	}
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	return s.store.PublicReleases(ctx, id, phase, limit)
}

// AuditPage returns one page of the audit log matching f (administrators
// only): at most limit events (1 to 500) after skipping offset, and
// whether older ones exist.
func (s *Service) AuditPage(ctx context.Context, a *Actor, f store.AuditFilter, offset, limit int) ([]domain.AuditEvent, bool, error) {
	if err := s.authorize(ctx, a, OpViewAudit, 0, ""); err != nil {
		return nil, false, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	if offset < 0 {
		return nil, false, domain.Errorf(domain.KindInvalid, "offset must be 0 or more").On("offset")
	}
	evs, err := s.store.AuditPage(ctx, f, offset, limit+1)
	if err != nil {
		return nil, false, err
	}
	more := len(evs) > limit
	if more {
		evs = evs[:limit]
	}
	return evs, more, nil
}
