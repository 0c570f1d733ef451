package core

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"trel/internal/checks"
	"trel/internal/domain"
	"trel/internal/store"
)

// Release authority: the vote and the publication hold only while the
// voted revision still holds up under the current keys, members,
// identities and policy, and only release managers who still participate
// in the committee act on it.

// OpManageReleaseManagers is adding or removing a release's managers.
const OpManageReleaseManagers Op = "manage release managers"

func init() { required[OpManageReleaseManagers] = levelMember }

// resultProblems lists what in a finished check report stands in the way:
// blockers and exceptions, and (for starting a vote) unacknowledged
// concerns. At most five are named.
func resultProblems(rep *ChecksReport, projectKey, version string, concerns bool) []string {
	var problems []string
	for _, r := range rep.Results {
		switch {
		case r.Status == domain.StatusBlocker:
			problems = append(problems, fmt.Sprintf("blocker on %s (%s): %s", orRelease(r.Path), r.Checker, r.Message))
		case r.Status == domain.StatusException:
			problems = append(problems, fmt.Sprintf("the %s check failed on %s: re-run the checks", r.Checker, orRelease(r.Path)))
		case concerns && r.Status == domain.StatusConcern && r.Ignored == "" && r.Ack == nil:
			problems = append(problems, fmt.Sprintf("unacknowledged concern on %s (%s): acknowledge it with `trel checks ack %s %s --checker %s --path %s --comment WHY`",
				orRelease(r.Path), r.Checker, projectKey, version, r.Checker, r.Path))
		}
	}
	if len(problems) > 5 {
		problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
	}
	return problems
}

// votedRevisionHoldsUp refuses (conflict) while the voted revision is
// being checked again, or when its current results hold a blocker or an
// exception. It returns the report, whose run the caller confirms
// unchanged inside its transaction (sameCheckRun).
func (s *Service) votedRevisionHoldsUp(ctx context.Context, a *Actor, rel *domain.Release, revision int, what string) (*ChecksReport, error) {
	rep, err := s.Checks(ctx, a, rel.ProjectKey, rel.Version, revision)
	if err != nil {
		return nil, err
	}
	if !rep.Finished {
		return nil, domain.Errorf(domain.KindConflict,
			"cannot %s yet: the checks of revision %d are %s again because something they depend on changed (a key, a member, a trusted identity or the policy); wait for them with `trel checks wait %s %s` and try again",
			what, revision, rep.Run.State, rel.ProjectKey, rel.Version)
	}
	if problems := resultProblems(rep, rel.ProjectKey, rel.Version, false); len(problems) > 0 {
		return nil, domain.Errorf(domain.KindConflict,
			"cannot %s: revision %d no longer holds up: %s. Fix the cause (e.g. restore the signer's standing), or cancel the vote with `trel vote cancel %s %s`, which returns the release to draft for corrected files and a new vote",
			what, revision, strings.Join(problems, "; "), rel.ProjectKey, rel.Version)
	}
	return rep, nil
}

// sameCheckRun fails when the run was queued again after it was read:
// something changed between the validation and the transaction.
func sameCheckRun(ctx context.Context, tx store.Tx, run *domain.CheckRun) error {
	cur, err := tx.CheckRun(ctx, run.RevisionID)
	if err != nil {
		return err
	}
	if cur.Generation != run.Generation || cur.State != domain.RunDone {
		return domain.Errorf(domain.KindConflict, "the checks were queued again a moment ago because something they depend on changed: wait for them (`trel checks wait`) and try again")
	}
	return nil
}

// discountVotes turns a binding vote non-binding when its voter is no
// longer a member of the committee: a binding vote needs membership when
// it is cast AND when it is counted (until the round is resolved, which
// freezes the count).
func (s *Service) discountVotes(ctx context.Context, rel *domain.Release, votes []domain.Vote) error {
	roles := map[int64]domain.Role{}
	members, err := s.store.Members(ctx, rel.CommitteeID)
	if err != nil {
		return err
	}
	for _, m := range members {
		roles[m.UserID] = m.Role
	}
	for i := range votes {
		v := &votes[i]
		if !v.Binding || roles[v.UserID] == domain.RoleMember {
			continue
		}
		v.Binding = false
		if roles[v.UserID] == domain.RoleCommitter {
			v.Discounted = fmt.Sprintf("%s is now a committer, no longer a member of committee %s", v.User, rel.CommitteeKey)
		} else {
			v.Discounted = fmt.Sprintf("%s is no longer on committee %s", v.User, rel.CommitteeKey)
		}
	}
	return nil
}

// freezeVotes stores the discounts of a tally when its round is resolved.
func freezeVotes(ctx context.Context, tx store.Tx, rel *domain.Release, t *domain.Tally) error {
	for _, v := range t.Votes {
		if v.Discounted != "" {
			if err := tx.SetVoteBinding(ctx, rel.ID, t.Round.Round, v.UserID, false); err != nil {
				return err
			}
		}
	}
	return nil
}

func discounted(t *domain.Tally) []string {
	out := []string{}
	for _, v := range t.Votes {
		if v.Discounted != "" {
			out = append(out, v.User)
		}
	}
	return out
}

// ruleChanges lists the weakenings of the vote rules shown with a round.
func (s *Service) ruleChanges(ctx context.Context, rel *domain.Release, round *domain.VoteRound) ([]domain.RuleChange, error) {
	hist, err := s.store.PolicyHistory(ctx, rel.ProjectID)
	if err != nil {
		return nil, err
	}
	var out []domain.RuleChange
	for _, c := range domain.VoteRuleWeakenings(hist) {
		c.AfterStart = c.Version > round.PolicyVersion
		if c.AfterStart || !c.At.Before(round.StartedAt.Add(-domain.WeakeningWindow)) {
			out = append(out, c)
		}
	}
	return out, nil
}

// auditWeakening writes a separate audit event when a policy change lowers
// the minimum vote duration or the binding votes needed, naming the votes
// open at the time.
func (s *Service) auditWeakening(ctx context.Context, tx store.Tx, a *Actor, p *domain.Project, old, pol *domain.Policy) error {
	if pol.MinVoteHours >= old.MinVoteHours && pol.MinBindingPlusOnes >= old.MinBindingPlusOnes {
		return nil
	}
	rels, err := tx.ListReleases(ctx, p.ID)
	if err != nil {
		return err
	}
	open := []string{}
	for _, r := range rels {
		if r.Phase == domain.PhaseCandidate {
			open = append(open, r.Version)
		}
	}
	return s.audit(ctx, tx, a, "policy.vote_rules.weakened", "project:"+p.Key, map[string]any{"version": pol.Version,
		"min_vote_hours_from": old.MinVoteHours, "min_vote_hours_to": pol.MinVoteHours,
		"min_binding_plus_ones_from": old.MinBindingPlusOnes, "min_binding_plus_ones_to": pol.MinBindingPlusOnes,
		"open_votes": open})
}

// mustParticipate refuses a release manager who is not a member or
// committer of the release's committee.
func (s *Service) mustParticipate(ctx context.Context, u *domain.User, rel *domain.Release) error {
	if lvl, err := s.levelOf(ctx, &Actor{User: &domain.User{ID: u.ID}}, rel.CommitteeID); err != nil {
		return err
	} else if lvl >= levelParticipant {
		return nil
	}
	return domain.Errorf(domain.KindInvalid, "%s is not a member or committer of committee %s, so cannot manage %s %s: add them to the committee first (`trel member add %s %s --role committer`)",
		u.Username, rel.CommitteeKey, rel.ProjectKey, rel.Version, rel.CommitteeKey, u.Username)
}

// ReleaseManagers lists a release's managers (visible like the release).
func (s *Service) ReleaseManagers(ctx context.Context, a *Actor, projectKey, version string) ([]string, error) {
	rel, err := s.release(ctx, a, OpReadDraft, projectKey, version)
	if err != nil {
		return nil, err
	}
	rms, err := s.store.ReleaseManagers(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, name := range rms {
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}

// RemoveReleaseManager ends a user's release-manager role on a release
// (committee members and administrators).
func (s *Service) RemoveReleaseManager(ctx context.Context, a *Actor, projectKey, version, username string) error {
	rel, err := s.release(ctx, a, OpManageReleaseManagers, projectKey, version)
	if err != nil {
		return err
	}
	u, err := s.store.UserByUsername(ctx, username)
	if err != nil {
		return err
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.RemoveReleaseManager(ctx, rel.ID, u.ID); err != nil {
			if domain.IsKind(err, domain.KindNotFound) {
				return domain.Errorf(domain.KindNotFound, "%s is not a release manager of %s %s", u.Username, rel.ProjectKey, rel.Version)
			}
			return err
		}
		if err := s.audit(ctx, tx, a, "release.manager.remove", releaseTarget(rel), map[string]any{"user": u.Username}); err != nil {
			return err
		}
		return s.queueReleaseChecks(ctx, tx, rel)
	})
	if err == nil {
		s.notifyChecks()
	}
	return err
}

// CancelVote ends the vote on a candidate, or withdraws a preview, and
// returns the release to draft so that its files can be corrected and a
// new vote started (release managers).
func (s *Service) CancelVote(ctx context.Context, a *Actor, projectKey, version, reason string) error {
	rel, err := s.releaseManager(ctx, a, projectKey, version, "cancel the vote")
	if err != nil {
		return err
	}
	if rel.Phase != domain.PhaseCandidate && rel.Phase != domain.PhasePreview {
		return domain.Errorf(domain.KindConflict, "release %s %s is in phase %s: only a vote in progress (candidate) or a passed vote not yet published (preview) can be cancelled", rel.ProjectKey, rel.Version, rel.Phase)
	}
	if strings.TrimSpace(reason) == "" {
		return domain.Errorf(domain.KindInvalid, "say why the vote is cancelled (--reason): the voters read it in the audit log")
	}
	if len(reason) > 2000 {
		return domain.Errorf(domain.KindInvalid, "the reason is longer than 2000 characters")
	}
	t, err := s.tally(ctx, rel)
	if err != nil {
		return err
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.LockRelease(ctx, rel.ID); err != nil {
			return err
		}
		cur, err := tx.ReleaseByID(ctx, rel.ID)
		if err != nil {
			return err
		}
		if cur.Phase != rel.Phase {
			return domain.Errorf(domain.KindConflict, "the release changed meanwhile (now %s): look again", cur.Phase)
		}
		// A recorded publication may already be in the public log: it can
		// only be finished, never taken back.
		if pub, err := tx.Publication(ctx, rel.ID); err == nil {
			return domain.Errorf(domain.KindConflict, "the publication of revision %d started at %s and cannot be taken back (its manifest may already be in the public log): finish it with `trel release publish %s %s`",
				pub.Revision, pub.StartedAt.UTC().Format(time.RFC3339), rel.ProjectKey, rel.Version)
		} else if !domain.IsKind(err, domain.KindNotFound) {
			return err
		}
		round, err := tx.CurrentVote(ctx, rel.ID)
		if err != nil {
			return err
		}
		if round.ResolvedAt == nil {
			if err := tx.ResolveVote(ctx, rel.ID, round.Round, false, a.User.ID, s.now()); err != nil {
				return err
			}
		}
		if err := tx.CancelVoteRound(ctx, rel.ID, round.Round, reason); err != nil {
			return err
		}
		if err := tx.SetPhase(ctx, rel.ID, domain.PhaseDraft, s.now()); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "vote.cancel", releaseTarget(rel), map[string]any{"round": round.Round, "from": rel.Phase, "reason": reason}); err != nil {
			return err
		}
		return s.onVoteEnded(ctx, tx, a, rel, t, reason)
	})
	if err == nil {
		s.wakeDeliveries()
	}
	return err
}

// VoteRules are the vote rules a published release was voted under.
type VoteRules struct {
	MinVoteHours       int `json:"min_vote_hours"`
	MinBindingPlusOnes int `json:"min_binding_plus_ones"`
}

// manifestSigners names, per artifact path, the signers that count now.
// Every OpenPGP signer is judged again against the current keys, members
// and policy: a revoked, deleted or no longer trusted one refuses the
// publication rather than appearing in the manifest.
func (s *Service) manifestSigners(ctx context.Context, rel *domain.Release, pol *domain.Policy, rev *domain.Revision, results []domain.CheckResult) (map[string][]map[string]any, error) {
	members, err := s.store.Members(ctx, rel.CommitteeID)
	if err != nil {
		return nil, err
	}
	participants := map[int64]bool{}
	byName := map[string]bool{}
	for _, m := range members {
		participants[m.UserID], byName[m.Username] = true, true
	}
	rms, err := s.store.ReleaseManagers(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	out := map[string][]map[string]any{}
	var problems []string
	for _, f := range rev.Files {
		for _, r := range results {
			if r.Status != domain.StatusNote || !strings.HasPrefix(r.Path, f.Path+".") || path.Dir(r.Path) != path.Dir(f.Path) {
				continue
			}
			switch r.Checker {
			case "signature":
				fpr, _ := r.Details["signer_fingerprint"].(string)
				if fpr == "" || !pol.AcceptOpenPGP {
					continue
				}
				k, err := s.store.Key(ctx, fpr)
				if err != nil {
					return nil, err
				}
				if why := checks.SignerProblem(*k, rel, participants, pol, rms); why != "" {
					problems = append(problems, fmt.Sprintf("%s: %s", r.Path, why))
					continue
				}
				out[f.Path] = append(out[f.Path], map[string]any{"kind": "openpgp", "file": r.Path, "fingerprint": fpr, "owner": k.Owner})
			case "sigstore":
				if !pol.AcceptSigstore {
					continue
				}
				if owner, _ := r.Details["owner"].(string); owner != "" && !byName[owner] {
					problems = append(problems, fmt.Sprintf("%s: the personal Sigstore identity of %s, who is no longer on committee %s", r.Path, owner, rel.CommitteeKey))
					continue
				}
				entry := map[string]any{"kind": "sigstore", "file": r.Path, "identity": r.Details["identity"], "issuer": r.Details["issuer"]}
				if fp, _ := r.Details["key_fingerprint"].(string); fp != "" {
					entry["key_fingerprint"] = fp // a key-based bundle; see withSigstoreKeys
				}
				if hk, _ := r.Details["held_key"].(string); hk != "" {
					entry["held_key"] = hk // logged in trel's log, not Rekor
				}
				out[f.Path] = append(out[f.Path], entry)
			}
		}
	}
	if len(problems) > 0 {
		return nil, domain.Errorf(domain.KindConflict, "cannot publish: the manifest would name signers that no longer count: %s. Re-run the checks (`trel checks rerun %s %s`), or cancel the vote with `trel vote cancel %s %s` and have the files signed again",
			strings.Join(problems, "; "), rel.ProjectKey, rel.Version, rel.ProjectKey, rel.Version)
	}
	return out, nil
}

// recordSigners remembers the keys a published release names, so that
// they stay in the committee's KEYS as historic keys.
func recordSigners(ctx context.Context, tx store.Tx, rel *domain.Release, m *Manifest) error {
	for _, f := range m.Files {
		for _, sg := range f.Signers {
			if fpr, _ := sg["fingerprint"].(string); sg["kind"] == "openpgp" && fpr != "" {
				if err := tx.AddPublishedSigner(ctx, rel.ID, fpr); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
