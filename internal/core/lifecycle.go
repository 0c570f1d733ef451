package core

import (
	"context"
	"strings"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// Lifecycle operations and who may do them. Release-manager operations
// are checked separately (see releaseManager).
const (
	OpSetPolicy Op = "change the project's release policy"
	OpVote      Op = "vote"
)

func init() {
	required[OpSetPolicy] = levelMember
	required[OpVote] = levelAuthenticated
}

// Publisher copies a voted release into the public downloads tree.
type Publisher interface {
	Publish(ctx context.Context, committee, project, version string, files []domain.File, manifest []byte) error
}

// ManifestLog appends a published release's manifest to the public log.
// The entry commits to the manifest as written before its log_index was
// filled in. NextIndex and FindManifest let an interrupted publication
// find an append that finished just before the interruption.
type ManifestLog interface {
	AppendManifest(ctx context.Context, manifest []byte) (index uint64, err error)
	NextIndex(ctx context.Context) (uint64, error)
	FindManifest(ctx context.Context, manifest []byte, from uint64) (index uint64, found bool, err error)
}

// SetPublisher connects the downloads tree (and optionally the public log).
func (s *Service) SetPublisher(p Publisher, log ManifestLog) { s.publisher, s.manifestLog = p, log }

// Policy returns a project's current policy (public).
func (s *Service) Policy(ctx context.Context, a *Actor, projectKey string) (*domain.Policy, error) {
	p, err := s.store.ProjectByKey(ctx, projectKey)
	if err != nil {
		return nil, err
	}
	return s.store.Policy(ctx, p.ID)
}

// PolicyHistory lists every version of a project's policy (public).
func (s *Service) PolicyHistory(ctx context.Context, a *Actor, projectKey string) ([]domain.Policy, error) {
	p, err := s.store.ProjectByKey(ctx, projectKey)
	if err != nil {
		return nil, err
	}
	return s.store.PolicyHistory(ctx, p.ID)
}

// SetPolicy stores a new version of the project's policy and re-runs the
// checks of its open drafts, since the policy is one of their inputs.
func (s *Service) SetPolicy(ctx context.Context, a *Actor, projectKey string, pol domain.Policy) (*domain.Policy, error) {
	p, err := s.projectFor(ctx, a, OpSetPolicy, projectKey)
	if err != nil {
		return nil, err
	}
	if err := pol.Validate(); err != nil {
		return nil, err
	}
	if err := checkMailTemplates(&pol); err != nil {
		return nil, err
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		old, err := tx.Policy(ctx, p.ID)
		if err != nil {
			return err
		}
		// Publishers change only with AddPublisher and RemovePublisher.
		pol.Publishers = old.Publishers
		if err := tx.PutPolicy(ctx, p.ID, &pol, a.id(), s.now()); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "policy.set", "project:"+p.Key, map[string]any{"version": pol.Version, "from": old, "to": pol}); err != nil {
			return err
		}
		if err := s.auditWeakening(ctx, tx, a, p, old, &pol); err != nil {
			return err
		}
		return s.requeueProject(ctx, tx, p.ID)
	})
	if err != nil {
		return nil, err
	}
	s.notifyChecks()
	return s.store.Policy(ctx, p.ID)
}

// releaseManager finds a release and checks that a manages it (or is an
// administrator).
func (s *Service) releaseManager(ctx context.Context, a *Actor, projectKey, version, what string) (*domain.Release, error) {
	if a.Workload != nil {
		return s.workloadManages(ctx, a, projectKey, version, what)
	}
	rel, err := s.release(ctx, a, OpReadDraft, projectKey, version)
	if err != nil {
		return nil, err
	}
	if a.User == nil {
		return nil, domain.Errorf(domain.KindUnauthenticated, "you must sign in to %s", what)
	}
	if a.User.Admin {
		return rel, nil
	}
	rms, err := s.store.ReleaseManagers(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	if _, ok := rms[a.User.ID]; !ok {
		return nil, domain.Errorf(domain.KindForbidden, "only a release manager of %s %s may %s; a committee member adds one with `trel release manager add %s %s USER`",
			rel.ProjectKey, rel.Version, what, rel.ProjectKey, rel.Version)
	}
	// A release manager acts only while a participant of the committee.
	if lvl, err := s.levelOf(ctx, a, rel.CommitteeID); err != nil {
		return nil, err
	} else if lvl < levelParticipant {
		return nil, domain.Errorf(domain.KindForbidden, "you are no longer a member or committer of committee %s, so you may not %s as a release manager of %s %s; ask a member of the committee",
			rel.CommitteeKey, what, rel.ProjectKey, rel.Version)
	}
	return rel, nil
}

// AddReleaseManager makes a user a release manager of a release
// (committee members). The user must be a member or committer of the
// committee.
func (s *Service) AddReleaseManager(ctx context.Context, a *Actor, projectKey, version, username string) error {
	rel, err := s.release(ctx, a, OpManageReleaseManagers, projectKey, version)
	if err != nil {
		return err
	}
	u, err := s.store.UserByUsername(ctx, username)
	if err != nil {
		return err
	}
	// A published release still has release managers: they yank, un-yank
	// and archive it, and its first ones may have left the committee.
	if err := s.mustParticipate(ctx, u, rel); err != nil {
		return err
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.AddReleaseManager(ctx, rel.ID, u.ID, s.now()); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "release.manager.add", releaseTarget(rel), map[string]any{"user": u.Username}); err != nil {
			return err
		}
		return s.queueReleaseChecks(ctx, tx, rel)
	})
	if err == nil {
		s.notifyChecks()
	}
	return err
}

// queueReleaseChecks re-checks an open release's latest revision (for a
// candidate or preview, the voted one).
func (s *Service) queueReleaseChecks(ctx context.Context, tx store.Tx, rel *domain.Release) error {
	if rel.LatestRevision == 0 || rel.Phase == domain.PhaseReleased {
		return nil
	}
	rev, err := tx.Revision(ctx, rel.ID, rel.LatestRevision)
	if err != nil {
		return err
	}
	return s.queueChecks(ctx, tx, rev.ID)
}

// annotate marks results hidden by ignore rules and concerns acknowledged
// for their exact inputs.
func annotate(results []domain.CheckResult, pol *domain.Policy, acks []domain.Ack) {
	for i := range results {
		r := &results[i]
		for _, rule := range pol.Ignore {
			if rule.Ignores(*r) {
				r.Ignored = rule.Reason
				break
			}
		}
		for j := range acks {
			if acks[j].Checker == r.Checker && acks[j].Path == r.Path && acks[j].InputsHash == r.InputsHash {
				r.Ack = &acks[j]
			}
		}
	}
}

// AckConcern records that a release manager looked at a concern of the
// latest revision. The acknowledgement holds for the concern's exact
// inputs: if the file changes, the new concern needs a new look.
func (s *Service) AckConcern(ctx context.Context, a *Actor, projectKey, version, checker, filePath, comment string) (*domain.Ack, error) {
	rel, err := s.releaseManager(ctx, a, projectKey, version, "acknowledge concerns")
	if err != nil {
		return nil, err
	}
	if rel.LatestRevision == 0 {
		return nil, domain.Errorf(domain.KindNotFound, "the release has no revision yet")
	}
	rev, err := s.store.Revision(ctx, rel.ID, rel.LatestRevision)
	if err != nil {
		return nil, err
	}
	results, err := s.store.CheckResults(ctx, rev.ID)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(comment) == "" {
		return nil, domain.Errorf(domain.KindInvalid, "say why the concern is acceptable with --comment")
	}
	for _, r := range results {
		if r.Checker == checker && r.Path == filePath && r.Status == domain.StatusConcern {
			ack := domain.Ack{Checker: checker, Path: filePath, InputsHash: r.InputsHash, User: a.User.Username, Comment: comment, At: s.now()}
			err := s.store.Tx(ctx, func(tx store.Tx) error {
				if err := tx.PutAck(ctx, rev.ID, ack, a.User.ID); err != nil {
					return err
				}
				return s.audit(ctx, tx, a, "concern.ack", releaseTarget(rel), map[string]any{"revision": rev.Number, "checker": checker, "path": filePath, "comment": comment})
			})
			return &ack, err
		}
	}
	return nil, domain.Errorf(domain.KindNotFound, "revision %d has no %s concern on %q: see `trel checks list %s %s`", rev.Number, checker, filePath, projectKey, version)
}

// StartVote freezes the latest revision and opens the vote. It is refused
// while checks run, with blockers or exceptions, or with concerns nobody
// acknowledged (and no ignore rule hides).
func (s *Service) StartVote(ctx context.Context, a *Actor, projectKey, version string) (*domain.VoteRound, error) {
	rel, err := s.releaseManager(ctx, a, projectKey, version, "start the vote")
	if err != nil {
		return nil, err
	}
	if rel.Phase != domain.PhaseDraft {
		return nil, domain.Errorf(domain.KindConflict, "release %s %s is in phase %s; a vote starts from a draft", rel.ProjectKey, rel.Version, rel.Phase)
	}
	if rel.LatestRevision == 0 {
		return nil, domain.Errorf(domain.KindConflict, "the release has no files yet: upload them first")
	}
	rep, err := s.Checks(ctx, a, projectKey, version, rel.LatestRevision)
	if err != nil {
		return nil, err
	}
	if !rep.Finished {
		return nil, domain.Errorf(domain.KindConflict, "the checks of revision %d are still %s: wait for them (`trel checks wait %s %s`)", rep.Revision, rep.Run.State, projectKey, version)
	}
	if problems := resultProblems(rep, projectKey, version, true); len(problems) > 0 {
		return nil, domain.Errorf(domain.KindConflict, "the vote cannot start: %s", strings.Join(problems, "; "))
	}
	pol, err := s.store.Policy(ctx, rel.ProjectID)
	if err != nil {
		return nil, err
	}
	var round domain.VoteRound
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		cur, err := lockRelease(ctx, tx, rel.ID)
		if err != nil {
			return err
		}
		if cur.Phase != domain.PhaseDraft || cur.LatestRevision != rep.Revision {
			return domain.Errorf(domain.KindConflict, "the release changed while the vote was being started (now revision %d, phase %s): check again", cur.LatestRevision, cur.Phase)
		}
		n := 1
		if prev, err := tx.CurrentVote(ctx, rel.ID); err == nil {
			n = prev.Round + 1
		}
		round = domain.VoteRound{Round: n, Revision: rep.Revision, StartedBy: a.name(), StartedAt: s.now(),
			MinHours: pol.MinVoteHours, MinBindingPlusOnes: pol.MinBindingPlusOnes, PolicyVersion: pol.Version}
		if err := tx.StartVote(ctx, rel.ID, round, a.id()); err != nil {
			return err
		}
		if err := s.attribute(ctx, tx, a, rel.ID, "vote.start", n); err != nil {
			return err
		}
		if err := tx.SetPhase(ctx, rel.ID, domain.PhaseCandidate, s.now()); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "vote.start", releaseTarget(rel), map[string]any{"round": n, "revision": rep.Revision,
			"min_hours": pol.MinVoteHours, "min_binding_plus_ones": pol.MinBindingPlusOnes, "policy_version": pol.Version}); err != nil {
			return err
		}
		cur.Phase = domain.PhaseCandidate
		return s.onVoteStarted(ctx, tx, a, cur, round)
	})
	if err != nil {
		return nil, err
	}
	s.wakeDeliveries()
	return &round, nil
}

func orRelease(p string) string {
	if p == "" {
		return "the release"
	}
	return p
}

// CastVote records the actor's vote (+1, 0 or -1); a second vote replaces
// the first. Committee members' votes are binding.
func (s *Service) CastVote(ctx context.Context, a *Actor, projectKey, version string, value int, comment string) (*domain.Tally, error) {
	if err := s.authorize(ctx, a, OpVote, 0, ""); err != nil {
		return nil, err
	}
	if value < -1 || value > 1 {
		return nil, domain.Errorf(domain.KindInvalid, "a vote is +1, 0 or -1")
	}
	if len(comment) > 4000 {
		return nil, domain.Errorf(domain.KindInvalid, "the comment is longer than 4000 characters")
	}
	rel, err := s.release(ctx, a, OpReadDraft, projectKey, version)
	if err != nil {
		return nil, err
	}
	if rel.Phase != domain.PhaseCandidate {
		return nil, domain.Errorf(domain.KindConflict, "there is no open vote on %s %s (phase %s)", rel.ProjectKey, rel.Version, rel.Phase)
	}
	lvl, err := s.levelOf(ctx, &Actor{User: &domain.User{ID: a.User.ID}}, rel.CommitteeID)
	if err != nil {
		return nil, err
	}
	binding := lvl >= levelMember
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		round, err := tx.CurrentVote(ctx, rel.ID)
		if err != nil {
			return err
		}
		if round.ResolvedAt != nil {
			return domain.Errorf(domain.KindConflict, "the vote was already resolved")
		}
		if err := tx.PutVote(ctx, rel.ID, round.Round, a.User.ID, domain.Vote{Value: value, Binding: binding, Comment: comment, CastAt: s.now()}); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "vote.cast", releaseTarget(rel), map[string]any{"round": round.Round, "value": value, "binding": binding}); err != nil {
			return err
		}
		return s.onVoteCast(ctx, tx, a, rel, round.Round, value, binding, comment)
	})
	if err != nil {
		return nil, err
	}
	s.wakeDeliveries()
	return s.Tally(ctx, a, projectKey, version)
}

// Tally counts the current vote (public once the release is a candidate).
func (s *Service) Tally(ctx context.Context, a *Actor, projectKey, version string) (*domain.Tally, error) {
	rel, err := s.release(ctx, a, OpReadDraft, projectKey, version)
	if err != nil {
		return nil, err
	}
	return s.tally(ctx, rel)
}

func (s *Service) tally(ctx context.Context, rel *domain.Release) (*domain.Tally, error) {
	round, err := s.store.CurrentVote(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	votes, err := s.store.Votes(ctx, rel.ID, round.Round)
	if err != nil {
		return nil, err
	}
	t := &domain.Tally{Round: *round, Votes: votes, ClosesAt: round.ClosesAt()}
	if t.Votes == nil {
		t.Votes = []domain.Vote{}
	}
	if round.ResolvedAt == nil {
		if err := s.discountVotes(ctx, rel, t.Votes); err != nil {
			return nil, err
		}
	}
	// The rules recorded when the round started, never the current ones.
	t.Count(round.MinBindingPlusOnes)
	t.MayClose = !s.now().Before(t.ClosesAt)
	if t.RuleChanges, err = s.ruleChanges(ctx, rel, round); err != nil {
		return nil, err
	}
	return t, nil
}

// ResolveVote closes the vote once its minimum duration has passed: a
// passed vote moves the release to preview, a failed one back to draft.
func (s *Service) ResolveVote(ctx context.Context, a *Actor, projectKey, version string) (*domain.Tally, error) {
	rel, err := s.releaseManager(ctx, a, projectKey, version, "resolve the vote")
	if err != nil {
		return nil, err
	}
	if rel.Phase != domain.PhaseCandidate {
		return nil, domain.Errorf(domain.KindConflict, "there is no open vote on %s %s (phase %s)", rel.ProjectKey, rel.Version, rel.Phase)
	}
	t, err := s.tally(ctx, rel)
	if err != nil {
		return nil, err
	}
	if !t.MayClose {
		return nil, domain.Errorf(domain.KindConflict, "too early: the vote runs for at least %d hours and may be resolved from %s",
			t.Round.MinHours, t.ClosesAt.UTC().Format(time.RFC3339))
	}
	if a.Workload != nil && !t.Passing {
		return nil, domain.Errorf(domain.KindForbidden, "the vote on %s %s does not pass (%d binding +1, %d binding -1, %d needed): a CI credential resolves only a passing vote; a release manager resolves this one",
			rel.ProjectKey, rel.Version, t.BindingPlus, t.BindingMinus, t.Round.MinBindingPlusOnes)
	}
	next := domain.PhaseDraft
	var checked *ChecksReport
	if t.Passing {
		next = domain.PhasePreview
		// A vote passes only on a revision that still holds up.
		if checked, err = s.votedRevisionHoldsUp(ctx, a, rel, t.Round.Revision, "resolve the vote"); err != nil {
			return nil, err
		}
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if checked != nil {
			if err := sameCheckRun(ctx, tx, checked.Run); err != nil {
				return err
			}
		}
		if err := tx.ResolveVote(ctx, rel.ID, t.Round.Round, t.Passing, a.id(), s.now()); err != nil {
			return err
		}
		if err := s.attribute(ctx, tx, a, rel.ID, "vote.resolve", t.Round.Round); err != nil {
			return err
		}
		if err := freezeVotes(ctx, tx, rel, t); err != nil {
			return err
		}
		if err := tx.SetPhase(ctx, rel.ID, next, s.now()); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "vote.resolve", releaseTarget(rel), map[string]any{"round": t.Round.Round, "passed": t.Passing,
			"binding_plus": t.BindingPlus, "binding_minus": t.BindingMinus, "binding_zero": t.BindingZero,
			"min_binding_plus_ones": t.Round.MinBindingPlusOnes, "policy_version": t.Round.PolicyVersion, "discounted": discounted(t)}); err != nil {
			return err
		}
		return s.onVoteEnded(ctx, tx, a, rel, t, "")
	})
	if err != nil {
		return nil, err
	}
	s.wakeDeliveries()
	return s.Tally(ctx, a, projectKey, version)
}

// ManifestFile is one file of a published release's manifest.
type ManifestFile struct {
	Path    string           `json:"path"`
	Size    int64            `json:"size"`
	SHA512  string           `json:"sha512"`
	Signers []map[string]any `json:"signers,omitempty"`
}

// Manifest describes a published release: every file with its SHA-512
// and signers, and the vote.
type Manifest struct {
	Committee   string    `json:"committee"`
	Project     string    `json:"project"`
	Version     string    `json:"version"`
	Revision    int       `json:"revision"`
	PublishedAt time.Time `json:"published_at"`
	PublishedBy string    `json:"published_by"`
	// Policy is the policy version whose vote rules counted the vote
	// (recorded when the vote started); VoteRules are those rules.
	Policy    int       `json:"policy_version"`
	VoteRules VoteRules `json:"vote_rules"`
	// ChecksPolicy is the policy version the final checks ran under.
	ChecksPolicy int            `json:"checks_policy_version"`
	Files        []ManifestFile `json:"files"`
	Vote         *domain.Tally  `json:"vote"`
	// What a downloader needs to verify the release alone (see
	// provenance): the policy of the final checks, the committee's KEYS
	// at publication, and the CI workflow runs that acted on the release.
	Rules     *domain.Policy          `json:"policy,omitempty"`
	Keys      []ManifestKey           `json:"keys,omitempty"`
	Workflows []domain.WorkflowAction `json:"workflow_runs,omitempty"`
	// Mail holds the Message-IDs of the vote's mail and the announcement
	// (absent when no mail was sent).
	Mail     *ManifestMail `json:"mail,omitempty"`
	LogIndex *uint64       `json:"log_index,omitempty"`
}

// Publish copies the voted files into the public downloads tree next to
// the committee's KEYS, writes the release manifest, and makes the release
// final. Its revisions are kept.
func (s *Service) Publish(ctx context.Context, a *Actor, projectKey, version string) (*Manifest, error) {
	rel, err := s.releaseManager(ctx, a, projectKey, version, "publish the release")
	if err != nil {
		return nil, err
	}
	if rel.Phase != domain.PhasePreview {
		return nil, domain.Errorf(domain.KindConflict, "release %s %s is in phase %s: only a release whose vote passed (preview) can be published", rel.ProjectKey, rel.Version, rel.Phase)
	}
	if s.publisher == nil {
		return nil, domain.Errorf(domain.KindUnavailable, "this server has no downloads tree configured")
	}
	t, err := s.tally(ctx, rel)
	if err != nil {
		return nil, err
	}
	checked, err := s.votedRevisionHoldsUp(ctx, a, rel, t.Round.Revision, "publish the release")
	if err != nil {
		return nil, err
	}
	rev, err := s.store.Revision(ctx, rel.ID, t.Round.Revision)
	if err != nil {
		return nil, err
	}
	results, err := s.store.CheckResults(ctx, rev.ID)
	if err != nil {
		return nil, err
	}
	pol, err := s.store.Policy(ctx, rel.ProjectID)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Committee: rel.CommitteeKey, Project: rel.ProjectKey, Version: rel.Version, Revision: rev.Number,
		PublishedAt: s.now().UTC(), PublishedBy: a.name(), Policy: t.Round.PolicyVersion, Vote: t,
		VoteRules:    VoteRules{MinVoteHours: t.Round.MinHours, MinBindingPlusOnes: t.Round.MinBindingPlusOnes},
		ChecksPolicy: pol.Version}
	signers, err := s.manifestSigners(ctx, rel, pol, rev, results)
	if err != nil {
		return nil, err
	}
	for _, f := range rev.Files {
		m.Files = append(m.Files, ManifestFile{Path: f.Path, Size: f.Size, SHA512: f.SHA512, Signers: signers[f.Path]})
	}
	if m.Mail, err = s.manifestMail(ctx, rel, t.Round.Round, pol); err != nil {
		return nil, err
	}
	if err := s.provenance(ctx, a, rel, m, pol); err != nil {
		return nil, err
	}
	return s.publish(ctx, a, rel, rev, m, checked.Run)
}
