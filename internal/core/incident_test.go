package core_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/store"
)

func (w *keyWorld) token(t *testing.T, user string, ttl time.Duration) (string, *domain.Token) {
	t.Helper()
	secret, tok, err := w.svc.CreateToken(context.Background(), core.SystemActor, user, "t", ttl)
	if err != nil {
		t.Fatal(err)
	}
	return secret, tok
}

func (w *keyWorld) passkey(t *testing.T, user, name string) int64 {
	t.Helper()
	id := make([]byte, 16)
	rand.Read(id)
	pk := &store.Passkey{UserID: w.actors[user].User.ID, Name: name, CredentialID: id, Credential: []byte("{}"), CreatedAt: time.Now()}
	if err := w.db.AddPasskey(context.Background(), pk, 0, time.Now(), domain.AuditEvent{Time: time.Now(), Actor: "test", Action: "passkey.add", Target: "user:" + user}); err != nil {
		t.Fatal(err)
	}
	return pk.ID
}

func (w *keyWorld) session(t *testing.T, user string, passkeyID int64) []byte {
	t.Helper()
	hash := make([]byte, 32)
	rand.Read(hash)
	s := &store.WebSession{Hash: hash, UserID: w.actors[user].User.ID, CreatedAt: time.Now(), LastSeenAt: time.Now(),
		ClientIP: "198.51.100.7", UserAgent: "Firefox/140", PasskeyID: passkeyID}
	if err := w.db.CreateSession(context.Background(), s, domain.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	return hash
}

func (w *keyWorld) sessionAlive(hash []byte) bool {
	_, err := w.db.SessionByHash(context.Background(), hash)
	return err == nil
}

func (w *keyWorld) audited(t *testing.T, action string) bool {
	t.Helper()
	evs, err := w.svc.AuditLog(context.Background(), w.actors["admin"], 200)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Action == action {
			return true
		}
	}
	return false
}

// TestTokenCannotOutliveItsParent: a token made with a token expires at
// the latest when its parent does; a shorter one keeps its own expiry.
func TestTokenCannotOutliveItsParent(t *testing.T) {
	ctx := context.Background()
	w := newKeyWorld(t, core.Limits{})
	secret, parent := w.token(t, "bob", 24*time.Hour)
	u, tok, err := w.svc.Authenticate(ctx, secret)
	if err != nil || tok.ID != parent.ID {
		t.Fatalf("authenticate: %v", err)
	}
	act := &core.Actor{User: u, Token: tok}
	_, child, err := w.svc.CreateToken(ctx, act, "", "child", 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if child.ExpiresAt.After(*parent.ExpiresAt) {
		t.Fatalf("child expires %s, after its parent %s", child.ExpiresAt, parent.ExpiresAt)
	}
	_, short, err := w.svc.CreateToken(ctx, act, "", "short", time.Hour)
	if err != nil || !short.ExpiresAt.Before(*parent.ExpiresAt) {
		t.Fatalf("a shorter child: %+v %v", short, err)
	}
}

// TestRevokingATokenRevokesTheTokensMadeWithIt: a leaked token that was
// used to make more tokens is cut off whole, by its owner or an
// administrator: its children and grandchildren are refused at once,
// tokens made otherwise keep working, and the audit event names them.
func TestRevokingATokenRevokesTheTokensMadeWithIt(t *testing.T) {
	ctx := context.Background()
	w := newKeyWorld(t, core.Limits{})
	actorOf := func(secret string) *core.Actor {
		t.Helper()
		u, tok, err := w.svc.Authenticate(ctx, secret)
		if err != nil {
			t.Fatalf("authenticate: %v", err)
		}
		return &core.Actor{User: u, Token: tok}
	}
	for _, byAdmin := range []bool{false, true} {
		leaked, parent := w.token(t, "bob", 24*time.Hour)
		otherSecret, _ := w.token(t, "bob", 24*time.Hour)
		childSecret, child, err := w.svc.CreateToken(ctx, actorOf(leaked), "", "child", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		grandSecret, grand, err := w.svc.CreateToken(ctx, actorOf(childSecret), "", "grandchild", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if byAdmin {
			err = w.svc.RevokeAnyToken(ctx, w.actors["admin"], parent.ID)
		} else {
			err = w.svc.RevokeToken(ctx, actorOf(otherSecret), parent.ID)
		}
		if err != nil {
			t.Fatal(err)
		}
		for name, secret := range map[string]string{"parent": leaked, "child": childSecret, "grandchild": grandSecret} {
			if _, _, err := w.svc.Authenticate(ctx, secret); err == nil {
				t.Errorf("admin %v: the %s of the revoked token still works", byAdmin, name)
			}
		}
		if _, _, err := w.svc.Authenticate(ctx, otherSecret); err != nil {
			t.Fatalf("a token made otherwise was revoked: %v", err)
		}
		evs, err := w.svc.AuditLog(ctx, w.actors["admin"], 5)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range evs {
			if e.Action == "token.revoke" && fmt.Sprint(e.Details["tokens_made_with_it"]) == fmt.Sprint([]any{float64(child.ID), float64(grand.ID)}) {
				found = true
			}
		}
		if !found {
			t.Fatalf("admin %v: the audit event does not name the tokens made with it: %+v", byAdmin, evs)
		}
	}
}

// TestSuspendedUserIsRefusedEverywhere: tokens, sessions and server-side
// signing refused at once; what they made stays theirs; reactivation
// restores the tokens and leaves a notice.
func TestSuspendedUserIsRefusedEverywhere(t *testing.T) {
	ctx := context.Background()
	w := newKeyWorld(t, core.Limits{})
	secret, _ := w.token(t, "alice", 24*time.Hour)
	fpr := w.newKey(t, "alice")
	pk := w.passkey(t, "alice", "laptop")
	sess := w.session(t, "alice", pk)

	if err := w.svc.SuspendUser(ctx, w.actors["bob"], "alice"); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("a non-administrator suspends: %v", err)
	}
	if err := w.svc.SuspendUser(ctx, w.actors["admin"], "admin"); err == nil {
		t.Fatal("an administrator suspended themselves")
	}
	if err := w.svc.SuspendUser(ctx, w.actors["admin"], "alice"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.svc.Authenticate(ctx, secret); !domain.IsKind(err, domain.KindUnauthenticated) || !strings.Contains(err.Error(), "suspended") {
		t.Fatalf("a suspended user's token: %v", err)
	}
	if w.sessionAlive(sess) {
		t.Fatal("the suspended user's session survived")
	}
	// An actor loaded before the suspension (a request in flight) is
	// refused too once it reaches the core with the fresh user.
	u, _ := w.svc.Store().UserByUsername(ctx, "alice")
	suspended := &core.Actor{User: u}
	if _, err := w.svc.BeginSigning(ctx, suspended, "alpha-lib", "1.0", fpr, nil, ""); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("server-side signing while suspended: %v", err)
	}
	if _, err := w.svc.StartRelease(ctx, suspended, "alpha-lib", "2.0"); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("starting a release while suspended: %v", err)
	}
	// What alice made is still hers.
	rel, err := w.svc.Release(ctx, w.actors["admin"], "alpha-lib", "1.0")
	if err != nil || rel.CreatedBy != "alice" {
		t.Fatalf("the release lost its author: %+v %v", rel, err)
	}
	if err := w.svc.SuspendUser(ctx, w.actors["admin"], "alice"); !domain.IsKind(err, domain.KindConflict) {
		t.Fatalf("suspending twice: %v", err)
	}
	if !w.audited(t, "user.suspend") {
		t.Fatal("suspension not audited")
	}

	if err := w.svc.ReactivateUser(ctx, w.actors["admin"], "alice"); err != nil {
		t.Fatal(err)
	}
	u, tok, err := w.svc.Authenticate(ctx, secret)
	if err != nil {
		t.Fatalf("token after reactivation: %v", err)
	}
	notices, err := w.svc.Notices(ctx, &core.Actor{User: u, Token: tok})
	if err != nil || len(notices) != 1 || !strings.Contains(notices[0].Message, "suspended") {
		t.Fatalf("notices: %+v %v", notices, err)
	}
	if err := w.svc.DismissNotice(ctx, &core.Actor{User: u}, notices[0].ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := w.svc.Notices(ctx, &core.Actor{User: u}); len(n) != 0 {
		t.Fatalf("dismissed notice still shown: %+v", n)
	}
	if err := w.svc.DismissNotice(ctx, w.actors["bob"], notices[0].ID); !domain.IsKind(err, domain.KindNotFound) {
		t.Fatalf("dismissing someone else's notice: %v", err)
	}
	if !w.audited(t, "user.reactivate") {
		t.Fatal("reactivation not audited")
	}
}

// TestAdministratorsEndSessionsRevokeTokensRemovePasskeys: the incident
// actions on another user, each audited and noticed; removing a passkey
// ends exactly the sessions opened with it.
func TestAdministratorsEndSessionsRevokeTokensRemovePasskeys(t *testing.T) {
	ctx := context.Background()
	w := newKeyWorld(t, core.Limits{})
	admin := w.actors["admin"]
	laptop, phone := w.passkey(t, "alice", "laptop"), w.passkey(t, "alice", "phone")
	s1, s2, s3 := w.session(t, "alice", laptop), w.session(t, "alice", laptop), w.session(t, "alice", phone)

	sessions, err := w.svc.UserSessions(ctx, admin, "alice")
	if err != nil || len(sessions) != 3 {
		t.Fatalf("sessions: %+v %v", sessions, err)
	}
	for _, s := range sessions {
		if s.ClientIP != "198.51.100.7" || s.UserAgent != "Firefox/140" || (s.Passkey != "laptop" && s.Passkey != "phone") {
			t.Fatalf("session without its details: %+v", s)
		}
	}
	if _, err := w.svc.UserSessions(ctx, w.actors["bob"], "alice"); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("a non-administrator lists sessions: %v", err)
	}
	// End the phone's session by id.
	var phoneSession int64
	for _, s := range sessions {
		if s.PasskeyID == phone {
			phoneSession = s.ID
		}
	}
	if err := w.svc.EndSession(ctx, w.actors["bob"], phoneSession); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("a non-administrator ends a session: %v", err)
	}
	if err := w.svc.EndSession(ctx, admin, phoneSession); err != nil {
		t.Fatal(err)
	}
	if w.sessionAlive(s3) || !w.sessionAlive(s1) {
		t.Fatal("ending one session ended the wrong ones")
	}
	if err := w.svc.EndSession(ctx, admin, phoneSession); !domain.IsKind(err, domain.KindNotFound) {
		t.Fatalf("ending it again: %v", err)
	}
	// Remove the laptop passkey: both its sessions end.
	if _, err := w.svc.RemoveAnyPasskey(ctx, w.actors["bob"], laptop); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("a non-administrator removes a passkey: %v", err)
	}
	ended, err := w.svc.RemoveAnyPasskey(ctx, admin, laptop)
	if err != nil || ended != 2 || w.sessionAlive(s1) || w.sessionAlive(s2) {
		t.Fatalf("removing the passkey ended %d sessions: %v", ended, err)
	}
	keys, _ := w.svc.UserPasskeys(ctx, admin, "alice")
	if len(keys) != 1 || keys[0].ID != phone {
		t.Fatalf("passkeys left: %+v", keys)
	}
	// The last one can be removed by an administrator.
	if _, err := w.svc.RemoveAnyPasskey(ctx, admin, phone); err != nil {
		t.Fatalf("removing the last passkey: %v", err)
	}
	// Revoke any user's token.
	secret, tok := w.token(t, "alice", time.Hour)
	if err := w.svc.RevokeAnyToken(ctx, w.actors["bob"], tok.ID); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("a non-administrator revokes a token: %v", err)
	}
	list, err := w.svc.UserTokens(ctx, admin, "alice")
	if err != nil || len(list) != 1 {
		t.Fatalf("tokens: %+v %v", list, err)
	}
	if err := w.svc.RevokeAnyToken(ctx, admin, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.svc.Authenticate(ctx, secret); !domain.IsKind(err, domain.KindUnauthenticated) {
		t.Fatalf("revoked token: %v", err)
	}
	for _, action := range []string{"session.end", "passkey.remove", "token.revoke"} {
		if !w.audited(t, action) {
			t.Fatalf("%s not audited", action)
		}
	}
	notices, _ := w.svc.Notices(ctx, w.actors["alice"])
	if len(notices) != 4 {
		t.Fatalf("alice has %d notices, want 4 (session, 2 passkeys, token): %+v", len(notices), notices)
	}
}
