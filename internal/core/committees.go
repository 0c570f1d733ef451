package core

import (
	"context"

	"trel/internal/domain"
	"trel/internal/store"
)

// CommitteeDetail is a committee with its members and projects.
type CommitteeDetail struct {
	domain.Committee
	Members  []domain.Membership `json:"members"`
	Projects []domain.Project    `json:"projects"`
	// Incubating: releases must carry a DISCLAIMER.
	Incubating bool `json:"incubating"`
}

// CreateCommittee adds a committee (administrators only).
func (s *Service) CreateCommittee(ctx context.Context, a *Actor, key, name string) (*domain.Committee, error) {
	if err := s.authorize(ctx, a, OpCreateCommittee, 0, ""); err != nil {
		return nil, err
	}
	if err := domain.ValidateKey("committee", key); err != nil {
		return nil, err
	}
	if err := domain.ValidateName("committee", name); err != nil {
		return nil, err
	}
	c := &domain.Committee{Key: key, Name: name, CreatedAt: s.now()}
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateCommittee(ctx, c); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "committee.create", "committee:"+key, map[string]any{"name": name})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ListCommittees is public.
func (s *Service) ListCommittees(ctx context.Context, a *Actor) ([]domain.Committee, error) {
	return s.store.ListCommittees(ctx)
}

// Committee returns a committee with its members and projects (public).
func (s *Service) Committee(ctx context.Context, a *Actor, key string) (*CommitteeDetail, error) {
	c, err := s.store.CommitteeByKey(ctx, key)
	if err != nil {
		return nil, err
	}
	members, err := s.store.Members(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	projects, err := s.store.ListProjects(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	incubating, err := s.store.Incubating(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	return &CommitteeDetail{Committee: *c, Members: members, Projects: projects, Incubating: incubating}, nil
}

// AddMember gives a user a role in a committee (or changes it).
func (s *Service) AddMember(ctx context.Context, a *Actor, committeeKey, username string, role domain.Role) (*domain.Membership, error) {
	c, err := s.store.CommitteeByKey(ctx, committeeKey)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, a, OpManageMembers, c.ID, c.Key); err != nil {
		return nil, err
	}
	if _, err := domain.ParseRole(string(role)); err != nil {
		return nil, err
	}
	u, err := s.store.UserByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	now := s.now()
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.PutMembership(ctx, c.ID, u.ID, role, now); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "member.add", "committee:"+c.Key, map[string]any{"user": u.Username, "role": role}); err != nil {
			return err
		}
		// Whether a key's owner may sign for the committee just changed.
		return s.queueCommitteeChecks(ctx, tx, []int64{c.ID})
	})
	if err != nil {
		return nil, err
	}
	s.notifyChecks()
	return &domain.Membership{CommitteeKey: c.Key, Username: u.Username, UserID: u.ID, Role: role, Since: now}, nil
}

// RemoveMember removes a user from a committee. Their release-manager
// roles in the committee's unpublished releases end with it.
func (s *Service) RemoveMember(ctx context.Context, a *Actor, committeeKey, username string) error {
	c, err := s.store.CommitteeByKey(ctx, committeeKey)
	if err != nil {
		return err
	}
	if err := s.authorize(ctx, a, OpManageMembers, c.ID, c.Key); err != nil {
		return err
	}
	u, err := s.store.UserByUsername(ctx, username)
	if err != nil {
		return err
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.DeleteMembership(ctx, c.ID, u.ID); err != nil {
			if domain.IsKind(err, domain.KindNotFound) {
				return domain.Errorf(domain.KindNotFound, "%s is not a member of committee %s", u.Username, c.Key)
			}
			return err
		}
		ended, err := tx.EndReleaseManagerRoles(ctx, c.ID, u.ID)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "member.remove", "committee:"+c.Key, map[string]any{"user": u.Username, "release_manager_roles_ended": ended}); err != nil {
			return err
		}
		return s.queueCommitteeChecks(ctx, tx, []int64{c.ID})
	})
	if err == nil {
		s.notifyChecks()
	}
	return err
}

// CreateProject adds a project to a committee.
func (s *Service) CreateProject(ctx context.Context, a *Actor, key, committeeKey, name string) (*domain.Project, error) {
	c, err := s.store.CommitteeByKey(ctx, committeeKey)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, a, OpCreateProject, c.ID, c.Key); err != nil {
		return nil, err
	}
	if err := domain.ValidateKey("project", key); err != nil {
		return nil, err
	}
	if err := domain.ValidateName("project", name); err != nil {
		return nil, err
	}
	p := &domain.Project{Key: key, Name: name, CommitteeID: c.ID, CommitteeKey: c.Key, CreatedAt: s.now()}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateProject(ctx, p); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "project.create", "project:"+key, map[string]any{"committee": c.Key, "name": name})
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ListProjects is public; committeeKey "" lists all.
func (s *Service) ListProjects(ctx context.Context, a *Actor, committeeKey string) ([]domain.Project, error) {
	var id int64
	if committeeKey != "" {
		c, err := s.store.CommitteeByKey(ctx, committeeKey)
		if err != nil {
			return nil, err
		}
		id = c.ID
	}
	return s.store.ListProjects(ctx, id)
}

// Project is public.
func (s *Service) Project(ctx context.Context, a *Actor, key string) (*domain.Project, error) {
	return s.store.ProjectByKey(ctx, key)
}

// AuditLog returns the newest audit events (administrators only).
func (s *Service) AuditLog(ctx context.Context, a *Actor, limit int) ([]domain.AuditEvent, error) {
	if err := s.authorize(ctx, a, OpViewAudit, 0, ""); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	return s.store.ListAudit(ctx, limit)
}
