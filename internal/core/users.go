package core

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// TokenPrefix starts every API token, so that secret scanners recognise
// leaked tokens.
const TokenPrefix = "trel_"

// Token lifetimes.
const (
	DefaultTokenTTL = 90 * 24 * time.Hour
	MaxTokenTTL     = 366 * 24 * time.Hour
)

// NewUser describes a user to create.
type NewUser struct {
	Username string
	Email    string
	Name     string
	Admin    bool
}

// CreateUser adds a user. Only administrators (and `trel admin`) may.
func (s *Service) CreateUser(ctx context.Context, a *Actor, nu NewUser) (*domain.User, error) {
	if err := s.authorize(ctx, a, OpManageUsers, 0, ""); err != nil {
		return nil, err
	}
	if err := domain.ValidateUsername(nu.Username); err != nil {
		return nil, err
	}
	email, err := domain.ValidateEmail(nu.Email)
	if err != nil {
		return nil, err
	}
	if nu.Name != "" {
		if err := domain.ValidateName("user", nu.Name); err != nil {
			return nil, err
		}
	}
	u := &domain.User{Username: nu.Username, Email: email, Name: nu.Name, Admin: nu.Admin, CreatedAt: s.now()}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "user.create", "user:"+u.Username, map[string]any{"email": u.Email, "admin": u.Admin})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// ListUsers lists every user (administrators only).
func (s *Service) ListUsers(ctx context.Context, a *Actor) ([]domain.User, error) {
	if err := s.authorize(ctx, a, OpManageUsers, 0, ""); err != nil {
		return nil, err
	}
	return s.store.ListUsers(ctx)
}

// ParseTTL reads a token lifetime such as "90d", "12h" or "30m".
func ParseTTL(s string) (time.Duration, error) {
	if s == "" {
		return DefaultTokenTTL, nil
	}
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		days, err = strconv.Atoi(n)
		d = time.Duration(days) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, domain.Errorf(domain.KindInvalid, "invalid token lifetime %q: use a number of days like 90d, or hours like 12h", s)
	}
	if d > MaxTokenTTL {
		return 0, domain.Errorf(domain.KindInvalid, "token lifetime %q is longer than the maximum of 366 days", s)
	}
	return d, nil
}

// CreateToken makes a new API token for user (who must be the actor, or the
// actor is the system). The secret is returned once and never stored.
func (s *Service) CreateToken(ctx context.Context, a *Actor, username, label string, ttl time.Duration) (string, *domain.Token, error) {
	u, err := s.tokenOwner(ctx, a, username)
	if err != nil {
		return "", nil, err
	}
	label = strings.TrimSpace(label)
	if label == "" {
		label = "token"
	}
	if err := domain.ValidateName("token", label); err != nil {
		return "", nil, err
	}
	if ttl <= 0 || ttl > MaxTokenTTL {
		return "", nil, domain.Errorf(domain.KindInvalid, "a token lifetime must be positive and at most 366 days")
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, domain.Internal("generating token", err)
	}
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.now()
	exp := now.Add(ttl)
	// A token cannot make a token that outlives it.
	capped := false
	if a.Token != nil && a.Token.ExpiresAt != nil && exp.After(*a.Token.ExpiresAt) {
		exp, capped = *a.Token.ExpiresAt, true
	}
	t := &domain.Token{UserID: u.ID, Label: label, Prefix: secret[:len(TokenPrefix)+6], CreatedAt: now, ExpiresAt: &exp, Hash: hashToken(secret)}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateToken(ctx, t); err != nil {
			return err
		}
		details := map[string]any{"token_id": t.ID, "label": label, "expires_at": exp}
		if a.Token != nil {
			if err := tx.SetTokenParent(ctx, t.ID, a.Token.ID); err != nil {
				return err
			}
			details["made_with_token"] = a.Token.ID
		}
		if capped {
			details["capped_at_parent_token"] = a.Token.ID
		}
		return s.audit(ctx, tx, a, "token.create", "user:"+u.Username, details)
	})
	if err != nil {
		return "", nil, err
	}
	return secret, t, nil
}

func (s *Service) tokenOwner(ctx context.Context, a *Actor, username string) (*domain.User, error) {
	if a.System {
		return s.store.UserByUsername(ctx, username)
	}
	if err := s.authorize(ctx, a, OpOwnTokens, 0, ""); err != nil {
		return nil, err
	}
	if username != "" && username != a.User.Username {
		return nil, domain.Errorf(domain.KindForbidden, "you can only manage your own tokens")
	}
	return a.User, nil
}

// ListTokens lists the actor's own tokens (never their secrets).
func (s *Service) ListTokens(ctx context.Context, a *Actor) ([]domain.Token, error) {
	u, err := s.tokenOwner(ctx, a, "")
	if err != nil {
		return nil, err
	}
	return s.store.ListTokens(ctx, u.ID)
}

// RevokeToken revokes one of the actor's tokens; it is refused at once.
func (s *Service) RevokeToken(ctx context.Context, a *Actor, id int64) error {
	u, err := s.tokenOwner(ctx, a, "")
	if err != nil {
		return err
	}
	return s.store.Tx(ctx, func(tx store.Tx) error {
		details, err := revokeToken(ctx, tx, u.ID, id, s.now())
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "token.revoke", "user:"+u.Username, details)
	})
}

// revokeToken revokes a token and every token made with it, and returns
// the audit details naming them.
func revokeToken(ctx context.Context, tx store.Tx, userID, id int64, at time.Time) (map[string]any, error) {
	if err := tx.RevokeToken(ctx, userID, id, at); err != nil {
		return nil, err
	}
	made, err := tx.RevokeDescendants(ctx, id, at)
	if err != nil {
		return nil, err
	}
	details := map[string]any{"token_id": id}
	if len(made) > 0 {
		details["tokens_made_with_it"] = made
	}
	return details, nil
}

// Authenticate resolves a bearer token to its user and the token itself.
// Unknown, revoked and expired tokens are all refused with the same
// message; a suspended user's tokens are refused saying so.
func (s *Service) Authenticate(ctx context.Context, secret string) (*domain.User, *domain.Token, error) {
	bad := domain.Errorf(domain.KindUnauthenticated, "the API token is invalid, expired or revoked: create a new one with `trel token create` or `trel admin create-token`")
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) != len(TokenPrefix)+43 {
		return nil, nil, bad
	}
	t, err := s.store.TokenByHash(ctx, hashToken(secret))
	if domain.IsKind(err, domain.KindNotFound) {
		return nil, nil, bad
	}
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	if !t.Active(now) {
		return nil, nil, bad
	}
	u, err := s.store.UserByID(ctx, t.UserID)
	if err != nil {
		return nil, nil, err
	}
	if u.SuspendedAt != nil {
		s.meter.Inc("refusal", "suspended")
		return nil, nil, domain.Errorf(domain.KindUnauthenticated, "this account is suspended: its API tokens are refused; ask an administrator of this trel server")
	}
	// Record use at most once a minute: a busy client must not turn every
	// request into a database write.
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		if err := s.store.TouchToken(ctx, t.ID, now); err != nil {
			s.log.Warn("recording token use", "token_id", t.ID, "err", err)
		}
	}
	return u, t, nil
}

// hashToken is SHA-256: tokens have 256 bits of entropy, so a slow password
// hash would add nothing.
func hashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Bootstrap creates the first administrator when the database has no user
// yet. It reports whether it did.
func (s *Service) Bootstrap(ctx context.Context, username, email string) (bool, error) {
	n, err := s.store.CountUsers(ctx)
	if err != nil || n > 0 {
		return false, err
	}
	_, err = s.CreateUser(ctx, SystemActor, NewUser{Username: username, Email: email, Name: "Administrator", Admin: true})
	if domain.IsKind(err, domain.KindConflict) {
		return false, nil // another process bootstrapped at the same moment
	}
	return err == nil, err
}
