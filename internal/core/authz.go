package core

import (
	"context"

	"trel/internal/domain"
)

// Op is an operation that needs a role.
type Op string

// The operations trel authorises. Every entry point of the core names one.
const (
	OpReadPublic      Op = "read public data"
	OpReadDraft       Op = "read draft releases"
	OpUpload          Op = "change draft files"
	OpStartRelease    Op = "start a release"
	OpManageMembers   Op = "manage committee members"
	OpCreateProject   Op = "create projects"
	OpCreateCommittee Op = "create committees"
	OpManageUsers     Op = "manage users"
	OpViewAudit       Op = "read the audit log"
	OpOwnTokens       Op = "manage your own tokens"
)

// level is an actor's standing in one committee, weakest first.
type level int

const (
	levelPublic        level = iota // anyone, even without credentials
	levelAuthenticated              // any signed-in user
	levelParticipant                // a committer of the committee
	levelMember                     // a committee member
	levelAdmin                      // a trel administrator
)

func (l level) String() string {
	return [...]string{"anyone", "a signed-in user", "a committer (or member) of the committee", "a member of the committee", "an administrator"}[l]
}

// required is the whole authorisation policy in one table.
var required = map[Op]level{
	OpReadPublic:      levelPublic,
	OpOwnTokens:       levelAuthenticated,
	OpReadDraft:       levelParticipant,
	OpUpload:          levelParticipant,
	OpStartRelease:    levelMember,
	OpManageMembers:   levelMember,
	OpCreateProject:   levelMember,
	OpCreateCommittee: levelAdmin,
	OpManageUsers:     levelAdmin,
	OpViewAudit:       levelAdmin,
}

// levelOf returns a's standing in the committee (0 = no committee).
func (s *Service) levelOf(ctx context.Context, a *Actor, committeeID int64) (level, error) {
	switch {
	case a.System:
		return levelAdmin, nil
	case a.User == nil:
		return levelPublic, nil
	case a.User.Admin:
		return levelAdmin, nil
	case committeeID == 0:
		return levelAuthenticated, nil
	}
	roles, err := s.store.Roles(ctx, a.User.ID)
	if err != nil {
		return 0, err
	}
	switch roles[committeeID] {
	case domain.RoleMember:
		return levelMember, nil
	case domain.RoleCommitter:
		return levelParticipant, nil
	}
	return levelAuthenticated, nil
}

// authorize returns nil when a may perform op in the committee (0 for
// operations outside any committee), or an error saying which role is needed.
func (s *Service) authorize(ctx context.Context, a *Actor, op Op, committeeID int64, committeeKey string) error {
	need, ok := required[op]
	if !ok {
		return domain.Internal("authorising", errUnknownOp(op))
	}
	if a.Workload != nil {
		if need == levelPublic {
			return nil
		}
		s.meter.Inc("refusal", "role")
		return workloadMay(a.Workload, op, nil)
	}
	if a.User != nil && a.User.SuspendedAt != nil {
		s.meter.Inc("refusal", "suspended")
		return suspendedError()
	}
	have, err := s.levelOf(ctx, a, committeeID)
	if err != nil {
		return err
	}
	if have >= need {
		return nil
	}
	s.meter.Inc("refusal", "role")
	if a.User == nil {
		return domain.Errorf(domain.KindUnauthenticated, "you must sign in to %s: run `trel login --server URL` or set TREL_TOKEN", op)
	}
	where := ""
	if committeeKey != "" && need >= levelParticipant && need < levelAdmin {
		where = " " + committeeKey
	}
	return domain.Errorf(domain.KindForbidden, "only %s%s may %s; ask a member of the committee or an administrator", need, where, op)
}

type errUnknownOp Op

func (e errUnknownOp) Error() string { return "unknown operation " + string(e) }
