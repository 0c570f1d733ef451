package core

import (
	"context"
	"fmt"
	"strings"

	"trel/internal/domain"
	"trel/internal/store"
)

// The basic controls of a release and an account (issue 16): abandoning a
// draft, restoring an earlier revision, the release manager's own +1 when
// the vote starts, renaming a passkey and ending one's own sessions. Each
// is audited in the transaction that makes it.

// OpAbandonRelease: only committee members may throw a draft away.
const OpAbandonRelease Op = "abandon a draft release"

func init() { required[OpAbandonRelease] = levelMember }

// AbandonRelease deletes a draft with its revisions, checks, managers and
// cancelled votes; the content is collected later by the storage sweep.
// Only drafts can be abandoned: a candidate's vote is cancelled first.
func (s *Service) AbandonRelease(ctx context.Context, a *Actor, projectKey, version, reason string) error {
	rel, err := s.release(ctx, a, OpAbandonRelease, projectKey, version)
	if err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	if len(reason) > 2000 {
		return domain.Errorf(domain.KindInvalid, "the reason is longer than 2000 characters").On("reason")
	}
	return s.store.Tx(ctx, func(tx store.Tx) error {
		cur, err := lockRelease(ctx, tx, rel.ID)
		if err != nil {
			return err
		}
		if cur.Phase != domain.PhaseDraft {
			return domain.Errorf(domain.KindConflict, "release %s %s is in phase %s: only a draft can be abandoned; cancel its vote first (`trel vote cancel %s %s --reason WHY`)",
				cur.ProjectKey, cur.Version, cur.Phase, cur.ProjectKey, cur.Version)
		}
		if err := tx.DeleteRelease(ctx, cur.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "release.abandon", releaseTarget(cur), map[string]any{"reason": reason, "revisions": cur.LatestRevision})
	})
}

// RestoreRevision makes a new revision of a draft holding exactly the files
// of revision number. expect, when set, is the latest revision the caller
// saw (a conflict otherwise, as for any change).
func (s *Service) RestoreRevision(ctx context.Context, a *Actor, projectKey, version string, number int, expect *int) (*RevisionResult, error) {
	// Restoring is uploading: the same right, checked before anything
	// about the revisions is said.
	if _, err := s.release(ctx, a, OpUpload, projectKey, version); err != nil {
		return nil, err
	}
	rel, old, err := s.Revision(ctx, a, projectKey, version, number)
	if err != nil {
		return nil, err
	}
	if number < 1 {
		return nil, domain.Errorf(domain.KindInvalid, "name the revision to restore (1 to %d)", rel.LatestRevision).On("revision")
	}
	if number == rel.LatestRevision {
		return nil, domain.Errorf(domain.KindInvalid, "revision %d is already the latest: nothing to restore", number).On("revision")
	}
	_, cur, err := s.Revision(ctx, a, projectKey, version, 0)
	if err != nil {
		return nil, err
	}
	if expect == nil {
		n := cur.Number
		expect = &n
	}
	keep := map[string]string{}
	var changes []Change
	for _, f := range old.Files {
		keep[f.Path] = f.SHA256
	}
	for _, f := range cur.Files {
		if sha, ok := keep[f.Path]; !ok {
			changes = append(changes, Change{Op: "delete", Path: f.Path})
		} else if sha == f.SHA256 {
			delete(keep, f.Path)
		}
	}
	for p, sha := range keep {
		changes = append(changes, Change{Op: "put", Path: p, SHA256: sha})
	}
	req := RevisionRequest{ExpectRevision: expect, Description: fmt.Sprintf("Restored the files of revision %d", number), Changes: changes}
	if len(changes) == 0 {
		return nil, domain.Errorf(domain.KindInvalid, "revision %d holds the same files as the latest: nothing to restore", number).On("revision")
	}
	return s.createRevision(ctx, a, projectKey, version, req, func(tx store.Tx, rev *domain.Revision) error {
		return s.audit(ctx, tx, a, "revision.restore", releaseTarget(rel), map[string]any{"from": number, "revision": rev.Number})
	})
}

// StartVoteWithPlusOne starts the vote and records the release manager's
// own +1 with comment: the usual first vote, opt-in.
func (s *Service) StartVoteWithPlusOne(ctx context.Context, a *Actor, projectKey, version, comment string) (*domain.VoteRound, *domain.Tally, error) {
	round, err := s.StartVote(ctx, a, projectKey, version)
	if err != nil {
		return nil, nil, err
	}
	t, err := s.CastVote(ctx, a, projectKey, version, 1, comment)
	if err != nil {
		return round, nil, &domain.Error{Kind: domain.KindOf(err), Err: err, Message: fmt.Sprintf(
			"the vote started, but your +1 was not recorded (%s): cast it with `trel vote cast %s %s +1`", domain.PublicMessage(err), projectKey, version)}
	}
	return round, t, nil
}

// MySessions lists the actor's own browser sessions.
func (s *Service) MySessions(ctx context.Context, a *Actor) ([]domain.Session, error) {
	if err := s.authorize(ctx, a, OpOwnTokens, 0, ""); err != nil {
		return nil, err
	}
	return s.store.UserSessions(ctx, a.User.ID)
}

// EndMySession ends one of the actor's own browser sessions (a device they
// no longer use or do not recognise).
func (s *Service) EndMySession(ctx context.Context, a *Actor, id int64) error {
	if err := s.authorize(ctx, a, OpOwnTokens, 0, ""); err != nil {
		return err
	}
	ss, err := s.store.SessionByID(ctx, id)
	if err != nil || ss.UserID != a.User.ID {
		return domain.Errorf(domain.KindNotFound, "you have no session %d: see your account page or `trel account sessions`", id)
	}
	return s.store.Tx(ctx, func(tx store.Tx) error {
		if _, err := tx.EndSessions(ctx, store.SessionFilter{ID: id}); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "session.end", "user:"+a.User.Username, map[string]any{"session_id": id, "client_ip": ss.ClientIP, "user_agent": ss.UserAgent})
	})
}

// MyPasskeys lists the actor's passkeys.
func (s *Service) MyPasskeys(ctx context.Context, a *Actor) ([]store.Passkey, error) {
	if err := s.authorize(ctx, a, OpOwnTokens, 0, ""); err != nil {
		return nil, err
	}
	return s.store.UserPasskeys(ctx, a.User.ID)
}

// RenamePasskey gives one of the actor's passkeys a new name, to tell
// devices apart.
func (s *Service) RenamePasskey(ctx context.Context, a *Actor, id int64, name string) error {
	if err := s.authorize(ctx, a, OpOwnTokens, 0, ""); err != nil {
		return err
	}
	name = strings.TrimSpace(name)
	if err := domain.ValidateName("the passkey's", name); err != nil {
		return domain.Errorf(domain.KindInvalid, "%s; for example laptop or phone", domain.PublicMessage(err)).On("name")
	}
	return s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.RenamePasskey(ctx, a.User.ID, id, name); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "passkey.rename", "user:"+a.User.Username, map[string]any{"passkey_id": id, "name": name})
	})
}

// CheckServerKeyPassword tells whether password opens the actor's key held
// by trel, before a passkey approval is spent on a signing request. It
// counts as a password attempt: the same rate limit and lockout apply.
func (s *Service) CheckServerKeyPassword(ctx context.Context, a *Actor, fpr, password string) error {
	if err := s.signingAvailable(); err != nil {
		return err
	}
	k, err := s.ownServerKey(ctx, a, fpr)
	if err != nil {
		return err
	}
	permit, err := s.reservePassword(ctx, a)
	if err != nil {
		return err
	}
	defer permit.Release()
	secret, err := s.openServerKey(ctx, a, k, permit, []byte(password))
	clear(secret)
	return err
}

// RecordPublicURL stores the public URL the server runs with, so that the
// admin commands (enrollment links) use it without being told; a change
// is audited.
func (s *Service) RecordPublicURL(ctx context.Context, url string) error {
	return s.store.Tx(ctx, func(tx store.Tx) error {
		old, err := tx.Setting(ctx, store.SettingPublicURL)
		if err != nil || old == url {
			return err
		}
		if err := tx.SetSetting(ctx, store.SettingPublicURL, url, s.now()); err != nil {
			return err
		}
		return s.audit(ctx, tx, SystemActor, "settings.public_url", "server", map[string]any{"from": old, "to": url})
	})
}

// PublicURL returns the public URL the server last ran with ("" if none).
func (s *Service) PublicURL(ctx context.Context) (string, error) {
	return s.store.Setting(ctx, store.SettingPublicURL)
}

// VoteRecord is one vote round of a release with its ballots.
type VoteRecord struct {
	Round domain.VoteRound `json:"round"`
	Votes []domain.Vote    `json:"votes"`
}

// VoteHistory lists every vote round of a release, newest first, with its
// ballots: cancelled rounds keep theirs, with the reason.
func (s *Service) VoteHistory(ctx context.Context, a *Actor, projectKey, version string) ([]VoteRecord, error) {
	rel, err := s.release(ctx, a, OpReadDraft, projectKey, version)
	if err != nil {
		return nil, err
	}
	rounds, err := s.store.VoteRounds(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	out := []VoteRecord{}
	for i := len(rounds) - 1; i >= 0; i-- {
		votes, err := s.store.Votes(ctx, rel.ID, rounds[i].Round)
		if err != nil {
			return nil, err
		}
		if votes == nil {
			votes = []domain.Vote{}
		}
		out = append(out, VoteRecord{Round: rounds[i], Votes: votes})
	}
	return out, nil
}
