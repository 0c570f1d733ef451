package auth

import (
	"context"
	"strings"
	"testing"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/store"
)

// TestSuspensionEndsSessionsAndEnrollmentLinks: a suspended user's
// session and open enrollment link are refused at once, and no new link
// can be made for them.
func TestSuspensionEndsSessionsAndEnrollmentLinks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice, err := e.svc.CreateUser(ctx, core.SystemActor, core.NewUser{Username: "alice", Email: "alice@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	link, _, err := e.a.CreateEnrollment(ctx, core.SystemActor, "alice")
	if err != nil {
		t.Fatal(err)
	}
	token := link[strings.LastIndexByte(link, '/')+1:]
	secret, err := e.a.newSession(ctx, alice, Client{IP: "192.0.2.9", UserAgent: "Chromium"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Session(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SuspendUser(ctx, &core.Actor{User: e.root}, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Session(ctx, secret); !domain.IsKind(err, domain.KindUnauthenticated) {
		t.Fatalf("session of a suspended user: %v", err)
	}
	if _, err := e.a.Enrollment(ctx, token); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("enrollment link of a suspended user: %v", err)
	}
	if _, _, err := e.a.BeginEnrollment(ctx, token, "key"); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("enrolling a suspended user: %v", err)
	}
	if _, _, err := e.a.CreateEnrollment(ctx, core.SystemActor, "alice"); !domain.IsKind(err, domain.KindConflict) {
		t.Fatalf("new link for a suspended user: %v", err)
	}
	// A user agent is stored bounded and valid.
	long := strings.Repeat("é", 400) + "\xff"
	if got := (Client{UserAgent: long}).userAgent(); len(got) > maxUserAgent || !strings.HasPrefix(got, "éé") {
		t.Fatalf("user agent stored as %d bytes", len(got))
	}
}

// TestReEnrollmentIsNeverSilent: a link for a user who already has a
// passkey is audited as such and leaves them a notice.
func TestReEnrollmentIsNeverSilent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bob, err := e.svc.CreateUser(ctx, core.SystemActor, core.NewUser{Username: "bob", Email: "bob@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.a.CreateEnrollment(ctx, &core.Actor{User: e.root}, "bob"); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.svc.Notices(ctx, &core.Actor{User: bob}); len(n) != 0 {
		t.Fatalf("first enrollment left a notice: %+v", n)
	}
	pk := &store.Passkey{UserID: bob.ID, Name: "laptop", CredentialID: []byte("cred-1"), Credential: []byte("{}"), CreatedAt: e.clock()}
	if err := e.st.AddPasskey(ctx, pk, 0, e.clock(), domain.AuditEvent{Time: e.clock(), Actor: "test", Action: "passkey.add", Target: "user:bob"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.a.CreateEnrollment(ctx, &core.Actor{User: e.root}, "bob"); err != nil {
		t.Fatal(err)
	}
	n, err := e.svc.Notices(ctx, &core.Actor{User: bob})
	if err != nil || len(n) != 1 || !strings.Contains(n[0].Message, "already have 1 passkey") {
		t.Fatalf("notices: %+v %v", n, err)
	}
	evs, _ := e.svc.AuditLog(ctx, core.SystemActor, 10)
	if evs[0].Action != "enrollment.create" || evs[0].Details["existing_passkeys"] == nil {
		t.Fatalf("re-enrollment audit: %+v", evs[0])
	}
}
