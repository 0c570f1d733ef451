package core

import (
	"context"
	"strings"

	"trel/internal/domain"
	"trel/internal/sigstore"
	"trel/internal/store"
)

// OpTrustSigners is changing which Sigstore signers a project trusts.
const OpTrustSigners Op = "change the project's trusted Sigstore signers"

func init() { required[OpTrustSigners] = levelMember }

// ToSigstore converts a stored identity to the verifier's policy type.
func ToSigstore(id domain.SigstoreIdentity) sigstore.Identity {
	return sigstore.Identity{Issuer: id.Issuer, Subject: id.Subject, SubjectRegexp: id.SubjectRegexp,
		SourceRepository: id.SourceRepository, Ref: id.Ref, RefRegexp: id.RefRegexp, Workflow: id.Workflow,
		RunnerEnvironment: id.RunnerEnvironment, ReusableWorkflowRepository: id.ReusableWorkflowRepository}
}

func (s *Service) projectFor(ctx context.Context, a *Actor, op Op, projectKey string) (*domain.Project, error) {
	p, err := s.store.ProjectByKey(ctx, projectKey)
	if err != nil {
		return nil, err
	}
	return p, s.authorizeIn(ctx, a, op, p)
}

// requeueProject re-runs the checks of the project's open drafts.
func (s *Service) requeueProject(ctx context.Context, tx store.Tx, projectID int64) error {
	revs, err := tx.OpenProjectRevisions(ctx, projectID)
	if err != nil {
		return err
	}
	for _, r := range revs {
		if err := s.queueChecks(ctx, tx, r); err != nil {
			return err
		}
	}
	return nil
}

// AddSigstoreIdentity trusts a signer for a project's Sigstore bundles.
func (s *Service) AddSigstoreIdentity(ctx context.Context, a *Actor, projectKey string, id domain.SigstoreIdentity) (*domain.SigstoreIdentity, error) {
	p, err := s.projectFor(ctx, a, OpTrustSigners, projectKey)
	if err != nil {
		return nil, err
	}
	if err := ToSigstore(id).Validate(); err != nil {
		return nil, domain.Errorf(domain.KindInvalid, "%v", err)
	}
	id.Project, id.User, id.UserID = p.Key, "", 0
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.AddSigstoreIdentity(ctx, p.ID, &id, a.id(), s.now()); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "sigstore.identity.add", "project:"+p.Key, map[string]any{"identity": ToSigstore(id).String()}); err != nil {
			return err
		}
		return s.requeueProject(ctx, tx, p.ID)
	})
	if err != nil {
		return nil, err
	}
	s.notifyChecks()
	return &id, nil
}

// AddPersonalIdentity registers the actor's own Sigstore identity (an OIDC
// issuer and one of the account's e-mail addresses). Bundles signed by it
// count as signed by this user wherever the user is a participant.
func (s *Service) AddPersonalIdentity(ctx context.Context, a *Actor, issuer, email string) (*domain.SigstoreIdentity, error) {
	if err := s.authorize(ctx, a, OpAddKey, 0, ""); err != nil {
		return nil, err
	}
	if email == "" {
		email = a.User.Email
	}
	if !strings.EqualFold(email, a.User.Email) {
		return nil, domain.Errorf(domain.KindForbidden, "%s is not your account's address (%s): a personal identity must use it", email, a.User.Email)
	}
	id := domain.SigstoreIdentity{Issuer: issuer, Subject: strings.ToLower(a.User.Email), User: a.User.Username, UserID: a.User.ID}
	if err := ToSigstore(id).Validate(); err != nil {
		return nil, domain.Errorf(domain.KindInvalid, "%v", err)
	}
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.AddSigstoreIdentity(ctx, 0, &id, a.id(), s.now()); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "sigstore.identity.add", "user:"+a.User.Username, map[string]any{"identity": ToSigstore(id).String()}); err != nil {
			return err
		}
		return s.queueCommitteeChecks(ctx, tx, s.committeesOf(ctx, a))
	})
	if err != nil {
		return nil, err
	}
	s.notifyChecks()
	return &id, nil
}

func (s *Service) committeesOf(ctx context.Context, a *Actor) []int64 {
	roles, _ := s.store.Roles(ctx, a.User.ID)
	var ids []int64
	for id := range roles {
		ids = append(ids, id)
	}
	return ids
}

// SigstoreIdentities lists a project's trusted identities (public), or the
// actor's personal identities when projectKey is "".
func (s *Service) SigstoreIdentities(ctx context.Context, a *Actor, projectKey string) ([]domain.SigstoreIdentity, error) {
	var ids []domain.SigstoreIdentity
	if projectKey == "" {
		if err := s.authorize(ctx, a, OpAddKey, 0, ""); err != nil {
			return nil, err
		}
		var err error
		if ids, err = s.store.PersonalIdentities(ctx, []int64{a.User.ID}); err != nil {
			return nil, err
		}
	} else {
		p, err := s.store.ProjectByKey(ctx, projectKey)
		if err != nil {
			return nil, err
		}
		if ids, err = s.store.SigstoreIdentities(ctx, p.ID); err != nil {
			return nil, err
		}
	}
	// Identities stored before today's rules are judged again: one that
	// is now refused matches nobody, and says so here.
	for i := range ids {
		if err := ToSigstore(ids[i]).Validate(); err != nil {
			ids[i].Problem = err.Error() + "; it matches no signer: remove it and add a narrower one"
		}
	}
	return ids, nil
}

// RemoveSigstoreIdentity stops trusting an identity (projectKey "" removes
// one of the actor's personal identities).
func (s *Service) RemoveSigstoreIdentity(ctx context.Context, a *Actor, projectKey string, id int64) error {
	var projectID, userID int64
	var committees []int64
	target := ""
	if projectKey == "" {
		if err := s.authorize(ctx, a, OpAddKey, 0, ""); err != nil {
			return err
		}
		userID, target, committees = a.User.ID, "user:"+a.User.Username, s.committeesOf(ctx, a)
	} else {
		p, err := s.projectFor(ctx, a, OpTrustSigners, projectKey)
		if err != nil {
			return err
		}
		projectID, target = p.ID, "project:"+p.Key
	}
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.RemoveSigstoreIdentity(ctx, projectID, userID, id); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "sigstore.identity.remove", target, map[string]any{"id": id}); err != nil {
			return err
		}
		if projectID > 0 {
			return s.requeueProject(ctx, tx, projectID)
		}
		return s.queueCommitteeChecks(ctx, tx, committees)
	})
	if err == nil {
		s.notifyChecks()
	}
	return err
}

// AddSigstoreKey registers a PEM public key for a project's key-based
// bundles.
func (s *Service) AddSigstoreKey(ctx context.Context, a *Actor, projectKey, name string, pem []byte) (*domain.SigstoreKey, error) {
	p, err := s.projectFor(ctx, a, OpTrustSigners, projectKey)
	if err != nil {
		return nil, err
	}
	if err := domain.ValidateName("key", name); err != nil {
		return nil, err
	}
	pk, err := sigstore.ParsePublicKeyPEM(name, pem)
	if err != nil {
		return nil, domain.Errorf(domain.KindInvalid, "%v", err)
	}
	k := &domain.SigstoreKey{Project: p.Key, Name: name, Fingerprint: pk.Fingerprint, PEM: string(pem)}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.AddSigstoreKey(ctx, p.ID, k, a.id(), s.now()); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "sigstore.key.add", "project:"+p.Key, map[string]any{"name": name, "fingerprint": k.Fingerprint}); err != nil {
			return err
		}
		return s.requeueProject(ctx, tx, p.ID)
	})
	if err != nil {
		return nil, err
	}
	s.notifyChecks()
	return k, nil
}

// SigstoreKeys lists a project's registered keys (public).
func (s *Service) SigstoreKeys(ctx context.Context, a *Actor, projectKey string) ([]domain.SigstoreKey, error) {
	p, err := s.store.ProjectByKey(ctx, projectKey)
	if err != nil {
		return nil, err
	}
	return s.store.SigstoreKeys(ctx, p.ID)
}

// RemoveSigstoreKey unregisters a project's key.
func (s *Service) RemoveSigstoreKey(ctx context.Context, a *Actor, projectKey string, id int64) error {
	p, err := s.projectFor(ctx, a, OpTrustSigners, projectKey)
	if err != nil {
		return err
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.RemoveSigstoreKey(ctx, p.ID, id); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "sigstore.key.remove", "project:"+p.Key, map[string]any{"id": id}); err != nil {
			return err
		}
		return s.requeueProject(ctx, tx, p.ID)
	})
	if err == nil {
		s.notifyChecks()
	}
	return err
}
