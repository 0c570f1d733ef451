package core

import (
	"context"

	"trel/internal/store"
)

// SetIncubating marks a committee as incubating, or not (administrators):
// releases of incubating committees must carry a DISCLAIMER. The checks of
// the committee's open drafts run again.
func (s *Service) SetIncubating(ctx context.Context, a *Actor, committeeKey string, on bool) error {
	if err := s.authorize(ctx, a, OpCreateCommittee, 0, ""); err != nil {
		return err
	}
	c, err := s.store.CommitteeByKey(ctx, committeeKey)
	if err != nil {
		return err
	}
	return s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.SetIncubating(ctx, c.ID, on, a.id(), s.now()); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "committee.incubating", "committee:"+committeeKey, map[string]any{"incubating": on}); err != nil {
			return err
		}
		return s.queueCommitteeChecks(ctx, tx, []int64{c.ID})
	})
}
