package core

import (
	"context"
	"slices"

	"trel/internal/domain"
	"trel/internal/store"
)

// CheckNotifier wakes the checks workers after a transaction queued check
// runs (the queue itself is the check_runs table, written in the same
// transaction as the change that needs checking).
type CheckNotifier interface {
	Notify()
}

// SetCheckNotifier connects the checks workers. Without one, runs stay
// queued until a worker process picks them up.
func (s *Service) SetCheckNotifier(n CheckNotifier) { s.notifier = n }

func (s *Service) notifyChecks() {
	if s.notifier != nil {
		s.notifier.Notify()
	}
}

// queueChecks marks a revision's checks as queued, inside tx.
func (s *Service) queueChecks(ctx context.Context, tx store.Tx, revisionID int64) error {
	_, err := tx.QueueCheckRun(ctx, revisionID, s.now())
	return err
}

// queueCommitteeChecks re-queues the checks of the latest revision of every
// open draft of the committees: a key change can change their verdicts.
func (s *Service) queueCommitteeChecks(ctx context.Context, tx store.Tx, committeeIDs []int64) error {
	slices.Sort(committeeIDs)
	for _, id := range slices.Compact(committeeIDs) {
		revs, err := tx.OpenDraftRevisions(ctx, id)
		if err != nil {
			return err
		}
		for _, r := range revs {
			if err := s.queueChecks(ctx, tx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// ChecksReport is the state and results of a revision's checks.
type ChecksReport struct {
	Revision int                        `json:"revision"`
	Run      *domain.CheckRun           `json:"run"`
	Finished bool                       `json:"finished"`
	Results  []domain.CheckResult       `json:"results"`
	Summary  map[domain.CheckStatus]int `json:"summary"`
}

// Checks returns the check results of a revision (0 = latest).
func (s *Service) Checks(ctx context.Context, a *Actor, projectKey, version string, number int) (*ChecksReport, error) {
	rel, err := s.release(ctx, a, OpReadDraft, projectKey, version)
	if err != nil {
		return nil, err
	}
	if number == 0 {
		number = rel.LatestRevision
	}
	if number == 0 {
		return nil, domain.Errorf(domain.KindNotFound, "release %s %s has no revision yet, so nothing was checked", rel.ProjectKey, rel.Version)
	}
	run, err := s.store.RevisionCheckRun(ctx, rel.ID, number)
	if err != nil {
		return nil, err
	}
	revID := run.RevisionID
	results, err := s.store.CheckResults(ctx, revID)
	if err != nil {
		return nil, err
	}
	rep := &ChecksReport{Revision: number, Run: run, Finished: run.State == domain.RunDone,
		Results: results, Summary: map[domain.CheckStatus]int{}}
	if rep.Results == nil {
		rep.Results = []domain.CheckResult{}
	}
	if !rep.Finished {
		// Results of an earlier generation are being replaced: show none.
		rep.Results = []domain.CheckResult{}
	}
	pol, err := s.store.Policy(ctx, rel.ProjectID)
	if err != nil {
		return nil, err
	}
	acks, err := s.store.Acks(ctx, revID)
	if err != nil {
		return nil, err
	}
	annotate(rep.Results, pol, acks)
	for _, r := range rep.Results {
		rep.Summary[r.Status]++
	}
	return rep, nil
}

// RerunChecks queues the checks of a revision (0 = latest) again.
func (s *Service) RerunChecks(ctx context.Context, a *Actor, projectKey, version string, number int) (*domain.CheckRun, error) {
	rel, err := s.release(ctx, a, OpUpload, projectKey, version)
	if err != nil {
		return nil, err
	}
	if number == 0 {
		number = rel.LatestRevision
	}
	rev, err := s.store.Revision(ctx, rel.ID, number)
	if err != nil {
		return nil, err
	}
	var run *domain.CheckRun
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		if run, err = tx.QueueCheckRun(ctx, rev.ID, s.now()); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "checks.rerun", releaseTarget(rel), map[string]any{"revision": number})
	})
	if err != nil {
		return nil, err
	}
	s.notifyChecks()
	return run, nil
}
