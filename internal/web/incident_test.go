package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/store"
)

// TestAdminUserPageActsOnlyWhenConfirmed: the administrator's page of a
// user lists sessions, tokens and passkeys; suspending, ending a session,
// revoking a token and removing a passkey need the confirmation box; the
// user finds notices of it on their next page and can dismiss them.
func TestAdminUserPageActsOnlyWhenConfirmed(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	admin := f.session(f.admin)
	svc := f.app.Core
	bob, err := svc.CreateUser(ctx, core.SystemActor, core.NewUser{Username: "bob", Email: "bob@example.org", Name: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := svc.CreateToken(ctx, core.SystemActor, "bob", "laptop-cli", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pk := &store.Passkey{UserID: bob.ID, Name: "yubikey", CredentialID: []byte("cred"), Credential: []byte("{}"), CreatedAt: f.clock()}
	if err := f.app.Store.AddPasskey(ctx, pk, 0, f.clock(), domain.AuditEvent{Time: f.clock(), Actor: "t", Action: "passkey.add", Target: "user:bob"}); err != nil {
		t.Fatal(err)
	}
	bobCookie := f.session(bob)

	page := f.do(req{method: "GET", path: "/admin/users/bob", cookie: admin})
	body := page.Body.String()
	if page.Code != 200 || !strings.Contains(body, "laptop-cli") || !strings.Contains(body, "yubikey") || !strings.Contains(body, `name="confirm"`) {
		t.Fatalf("user page %d:\n%s", page.Code, body)
	}
	if rec := f.do(req{method: "GET", path: "/admin/users/bob", cookie: bobCookie}); rec.Code != http.StatusForbidden {
		t.Fatalf("a non-administrator sees the user page: %d", rec.Code)
	}
	post := func(path string, confirm bool) *domain.User {
		form := url.Values{}
		if confirm {
			form.Set("confirm", "yes")
		}
		rec := f.do(req{method: "POST", path: path, cookie: admin, form: form})
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("POST %s: %d", path, rec.Code)
		}
		u, _ := f.app.Store.UserByUsername(ctx, "bob")
		return u
	}
	if u := post("/admin/users/bob/suspend", false); u.SuspendedAt != nil {
		t.Fatal("suspended without confirmation")
	}
	if u := post("/admin/users/bob/suspend", true); u.SuspendedAt == nil {
		t.Fatal("not suspended")
	}
	// Bob's browser is signed out at once.
	if rec := f.do(req{method: "GET", path: "/account", cookie: bobCookie}); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
		t.Fatalf("suspended user's page: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	if u := post("/admin/users/bob/reactivate", true); u.SuspendedAt != nil {
		t.Fatal("not reactivated")
	}
	post("/admin/users/bob/tokens/"+itoa(tok.ID)+"/revoke", false)
	if ts, _ := svc.UserTokens(ctx, core.SystemActor, "bob"); ts[0].RevokedAt != nil {
		t.Fatal("revoked without confirmation")
	}
	post("/admin/users/bob/tokens/"+itoa(tok.ID)+"/revoke", true)
	if ts, _ := svc.UserTokens(ctx, core.SystemActor, "bob"); ts[0].RevokedAt == nil {
		t.Fatal("not revoked")
	}
	bobCookie = f.session(bob)
	post("/admin/users/bob/passkeys/"+itoa(pk.ID)+"/remove", true)
	if ks, _ := svc.UserPasskeys(ctx, core.SystemActor, "bob"); len(ks) != 0 {
		t.Fatal("passkey not removed")
	}

	// Bob sees notices on his next page and dismisses one.
	home := f.do(req{method: "GET", path: "/tokens", cookie: bobCookie})
	hb := home.Body.String()
	if !strings.Contains(hb, "suspended by an administrator") || !strings.Contains(hb, "revoked your API token") || !strings.Contains(hb, "/dismiss") {
		t.Fatalf("notices not shown:\n%s", hb)
	}
	ns, _ := svc.Notices(ctx, &core.Actor{User: bob})
	rec := f.do(req{method: "POST", path: "/notices/" + itoa(ns[0].ID) + "/dismiss", cookie: bobCookie, form: url.Values{"back": {"/tokens"}}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/tokens" {
		t.Fatalf("dismiss: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	if left, _ := svc.Notices(ctx, &core.Actor{User: bob}); len(left) != len(ns)-1 {
		t.Fatalf("%d notices left of %d", len(left), len(ns))
	}
	// An off-site "back" is not followed.
	rec = f.do(req{method: "POST", path: "/notices/" + itoa(ns[1].ID) + "/dismiss", cookie: bobCookie, form: url.Values{"back": {"//evil.example/"}}})
	if rec.Header().Get("Location") != "/" {
		t.Fatalf("dismiss redirected to %s", rec.Header().Get("Location"))
	}
}

// TestReEnrollmentWarnsTheAdministrator: the enrollment link of a user who
// already has a passkey comes with a warning on the admin page.
func TestReEnrollmentWarnsTheAdministrator(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	admin := f.session(f.admin)
	bob, err := f.app.Core.CreateUser(ctx, core.SystemActor, core.NewUser{Username: "bob", Email: "bob@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	first := f.do(req{method: "POST", path: "/admin/users/bob/enroll", cookie: admin, form: url.Values{}})
	if strings.Contains(first.Body.String(), "reenroll-warning") {
		t.Fatal("a first enrollment warns")
	}
	pk := &store.Passkey{UserID: bob.ID, Name: "laptop", CredentialID: []byte("c1"), Credential: []byte("{}"), CreatedAt: f.clock()}
	if err := f.app.Store.AddPasskey(ctx, pk, 0, f.clock(), domain.AuditEvent{Time: f.clock(), Actor: "t", Action: "passkey.add", Target: "user:bob"}); err != nil {
		t.Fatal(err)
	}
	again := f.do(req{method: "POST", path: "/admin/users/bob/enroll", cookie: admin, form: url.Values{}})
	if !strings.Contains(again.Body.String(), "reenroll-warning") || !strings.Contains(again.Body.String(), "already has 1 passkey") {
		t.Fatalf("no warning:\n%s", again.Body.String())
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
