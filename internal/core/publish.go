package core

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
	"trel/internal/translog"
)

// Publication, step by step. Each step can be interrupted (a crash, a
// failed disk, a log that does not answer) and taken up again, by the
// release manager's retry or at the next start-up, without repeating
// what is done:
//
//  1. "publishing" is recorded with the manifest as it will be logged and
//     the log's next index (one transaction, with the audit event);
//  2. the manifest is appended to the public log, unless an entry for it
//     exists from that index on (an append that finished just before a
//     crash), and its index is recorded;
//  3. the files and the manifest are written to a hidden directory that is
//     renamed into the downloads tree (a tree already there with the same
//     manifest counts as done);
//  4. the release becomes "released" (one transaction, with the audit
//     event).
//
// So the manifest is logged exactly once, and only for a release whose
// vote passed; a retry of a published release is refused before any step.

// publishClaim is how long one attempt may hold a publication before
// another attempt may take it over.
const publishClaim = 30 * time.Minute

func (s *Service) hook(step string) {
	if s.publishHook != nil {
		s.publishHook(step)
	}
}

// publish runs the publication of the voted revision rev with manifest m
// (built by Publish; its LogIndex is still nil), or resumes an earlier,
// interrupted one. run is the check run whose results Publish validated:
// step 1 is the decision to publish, so it is taken only if no change
// re-queued those checks meanwhile, and it records the manifest's signers
// as historic in the same transaction.
func (s *Service) publish(ctx context.Context, a *Actor, rel *domain.Release, rev *domain.Revision, m *Manifest, run *domain.CheckRun) (*Manifest, error) {
	logged, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, domain.Internal("writing the manifest", err)
	}
	var from uint64
	if s.manifestLog != nil {
		if from, err = s.manifestLog.NextIndex(ctx); err != nil {
			return nil, domain.Internal("reading the public log", err)
		}
	}
	now := s.now()
	pub := &domain.Publication{ReleaseID: rel.ID, State: domain.PublicationPublishing, Revision: rev.Number, Manifest: logged,
		LogFrom: from, StartedByID: a.id(), StartedAt: now, ClaimedUntil: now.Add(publishClaim)}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		cur, err := lockRelease(ctx, tx, rel.ID)
		if err != nil {
			return err
		}
		if cur.Phase != domain.PhasePreview {
			return domain.Errorf(domain.KindConflict, "release %s %s is in phase %s: only a release whose vote passed (preview) can be published", rel.ProjectKey, rel.Version, cur.Phase)
		}
		earlier, err := tx.Publication(ctx, rel.ID)
		if err == nil {
			ok, err := tx.ClaimPublication(ctx, rel.ID, now, now.Add(publishClaim), false)
			if err != nil {
				return err
			}
			if !ok {
				return domain.Errorf(domain.KindConflict, "release %s %s is being published right now (since %s); try again in a few minutes",
					rel.ProjectKey, rel.Version, earlier.StartedAt.UTC().Format(time.RFC3339))
			}
			pub = earlier
			return s.audit(ctx, tx, a, "release.publish.resume", releaseTarget(rel), map[string]any{"revision": earlier.Revision})
		}
		if !domain.IsKind(err, domain.KindNotFound) {
			return err
		}
		if err := sameCheckRun(ctx, tx, run); err != nil {
			return err
		}
		if err := recordSigners(ctx, tx, rel, m); err != nil {
			return err
		}
		if err := tx.StartPublication(ctx, pub); err != nil {
			return err
		}
		if err := s.attribute(ctx, tx, a, rel.ID, "publish", 0); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "release.publishing", releaseTarget(rel), map[string]any{"revision": rev.Number, "files": len(rev.Files)})
	})
	if err != nil {
		return nil, err
	}
	s.hook("recorded")
	m, err = s.finishPublication(ctx, a, rel, pub)
	if err != nil {
		s.releaseClaim(ctx, rel.ID) // a retry may take it up at once
	}
	return m, err
}

// releaseClaim lets the next attempt take a publication that failed.
func (s *Service) releaseClaim(ctx context.Context, releaseID int64) {
	err := s.store.Tx(context.WithoutCancel(ctx), func(tx store.Tx) error {
		now := s.now()
		_, err := tx.ClaimPublication(ctx, releaseID, now, now.Add(-time.Second), true)
		return err
	})
	if err != nil {
		s.log.Error("releasing a publication claim", "err", err)
	}
}

// finishPublication runs steps 2 to 4 of a recorded publication.
func (s *Service) finishPublication(ctx context.Context, a *Actor, rel *domain.Release, pub *domain.Publication) (*Manifest, error) {
	rev, err := s.store.Revision(ctx, rel.ID, pub.Revision)
	if err != nil {
		return nil, err
	}
	if s.manifestLog != nil && pub.LogIndex == nil {
		findCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		idx, found, err := s.manifestLog.FindManifest(findCtx, pub.Manifest, pub.LogFrom)
		cancel()
		if err != nil {
			return nil, domain.Internal("reading the public log", err)
		}
		if !found {
			if idx, err = s.manifestLog.AppendManifest(ctx, pub.Manifest); err != nil {
				return nil, domain.Internal("appending the manifest to the public log", err)
			}
		}
		s.hook("logged")
		if err := s.store.Tx(ctx, func(tx store.Tx) error { return tx.SetPublicationLogIndex(ctx, rel.ID, idx) }); err != nil {
			return nil, err
		}
		pub.LogIndex = &idx
		s.hook("index-recorded")
	}
	final := append(bytes.Clone(pub.Manifest), '\n')
	if pub.LogIndex != nil {
		if final, err = translog.WithLogIndex(pub.Manifest, *pub.LogIndex); err != nil {
			return nil, domain.Internal("writing the manifest", err)
		}
	}
	if err := s.publisher.Publish(ctx, rel.CommitteeKey, rel.ProjectKey, rel.Version, rev.Files, final); err != nil {
		return nil, err
	}
	s.hook("tree-written")
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.SetPhase(ctx, rel.ID, domain.PhaseReleased, s.now()); err != nil {
			return err
		}
		if err := tx.FinishPublication(ctx, rel.ID, s.now()); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "release.publish", releaseTarget(rel), map[string]any{"revision": rev.Number, "files": len(rev.Files), "log_index": pub.LogIndex}); err != nil {
			return err
		}
		return s.onPublished(ctx, tx, rel, rev, pub.Manifest)
	})
	if err != nil {
		return nil, err
	}
	s.wakeDeliveries()
	s.archivePrevious(ctx, rel)
	var m Manifest
	if err := json.Unmarshal(final, &m); err != nil {
		return nil, domain.Internal("reading the manifest back", err)
	}
	return &m, nil
}

// ResumePublications finishes every publication that an earlier server
// process left unfinished. Only one server uses a data directory, so the
// claims of the dead process are taken over. A publication that cannot be
// finished now stays recorded (and is logged); the release manager's
// `trel release publish` takes it up again.
func (s *Service) ResumePublications(ctx context.Context) error {
	pubs, err := s.store.UnfinishedPublications(ctx)
	if err != nil {
		return err
	}
	for _, p := range pubs {
		rel, err := s.store.ReleaseByID(ctx, p.ReleaseID)
		if err != nil {
			return err
		}
		now := s.now()
		err = s.store.Tx(ctx, func(tx store.Tx) error {
			if _, err := tx.ClaimPublication(ctx, p.ReleaseID, now, now.Add(publishClaim), true); err != nil {
				return err
			}
			return s.audit(ctx, tx, SystemActor, "release.publish.resume", releaseTarget(rel), map[string]any{"revision": p.Revision, "after": "restart"})
		})
		if err != nil {
			return err
		}
		if s.publisher == nil {
			continue
		}
		if _, err := s.finishPublication(ctx, SystemActor, rel, &p); err != nil {
			s.log.Error("finishing an interrupted publication", "release", releaseTarget(rel), "err", err)
			s.releaseClaim(ctx, p.ReleaseID)
			continue
		}
		s.log.Info("finished an interrupted publication", "release", releaseTarget(rel))
	}
	return nil
}

// lockRelease takes the release's write lock and reads it again.
func lockRelease(ctx context.Context, tx store.Tx, id int64) (*domain.Release, error) {
	if err := tx.LockRelease(ctx, id); err != nil {
		return nil, err
	}
	return tx.ReleaseByID(ctx, id)
}
