package core

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"trel/internal/domain"
	"trel/internal/oidc"
	"trel/internal/store"
)

// Trusted publishing: OIDC issuers (administrators), trusted publishers in
// each project's policy (committee members), the exchange of a CI job's ID
// token for a short-lived credential, and what that credential may do.
//
// A credential acts as a Workload, never as a user: authorize refuses it
// every operation but public reads, and authorizeIn grants it, inside its
// one project, exactly what workloadOps and its publisher's actions say.
// Release-manager operations are granted by workloadManagerActions. So a
// new entry point is closed to CI credentials unless it is added there.

// Operations of trusted publishing.
const (
	OpManageIssuers    Op = "manage the OIDC issuers of trusted publishing"
	OpManagePublishers Op = "change the project's trusted publishers"
)

func init() {
	required[OpManageIssuers] = levelAdmin
	required[OpManagePublishers] = levelMember
}

// Credentials of trusted publishers.
const (
	// CredentialPrefix starts every CI credential (API tokens start with
	// "trel_"), so that secret scanners and the API tell them apart.
	CredentialPrefix = "trelci_"
	// CredentialTTL is a credential's lifetime.
	CredentialTTL = 15 * time.Minute
	// DefaultExchangesPerMinute bounds the exchanges of one repository at
	// one issuer.
	DefaultExchangesPerMinute = 60
)

// TrustedPublishing configures the exchange.
type TrustedPublishing struct {
	// Registry verifies ID tokens.
	Registry *oidc.Registry
	// Audience is the aud the ID tokens must carry: trel's public URL.
	Audience string
	// ExchangesPerMinute per issuer and repository (0: the default).
	ExchangesPerMinute int
}

// SetTrustedPublishing enables the exchange of ID tokens.
func (s *Service) SetTrustedPublishing(tp TrustedPublishing) {
	if tp.ExchangesPerMinute <= 0 {
		tp.ExchangesPerMinute = DefaultExchangesPerMinute
	}
	s.tp = &tp
}

// Audience is the audience ID tokens must be issued for ("" when trusted
// publishing is not configured).
func (s *Service) Audience() string {
	if s.tp == nil {
		return ""
	}
	return s.tp.Audience
}

// ---- issuers (administrators)

// OIDCIssuers lists the issuers whose ID tokens trel accepts (public).
func (s *Service) OIDCIssuers(ctx context.Context, a *Actor) ([]domain.OIDCIssuer, error) {
	if err := s.authorize(ctx, a, OpReadPublic, 0, ""); err != nil {
		return nil, err
	}
	return s.store.OIDCIssuers(ctx)
}

// AddOIDCIssuer lets trel accept the ID tokens of another issuer.
func (s *Service) AddOIDCIssuer(ctx context.Context, a *Actor, is domain.OIDCIssuer) (*domain.OIDCIssuer, error) {
	if err := s.authorize(ctx, a, OpManageIssuers, 0, ""); err != nil {
		return nil, err
	}
	if err := is.Validate(); err != nil {
		return nil, err
	}
	if is.WebURL == "" {
		is.WebURL = domain.DefaultWebURL(is.Kind, is.URL)
	}
	is.AddedBy, is.AddedAt = a.name(), s.now()
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.AddOIDCIssuer(ctx, is); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "oidc.issuer.add", "issuer:"+is.URL, map[string]any{"kind": is.Kind, "web_url": is.WebURL})
	})
	if err != nil {
		return nil, err
	}
	return &is, nil
}

// RemoveOIDCIssuer stops accepting an issuer's tokens. Outstanding
// credentials of its runs stop working at once; publishers naming it
// match nothing until it is added again.
func (s *Service) RemoveOIDCIssuer(ctx context.Context, a *Actor, url string) error {
	if err := s.authorize(ctx, a, OpManageIssuers, 0, ""); err != nil {
		return err
	}
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.RemoveOIDCIssuer(ctx, url); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "oidc.issuer.remove", "issuer:"+url, nil)
	})
	if err == nil && s.tp != nil {
		s.tp.Registry.Forget(url)
	}
	return err
}

// ---- publishers (committee members)

// Publishers lists a project's trusted publishers (public, like the
// policy they are part of).
func (s *Service) Publishers(ctx context.Context, a *Actor, projectKey string) ([]domain.TrustedPublisher, error) {
	pol, err := s.Policy(ctx, a, projectKey)
	if err != nil {
		return nil, err
	}
	return pol.Publishers, nil
}

// AddPublisher trusts a CI workflow to act for the project: a new policy
// version (audited), a new account the publisher's acts are recorded
// under, and checks of open releases run again (the publisher's keyless
// Sigstore signatures now count).
func (s *Service) AddPublisher(ctx context.Context, a *Actor, projectKey string, p domain.TrustedPublisher) (*domain.TrustedPublisher, error) {
	proj, err := s.projectFor(ctx, a, OpManagePublishers, projectKey)
	if err != nil {
		return nil, err
	}
	p.ID, p.Account, p.AddedBy, p.AddedAt = 0, "", a.name(), s.now()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if _, err := s.store.OIDCIssuer(ctx, p.Issuer); err != nil {
		if domain.IsKind(err, domain.KindNotFound) {
			return nil, domain.FieldErrorf("issuer", domain.KindInvalid, "trel does not accept ID tokens of %s: pick a known issuer (`trel issuer list`), or ask an administrator to add it", domain.SafeText(p.Issuer))
		}
		return nil, err
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		pol, err := tx.Policy(ctx, proj.ID)
		if err != nil {
			return err
		}
		for _, q := range pol.Publishers {
			if q.Issuer == p.Issuer && q.Repository == p.Repository && q.Workflow == p.Workflow && q.Ref == p.Ref && q.Environment == p.Environment {
				return domain.Errorf(domain.KindConflict, "publisher %d already trusts this workflow (%s): remove it first to change its actions", q.ID, q)
			}
		}
		if len(pol.Publishers) >= 50 {
			return domain.Errorf(domain.KindInvalid, "a project may have at most 50 trusted publishers")
		}
		// The publisher's id is the policy version that adds it: unique in
		// the project and never reused.
		p.ID = int64(pol.Version + 1)
		p.Account = publisherAccount(proj, p.ID)
		u := &domain.User{Username: p.Account, Name: "trusted publisher " + p.Repository, CreatedAt: s.now()}
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		next := *pol
		next.Publishers = append(slices.Clone(pol.Publishers), p)
		return s.storePublishers(ctx, tx, a, proj, pol, &next, "publisher.add", map[string]any{"publisher": p})
	})
	if err != nil {
		return nil, err
	}
	s.notifyChecks()
	return &p, nil
}

// publisherAccount names the account of a publisher: a name ValidateUsername
// refuses, so that no person can ever hold it.
func publisherAccount(p *domain.Project, id int64) string {
	name := fmt.Sprintf("ci:%s:%d", p.Key, id)
	if len(name) > 64 {
		name = fmt.Sprintf("ci:%d:%d", p.ID, id)
	}
	return name
}

// RemovePublisher stops trusting a publisher: credentials already issued
// to its runs stop working at once.
func (s *Service) RemovePublisher(ctx context.Context, a *Actor, projectKey string, id int64) error {
	proj, err := s.projectFor(ctx, a, OpManagePublishers, projectKey)
	if err != nil {
		return err
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		pol, err := tx.Policy(ctx, proj.ID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(pol.Publishers, func(p domain.TrustedPublisher) bool { return p.ID == id })
		if i < 0 {
			return domain.Errorf(domain.KindNotFound, "project %s has no trusted publisher %d: see `trel publisher list %s`", proj.Key, id, proj.Key)
		}
		next := *pol
		next.Publishers = slices.Delete(slices.Clone(pol.Publishers), i, i+1)
		return s.storePublishers(ctx, tx, a, proj, pol, &next, "publisher.remove", map[string]any{"publisher": pol.Publishers[i]})
	})
	if err == nil {
		s.notifyChecks()
	}
	return err
}

// storePublishers writes next as the project's new policy version with
// its lookup rows, audits it and re-queues the open releases' checks.
func (s *Service) storePublishers(ctx context.Context, tx store.Tx, a *Actor, p *domain.Project, old, next *domain.Policy, action string, details map[string]any) error {
	if err := tx.PutPolicy(ctx, p.ID, next, a.id(), s.now()); err != nil {
		return err
	}
	if err := tx.SetTrustedPublishers(ctx, p.ID, next.Publishers); err != nil {
		return err
	}
	details["version"], details["from_version"] = next.Version, old.Version
	if err := s.audit(ctx, tx, a, action, "project:"+p.Key, details); err != nil {
		return err
	}
	return s.requeueProject(ctx, tx, p.ID)
}

// ---- the exchange

// Exchanged is the answer to an exchange: the credential (shown once) and
// what it may do.
type Exchanged struct {
	Token     string             `json:"token"`
	ExpiresAt time.Time          `json:"expires_at"`
	Project   string             `json:"project"`
	Publisher int64              `json:"publisher"`
	Actions   []string           `json:"actions"`
	Run       domain.WorkflowRun `json:"run"`
}

// ExchangeIDToken verifies a CI job's ID token and, when a trusted
// publisher of a project matches its claims, returns a credential for
// that project and the publisher's actions, valid CredentialTTL. Each
// token is exchanged once (its jti is remembered in the database until it
// expires). projectKey, optional, picks the project when the token
// matches publishers of several.
func (s *Service) ExchangeIDToken(ctx context.Context, a *Actor, token, projectKey string) (*Exchanged, error) {
	if s.tp == nil {
		return nil, domain.Errorf(domain.KindUnavailable, "trusted publishing is not configured on this server")
	}
	u, err := oidc.Parse(token)
	if err != nil {
		return nil, refused(err)
	}
	is, err := s.store.OIDCIssuer(ctx, u.Issuer)
	if domain.IsKind(err, domain.KindNotFound) {
		return nil, domain.Errorf(domain.KindUnauthenticated, "the ID token was issued by %s, an issuer trel does not accept: an administrator adds it with `trel issuer add URL --kind github|gitlab` (see `trel issuer list`)", domain.SafeText(u.Issuer))
	}
	if err != nil {
		return nil, err
	}
	v, err := s.tp.Registry.Verify(ctx, is.URL, token, s.tp.Audience)
	if err != nil {
		return nil, refused(err)
	}
	run, err := oidc.Run(is.Kind, is.URL, is.WebURL, v.Claims)
	if err != nil {
		return nil, refused(err)
	}
	if err := s.countExchange(ctx, is.URL, run.Repository); err != nil {
		return nil, err
	}
	proj, pub, err := s.matchPublisher(ctx, is, run, projectKey)
	if err != nil {
		return nil, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, domain.Internal("making a credential", err)
	}
	secret := CredentialPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.now()
	cred := &domain.PublisherCredential{Hash: hashToken(secret), Actions: pub.Actions, CreatedAt: now, ExpiresAt: now.Add(CredentialTTL)}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		fresh, err := tx.UseTokenID(ctx, is.URL, run.JTI, v.Expiry, now)
		if err != nil {
			return err
		}
		if !fresh {
			return domain.Errorf(domain.KindUnauthenticated, "this ID token (jti %s) was already exchanged: each token is good for one exchange; ask the CI for a fresh one (`trel login --oidc` does)", domain.SafeText(run.JTI))
		}
		if err := pinRepository(ctx, tx, proj, pub, run, oidc.RepositoryIDs(is.Kind, v.Claims), now); err != nil {
			return err
		}
		acct, err := tx.UserByUsername(ctx, pub.Account)
		if err != nil {
			return err
		}
		if acct.SuspendedAt != nil {
			return domain.Errorf(domain.KindForbidden, "the account of trusted publisher %d of project %s (%s) is suspended: ask an administrator", pub.ID, proj.Key, pub.Account)
		}
		if cred.RunID, err = tx.CreateWorkflowRun(ctx, proj.ID, pub.ID, run, now); err != nil {
			return err
		}
		cred.UserID = acct.ID
		if err := tx.CreatePublisherCredential(ctx, cred, now); err != nil {
			return err
		}
		w := &Actor{ClientIP: a.ClientIP, Workload: &domain.Workload{ProjectID: proj.ID, ProjectKey: proj.Key, PublisherID: pub.ID,
			Actions: pub.Actions, UserID: acct.ID, Account: acct.Username, RunID: cred.RunID, Run: run, ExpiresAt: cred.ExpiresAt}}
		return s.audit(ctx, tx, w, "oidc.exchange", "project:"+proj.Key, map[string]any{"publisher": pub.ID, "actions": pub.Actions,
			"credential_id": cred.ID, "expires_at": cred.ExpiresAt})
	})
	if err != nil {
		return nil, err
	}
	return &Exchanged{Token: secret, ExpiresAt: cred.ExpiresAt, Project: proj.Key, Publisher: pub.ID, Actions: pub.Actions, Run: run}, nil
}

// pinRepository holds a publisher to the repository (by its ids, not its
// path) of its first exchange: a repository of the same path made by
// someone else after the original was deleted or renamed is refused.
func pinRepository(ctx context.Context, tx store.Tx, proj *domain.Project, pub *domain.TrustedPublisher, run domain.WorkflowRun, ids string, now time.Time) error {
	if ids == "" {
		return nil
	}
	pinned, err := tx.PinPublisher(ctx, proj.ID, pub.ID, ids, now)
	if err != nil || pinned == ids {
		return err
	}
	return domain.Errorf(domain.KindForbidden, "the ID token comes from another repository than the one trusted publisher %d of project %s first served: %s is now %s, was %s (deleted or renamed, and its path taken again?); if this is right, a committee member removes the publisher and adds it again (`trel publisher remove %s %d`, then `trel publisher add`)",
		pub.ID, proj.Key, domain.SafeText(run.Repository), domain.SafeText(ids), pinned, proj.Key, pub.ID)
}

// refused maps a token refusal to the API's error kinds.
func refused(err error) error {
	var e *oidc.Error
	if !errors.As(err, &e) {
		return err
	}
	if e.Code == oidc.CodeUnreachable || e.Code == oidc.CodeDiscoveryBad {
		return &domain.Error{Kind: domain.KindUnavailable, Message: "cannot check the ID token now: " + e.Message}
	}
	return domain.Errorf(domain.KindUnauthenticated, "the ID token is refused: %s", e.Message)
}

// countExchange counts one exchange of the repository at the issuer in
// the database (so every replica shares the limit).
func (s *Service) countExchange(ctx context.Context, issuer, repository string) error {
	var n int
	var end time.Time
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		n, end, err = tx.CountHit(ctx, "oidc-exchange:"+issuer+" "+repository, s.now(), time.Minute)
		return err
	})
	if err != nil {
		return err
	}
	if n > s.tp.ExchangesPerMinute {
		s.meter.Inc("refusal", "rate_limited")
		return domain.Busy(end.Sub(s.now()), "repository %s exchanged more than %d ID tokens in a minute: try again at %s",
			domain.SafeText(repository), s.tp.ExchangesPerMinute, end.UTC().Format(time.RFC3339))
	}
	return nil
}

// matchPublisher finds the project and publisher the run is, saying for
// every near miss which claims did not match.
func (s *Service) matchPublisher(ctx context.Context, is *domain.OIDCIssuer, run domain.WorkflowRun, projectKey string) (*domain.Project, *domain.TrustedPublisher, error) {
	projects, err := s.store.PublisherProjects(ctx, is.URL, run.Repository)
	if err != nil {
		return nil, nil, err
	}
	type match struct {
		p   domain.Project
		pub domain.TrustedPublisher
	}
	var matches []match
	var misses []string
	for _, p := range projects {
		if projectKey != "" && p.Key != projectKey {
			continue
		}
		pol, err := s.store.Policy(ctx, p.ID)
		if err != nil {
			return nil, nil, err
		}
		for _, pub := range pol.Publishers {
			if pub.Issuer != is.URL || pub.Repository != run.Repository {
				continue
			}
			if why := pub.Mismatches(run); len(why) > 0 {
				misses = append(misses, fmt.Sprintf("publisher %d of project %s: %s", pub.ID, p.Key, strings.Join(why, "; ")))
				continue
			}
			matches = append(matches, match{p, pub})
		}
	}
	where := ""
	if projectKey != "" {
		where = " of project " + projectKey
	}
	switch {
	case len(matches) == 0 && len(misses) == 0:
		return nil, nil, domain.Errorf(domain.KindForbidden, "no trusted publisher%s names repository %s at issuer %s (claims repository/project_path and iss): a committee member adds one with `trel publisher add PROJECT --issuer %s --repository %s --workflow PATH --actions ...`",
			where, domain.SafeText(run.Repository), is.URL, is.URL, domain.SafeText(run.Repository))
	case len(matches) == 0:
		return nil, nil, domain.Errorf(domain.KindForbidden, "no trusted publisher matches this ID token (repository %s, workflow %s, ref %s, event %s): %s",
			domain.SafeText(run.Repository), domain.SafeText(run.Workflow), domain.SafeText(run.Ref), domain.SafeText(run.EventName), strings.Join(misses, "; "))
	}
	var keys []string
	for _, m := range matches {
		if !slices.Contains(keys, m.p.Key) {
			keys = append(keys, m.p.Key)
		}
	}
	if len(keys) > 1 {
		return nil, nil, domain.Errorf(domain.KindInvalid, "the ID token matches trusted publishers of several projects (%s): name one (`trel login --oidc --project KEY`)", strings.Join(keys, ", "))
	}
	// Of several publishers of the project, the one allowing the most.
	best := matches[0]
	for _, m := range matches[1:] {
		if len(m.pub.Actions) > len(best.pub.Actions) {
			best = m
		}
	}
	return &best.p, &best.pub, nil
}

// ---- the credential

// AuthenticateCredential resolves a CI credential into what it may do now:
// the actions its publisher allows at this moment (a removed publisher, a
// removed issuer or a suspended account end it at once).
func (s *Service) AuthenticateCredential(ctx context.Context, secret string) (*domain.Workload, error) {
	bad := domain.Errorf(domain.KindUnauthenticated, "the CI credential is invalid or expired: exchange a fresh ID token with `trel login --oidc`")
	if !strings.HasPrefix(secret, CredentialPrefix) || len(secret) != len(CredentialPrefix)+43 {
		return nil, bad
	}
	c, err := s.store.PublisherCredential(ctx, hashToken(secret))
	if domain.IsKind(err, domain.KindNotFound) {
		return nil, bad
	}
	if err != nil {
		return nil, err
	}
	if !s.now().Before(c.ExpiresAt) {
		return nil, domain.Errorf(domain.KindUnauthenticated, "the CI credential expired at %s (credentials last %s): exchange a fresh ID token with `trel login --oidc`",
			c.ExpiresAt.UTC().Format(time.RFC3339), CredentialTTL)
	}
	u, err := s.store.UserByID(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	if u.SuspendedAt != nil {
		s.meter.Inc("refusal", "suspended")
		return nil, domain.Errorf(domain.KindUnauthenticated, "the trusted publisher's account %s is suspended: ask an administrator of this trel server", u.Username)
	}
	if _, err := s.store.OIDCIssuer(ctx, c.Run.Issuer); err != nil {
		if domain.IsKind(err, domain.KindNotFound) {
			return nil, domain.Errorf(domain.KindUnauthenticated, "the issuer of this CI credential's ID token (%s) was removed from trel", c.Run.Issuer)
		}
		return nil, err
	}
	pol, err := s.store.Policy(ctx, c.ProjectID)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(pol.Publishers, func(p domain.TrustedPublisher) bool { return p.ID == c.PublisherID })
	if i < 0 {
		return nil, domain.Errorf(domain.KindUnauthenticated, "the trusted publisher this CI credential was issued for (%d) was removed from the project", c.PublisherID)
	}
	var actions []string
	for _, act := range c.Actions {
		if pol.Publishers[i].Allows(act) {
			actions = append(actions, act)
		}
	}
	return &domain.Workload{ProjectID: c.ProjectID, ProjectKey: c.ProjectKey, PublisherID: c.PublisherID, Actions: actions,
		UserID: u.ID, Account: u.Username, RunID: c.RunID, Run: c.Run, ExpiresAt: c.ExpiresAt}, nil
}

// workloadOps are the operations a CI credential may perform inside its
// project, with the publisher action each needs ("" for none).
var workloadOps = map[Op]string{
	OpReadDraft:    "",
	OpUpload:       domain.ActionCompose,
	OpStartRelease: domain.ActionCompose,
}

// workloadManagerActions are the release-manager operations (by the
// phrase StartVote, ResolveVote and Publish give releaseManager) a CI
// credential may perform, with the action each needs. Any other
// release-manager operation is refused.
var workloadManagerActions = map[string]string{
	"start the vote":      domain.ActionVoteStart,
	"resolve the vote":    domain.ActionPublish,
	"publish the release": domain.ActionPublish,
}

// workloadMay says whether a CI credential may perform op in project p
// (nil: outside any project, which it never may).
func workloadMay(w *domain.Workload, op Op, p *domain.Project) error {
	action, ok := workloadOps[op]
	switch {
	case !ok || p == nil:
		return domain.Errorf(domain.KindForbidden, "a CI credential may not %s: it may only start releases, upload, start votes and publish in project %s, as its trusted publisher allows", op, w.ProjectKey)
	case p.ID != w.ProjectID:
		return domain.Errorf(domain.KindForbidden, "this CI credential is for project %s; it may not %s in project %s", w.ProjectKey, op, p.Key)
	case action != "" && !w.Allows(action):
		return domain.Errorf(domain.KindForbidden, "the trusted publisher of this CI credential may not %s (it lacks the %s action): a committee member of %s can allow it with `trel publisher add`", op, action, w.ProjectKey)
	}
	return nil
}

// authorizeIn is authorize for an operation inside project p: a CI
// credential is judged by its grant, anyone else by their role.
func (s *Service) authorizeIn(ctx context.Context, a *Actor, op Op, p *domain.Project) error {
	if a.Workload != nil {
		if err := workloadMay(a.Workload, op, p); err != nil {
			s.meter.Inc("refusal", "role")
			return err
		}
		return nil
	}
	return s.authorize(ctx, a, op, p.CommitteeID, p.CommitteeKey)
}

// workloadManages is releaseManager for a CI credential.
func (s *Service) workloadManages(ctx context.Context, a *Actor, projectKey, version, what string) (*domain.Release, error) {
	action, ok := workloadManagerActions[what]
	if !ok {
		return nil, domain.Errorf(domain.KindForbidden, "a CI credential may not %s: only a release manager may", what)
	}
	rel, err := s.release(ctx, a, OpReadDraft, projectKey, version)
	if err != nil {
		return nil, err
	}
	if !a.Workload.Allows(action) {
		return nil, domain.Errorf(domain.KindForbidden, "the trusted publisher of this CI credential may not %s (it lacks the %s action): a committee member of %s can allow it with `trel publisher add`", what, action, a.Workload.ProjectKey)
	}
	return rel, nil
}

// attribute records, in the transaction of the act, that a CI
// credential's workflow run did it (nothing for anyone else).
func (s *Service) attribute(ctx context.Context, tx store.Tx, a *Actor, releaseID int64, action string, number int) error {
	if a.Workload == nil {
		return nil
	}
	return tx.RecordWorkflowAction(ctx, releaseID, action, number, a.Workload.RunID, s.now())
}

// WorkflowActions lists what CI workflow runs did to a release (visible
// like the release).
func (s *Service) WorkflowActions(ctx context.Context, a *Actor, projectKey, version string) ([]domain.WorkflowAction, error) {
	rel, err := s.release(ctx, a, OpReadDraft, projectKey, version)
	if err != nil {
		return nil, err
	}
	return s.store.WorkflowActions(ctx, rel.ID)
}

// withWorkflows sets each revision's workflow run from the release's
// workflow actions.
func withWorkflows(revs []domain.Revision, acts []domain.WorkflowAction) {
	for i := range revs {
		for _, act := range acts {
			if act.Action == "revision" && act.Number == revs[i].Number {
				run := act.Run
				revs[i].Workflow = &run
			}
		}
	}
}
