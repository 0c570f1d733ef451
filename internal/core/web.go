package core

import (
	"context"

	"trel/internal/domain"
	"trel/internal/store"
)

// Web sign-in (package auth) keeps its own tables, but its security events
// belong in the one audit log. These helpers let it write them without
// reaching into the core's internals.

// AuditEvent builds an audit event for a, timestamped with the core's clock,
// for a store method that writes it in its own transaction.
func (s *Service) AuditEventFor(a *Actor, action, target string, details map[string]any) domain.AuditEvent {
	return domain.AuditEvent{
		Time: s.now(), ActorID: a.id(), Actor: a.name(), Action: action, Target: target,
		Details: details, ClientIP: a.ClientIP,
	}
}

// Audit writes one audit event on its own (for events that change nothing
// else, such as a refused sign-in).
func (s *Service) WriteAudit(ctx context.Context, a *Actor, action, target string, details map[string]any) error {
	return s.store.Tx(ctx, func(tx store.Tx) error {
		return s.audit(ctx, tx, a, action, target, details)
	})
}
