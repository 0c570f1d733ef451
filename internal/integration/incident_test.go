package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"trel/internal/domain"
)

// TestIncidentResponse drives issue 11's operator story against a real
// server through the CLI (`trel admin ...` on the data directory) and the
// API: a suspended user is refused at once and comes back; any token can
// be revoked; a token cannot make a token that outlives it; a mistyped
// subcommand or data directory is a clear error.
func TestIncidentResponse(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	ops := newUser(t, "operator")
	admin := func(args ...string) string {
		t.Helper()
		return ops.ok(t, append(append([]string{"admin"}, args...), "--data", w.data)...)
	}

	// Suspend: alice's token is refused at once, with the reason.
	w.alice.ok(t, "release", "start", "widget", "1.0")
	admin("suspend", "alice")
	checkFailure(t, w.alice.run(t, "release", "list", "widget"), 1, "suspended")
	// Her work stays hers.
	var rel domain.Release
	w.admin.okJSON(t, &rel, "release", "show", "widget", "1.0")
	if rel.CreatedBy != "alice" {
		t.Fatalf("the release lost its author: %+v", rel)
	}
	// Through the API, an administrator sees and lifts the suspension.
	resp := rawRequest(t, "POST", w.srv.url+"/api/v1/users/alice/reactivate", w.bob.token, nil)
	expectError(t, "a committer reactivates", resp, 403, "forbidden")
	resp = rawRequest(t, "POST", w.srv.url+"/api/v1/users/alice/reactivate", w.admin.token, nil)
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("reactivate: %d", resp.StatusCode)
	}
	w.alice.ok(t, "release", "list", "widget")
	var notices []domain.Notice
	w.alice.okJSON(t, &notices, "notices")
	if len(notices) != 1 || !strings.Contains(notices[0].Message, "suspended") {
		t.Fatalf("notices: %+v", notices)
	}
	w.alice.ok(t, "notices", "dismiss", strconv.FormatInt(notices[0].ID, 10))

	// Tokens: listed and revoked by the operator.
	var listed struct{ Tokens []domain.Token }
	if err := json.Unmarshal([]byte(admin("tokens", "bob", "--json")), &listed); err != nil || len(listed.Tokens) != 1 {
		t.Fatalf("admin tokens: %+v %v", listed, err)
	}
	admin("revoke-token", strconv.FormatInt(listed.Tokens[0].ID, 10))
	checkFailure(t, w.bob.run(t, "release", "list", "widget"), 1, "invalid, expired or revoked")

	// Sessions and passkeys: empty lists through the API and the CLI.
	resp = rawRequest(t, "GET", w.srv.url+"/api/v1/users/carol/sessions", w.admin.token, nil)
	var sessions struct{ Sessions []domain.Session }
	json.NewDecoder(resp.Body).Decode(&sessions)
	resp.Body.Close()
	if resp.StatusCode != 200 || sessions.Sessions == nil {
		t.Fatalf("sessions: %d %+v", resp.StatusCode, sessions)
	}
	admin("sessions", "carol")
	admin("passkeys", "carol")
	checkFailure(t, ops.run(t, "admin", "end-session", "99", "--data", w.data), 1, "no session")
	checkFailure(t, ops.run(t, "admin", "remove-passkey", "x", "--data", w.data), 2, "not an id")

	// A token cannot outlive the token that made it.
	short := adminToken(t, w.data, "carol", "--expires", "2h")
	carol := newUser(t, "carol2").withToken(w.srv.url, short)
	var made struct {
		Token  domain.Token `json:"token"`
		Secret string       `json:"secret"`
	}
	carol.okJSON(t, &made, "token", "create", "--expires", "300d")
	if made.Token.ExpiresAt == nil || made.Token.ExpiresAt.After(time.Now().Add(2*time.Hour+time.Minute)) {
		t.Fatalf("child token expires %v, after its 2-hour parent", made.Token.ExpiresAt)
	}

	// Re-enrolling a user who has a passkey is never silent.
	addPasskey(t, w.data, "carol")
	r := ops.run(t, "admin", "enroll", "--username", "carol", "--data", w.data)
	if r.code != 0 || !strings.Contains(r.stderr, "re-enrollment") || !strings.Contains(r.stdout, "/enroll/") {
		t.Fatalf("admin enroll of a user with a passkey: %s", r)
	}
	enr, err := w.adminC.CreateEnrollment(ctx, "carol")
	if err != nil || enr.ExistingPasskeys != 1 {
		t.Fatalf("API re-enrollment: %+v %v", enr, err)
	}
	carol.okJSON(t, &notices, "notices")
	if len(notices) != 2 || !strings.Contains(notices[0].Message, "already have 1 passkey") {
		t.Fatalf("carol's notices: %+v", notices)
	}

	// Typos and missing directories.
	checkFailure(t, ops.run(t, "admin", "suspnd", "alice", "--data", w.data), 2, "suspend")
	missing := filepath.Join(t.TempDir(), "no-such-data")
	checkFailure(t, ops.run(t, "admin", "suspend", "alice", "--data", missing), 1, missing, "does not exist")
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("an admin command created a data directory")
	}
	if r := ops.run(t, "--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "trel ") {
		t.Fatalf("--version: %s", r)
	}
	// Every action above is in the audit log.
	evs, err := w.adminC.Audit(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range evs {
		seen[e.Action] = true
	}
	for _, a := range []string{"user.suspend", "user.reactivate", "token.revoke"} {
		if !seen[a] {
			t.Errorf("%s is not audited", a)
		}
	}
}
