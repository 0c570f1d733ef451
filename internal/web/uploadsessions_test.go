package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"trel/internal/core"
	"trel/internal/domain"
)

// TestResumableUploadsOnTheReleasePage: the release page lists the
// signed-in user's resumable uploads (and nobody else's) with what the
// server received; aborting one needs its confirmation; another user
// cannot abort it.
func TestResumableUploadsOnTheReleasePage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sys := core.SystemActor
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := f.app.Core.CreateCommittee(ctx, sys, "widget", "Widget")
	must(err)
	_, err = f.app.Core.CreateProject(ctx, sys, "widget", "widget", "Widget")
	must(err)
	_, err = f.app.Core.CreateUser(ctx, sys, core.NewUser{Username: "carol", Email: "carol@example.org"})
	must(err)
	_, err = f.app.Core.AddMember(ctx, sys, "widget", "carol", domain.RoleCommitter)
	must(err)
	admin := &core.Actor{User: f.admin}
	_, err = f.app.Core.StartRelease(ctx, admin, "widget", "1.0")
	must(err)
	s, err := f.app.Core.StartUploadSession(ctx, admin, "widget", "1.0", core.NewUploadSession{Path: "dist/big &' quoted.tar.gz", Size: 20 << 20})
	must(err)
	rel := "/projects/widget/releases/1.0"
	cookie := f.session(f.admin)
	body := f.do(req{method: "GET", path: rel, cookie: cookie}).Body.String()
	action := rel + "/upload-sessions/" + s.ID + "/abort"
	for _, want := range []string{`<h2 id="resumable">Your resumable uploads</h2>`, "<bdi>dist/big &amp;&#39; quoted.tar.gz</bdi>", "0 B of 20.0 MiB", `action="` + action + `"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("the release page lacks %q", want)
		}
	}
	carol, err := f.app.Store.UserByUsername(ctx, "carol")
	must(err)
	carolCookie := f.session(carol)
	if strings.Contains(f.do(req{method: "GET", path: rel, cookie: carolCookie}).Body.String(), "Your resumable uploads") {
		t.Fatal("carol sees the administrator's upload")
	}
	open := func() bool {
		_, err := f.app.Core.UploadSession(ctx, admin, "widget", "1.0", s.ID)
		return err == nil
	}
	f.do(req{method: "POST", path: action, cookie: carolCookie, form: url.Values{"confirm": {"yes"}, "path": {"x"}}})
	if !open() {
		t.Fatal("carol aborted the administrator's upload")
	}
	rec := f.do(req{method: "POST", path: action, cookie: cookie, form: url.Values{"path": {"dist/big.tar.gz"}}})
	if !open() || rec.Code != http.StatusSeeOther {
		t.Fatalf("aborted without the confirmation (%d)", rec.Code)
	}
	rec = f.do(req{method: "POST", path: action, cookie: cookie, form: url.Values{"confirm": {"yes"}, "path": {"dist/big.tar.gz"}}})
	if open() || rec.Code != http.StatusSeeOther {
		t.Fatalf("the confirmed abort: %d, still open: %v", rec.Code, open())
	}
	if strings.Contains(f.do(req{method: "GET", path: rel, cookie: cookie}).Body.String(), "Your resumable uploads") {
		t.Fatal("the aborted upload is still listed")
	}
}
