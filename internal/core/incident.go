package core

import (
	"context"
	"fmt"
	"maps"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// Incident response: administrators suspend and reactivate users, revoke
// their tokens, end their sessions and remove their passkeys. Each action
// is audited in the same transaction, and the user finds a notice about it
// on their next page view.

// suspendedError is what a suspended user is told, whatever they try.
func suspendedError() error {
	return domain.Errorf(domain.KindForbidden, "this account is suspended: ask an administrator of this trel server")
}

// userForAdmin authorises an administrator and finds the user.
func (s *Service) userForAdmin(ctx context.Context, a *Actor, username string) (*domain.User, error) {
	if err := s.authorize(ctx, a, OpManageUsers, 0, ""); err != nil {
		return nil, err
	}
	return s.store.UserByUsername(ctx, username)
}

// adminChange runs change and its audit event (and, when notice is not
// empty, a notice to the user) in one transaction.
func (s *Service) adminChange(ctx context.Context, a *Actor, u *domain.User, action string, details map[string]any, notice string, change func(tx store.Tx) error) error {
	return s.store.Tx(ctx, func(tx store.Tx) error {
		if err := change(tx); err != nil {
			return err
		}
		if notice != "" {
			if err := tx.AddNotice(ctx, u.ID, notice, s.now()); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, a, action, "user:"+u.Username, details)
	})
}

// SuspendUser suspends a user at once: their tokens, sessions, enrollment
// links and server-side signing are refused (their browser sessions are
// ended), and everything they made stays attributed to them.
func (s *Service) SuspendUser(ctx context.Context, a *Actor, username string) error {
	u, err := s.userForAdmin(ctx, a, username)
	if err != nil {
		return err
	}
	if a.User != nil && a.User.ID == u.ID {
		return domain.Errorf(domain.KindInvalid, "you cannot suspend yourself: ask another administrator, or use `trel admin suspend` on the data directory")
	}
	if u.SuspendedAt != nil {
		return domain.Errorf(domain.KindConflict, "%s has been suspended since %s", u.Username, u.SuspendedAt.UTC().Format(time.RFC3339))
	}
	now := s.now()
	return s.adminChange(ctx, a, u, "user.suspend", nil, "", func(tx store.Tx) error {
		if err := tx.SetSuspended(ctx, u.ID, &now); err != nil {
			return err
		}
		_, err := tx.EndSessions(ctx, store.SessionFilter{UserID: u.ID})
		return err
	})
}

// ReactivateUser lifts a suspension. Tokens that were not revoked work
// again; the user is told on their next page view.
func (s *Service) ReactivateUser(ctx context.Context, a *Actor, username string) error {
	u, err := s.userForAdmin(ctx, a, username)
	if err != nil {
		return err
	}
	if u.SuspendedAt == nil {
		return domain.Errorf(domain.KindConflict, "%s is not suspended", u.Username)
	}
	since := u.SuspendedAt.UTC().Format(time.RFC3339)
	notice := fmt.Sprintf("Your account was suspended by an administrator from %s to %s. Review your API tokens, sessions and passkeys on your account page.", since, s.now().UTC().Format(time.RFC3339))
	return s.adminChange(ctx, a, u, "user.reactivate", map[string]any{"suspended_since": since}, notice, func(tx store.Tx) error {
		return tx.SetSuspended(ctx, u.ID, nil)
	})
}

// UserTokens lists any user's tokens (administrators).
func (s *Service) UserTokens(ctx context.Context, a *Actor, username string) ([]domain.Token, error) {
	u, err := s.userForAdmin(ctx, a, username)
	if err != nil {
		return nil, err
	}
	return s.store.ListTokens(ctx, u.ID)
}

// RevokeAnyToken revokes any user's token (administrators).
func (s *Service) RevokeAnyToken(ctx context.Context, a *Actor, id int64) error {
	if err := s.authorize(ctx, a, OpManageUsers, 0, ""); err != nil {
		return err
	}
	t, err := s.store.TokenByID(ctx, id)
	if err != nil {
		return err
	}
	u, err := s.store.UserByID(ctx, t.UserID)
	if err != nil {
		return err
	}
	notice := fmt.Sprintf("An administrator revoked your API token %q (%s…), and the tokens made with it.", t.Label, t.Prefix)
	details := map[string]any{"label": t.Label, "by_admin": true}
	return s.adminChange(ctx, a, u, "token.revoke", details, notice, func(tx store.Tx) error {
		revoked, err := revokeToken(ctx, tx, u.ID, id, s.now())
		maps.Copy(details, revoked)
		return err
	})
}

// UserSessions lists any user's browser sessions (administrators).
func (s *Service) UserSessions(ctx context.Context, a *Actor, username string) ([]domain.Session, error) {
	u, err := s.userForAdmin(ctx, a, username)
	if err != nil {
		return nil, err
	}
	return s.store.UserSessions(ctx, u.ID)
}

// EndSession ends any user's browser session (administrators).
func (s *Service) EndSession(ctx context.Context, a *Actor, id int64) error {
	if err := s.authorize(ctx, a, OpManageUsers, 0, ""); err != nil {
		return err
	}
	ss, err := s.store.SessionByID(ctx, id)
	if err != nil {
		return err
	}
	u, err := s.store.UserByID(ctx, ss.UserID)
	if err != nil {
		return err
	}
	notice := fmt.Sprintf("An administrator ended your session from %s (%s), opened %s.", orUnknown(ss.ClientIP), orUnknown(ss.UserAgent), ss.CreatedAt.UTC().Format(time.RFC3339))
	return s.adminChange(ctx, a, u, "session.end", map[string]any{"session_id": id, "client_ip": ss.ClientIP, "user_agent": ss.UserAgent}, notice, func(tx store.Tx) error {
		_, err := tx.EndSessions(ctx, store.SessionFilter{ID: id})
		return err
	})
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// UserPasskeys lists any user's passkeys (administrators).
func (s *Service) UserPasskeys(ctx context.Context, a *Actor, username string) ([]store.Passkey, error) {
	u, err := s.userForAdmin(ctx, a, username)
	if err != nil {
		return nil, err
	}
	return s.store.UserPasskeys(ctx, u.ID)
}

// RemoveAnyPasskey removes any user's passkey, even their last one
// (administrators), and ends every session opened with it. A user without
// passkeys needs a new enrollment link.
func (s *Service) RemoveAnyPasskey(ctx context.Context, a *Actor, id int64) (int, error) {
	if err := s.authorize(ctx, a, OpManageUsers, 0, ""); err != nil {
		return 0, err
	}
	pk, err := s.store.PasskeyByID(ctx, id)
	if err != nil {
		return 0, err
	}
	u, err := s.store.UserByID(ctx, pk.UserID)
	if err != nil {
		return 0, err
	}
	var ended int
	notice := fmt.Sprintf("An administrator removed your passkey %q; the sessions opened with it were ended.", pk.Name)
	err = s.adminChange(ctx, a, u, "passkey.remove", map[string]any{"passkey_id": id, "passkey": pk.Name, "by_admin": true}, notice, func(tx store.Tx) error {
		var err error
		if ended, err = tx.EndSessions(ctx, store.SessionFilter{PasskeyID: id}); err != nil {
			return err
		}
		return tx.RemovePasskey(ctx, u.ID, id)
	})
	return ended, err
}

// Notices lists the actor's notices not yet dismissed.
func (s *Service) Notices(ctx context.Context, a *Actor) ([]domain.Notice, error) {
	if err := s.authorize(ctx, a, OpOwnTokens, 0, ""); err != nil {
		return nil, err
	}
	return s.store.Notices(ctx, a.User.ID)
}

// DismissNotice marks one of the actor's notices read.
func (s *Service) DismissNotice(ctx context.Context, a *Actor, id int64) error {
	if err := s.authorize(ctx, a, OpOwnTokens, 0, ""); err != nil {
		return err
	}
	return s.store.Tx(ctx, func(tx store.Tx) error { return tx.DismissNotice(ctx, a.User.ID, id, s.now()) })
}

// Notify leaves a notice for a user (e.g. a passkey added through an
// enrollment link while they already had one).
func (s *Service) Notify(ctx context.Context, userID int64, message string) error {
	return s.store.Tx(ctx, func(tx store.Tx) error { return tx.AddNotice(ctx, userID, message, s.now()) })
}
