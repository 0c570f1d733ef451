package store

import (
	"context"

	"trel/internal/domain"
)

// UXReader holds the lists the browsing pages need: public releases
// across committees, and the audit log page by page with filters.
type UXReader interface {
	// PublicReleases lists releases that are not drafts, in phase when
	// phase is not "", of one committee (all when committeeID is 0),
	// newest first (published ones by publication time), at most limit.
	PublicReleases(ctx context.Context, committeeID int64, phase domain.Phase, limit int) ([]domain.Release, error)
	// AuditPage returns at most limit audit events matching f, newest
	// first, skipping the first offset.
	AuditPage(ctx context.Context, f AuditFilter, offset, limit int) ([]domain.AuditEvent, error)
}

// AuditFilter narrows the audit log; empty fields match everything. Actor
// is an exact username, Action a prefix ("release." for every release
// event), Target a substring.
type AuditFilter struct {
	Actor, Action, Target string
}
