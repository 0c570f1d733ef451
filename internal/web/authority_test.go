package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/signing"
)

// TestReleaseManagerAndRestoreFormsWithoutJavaScript drives the new forms
// as a browser without JavaScript would: a non-participant cannot be made
// release manager, removing one needs the confirmation box, and an
// administrator restores a deleted key.
func TestReleaseManagerAndRestoreFormsWithoutJavaScript(t *testing.T) {
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
	for _, u := range []string{"bob", "carol"} {
		_, err = f.app.Core.CreateUser(ctx, sys, core.NewUser{Username: u, Email: u + "@example.org"})
		must(err)
	}
	_, err = f.app.Core.AddMember(ctx, sys, "widget", "carol", domain.RoleCommitter)
	must(err)
	_, err = f.app.Core.StartRelease(ctx, &core.Actor{User: f.admin}, "widget", "1.0")
	must(err)
	cookie := f.session(f.admin)
	post := func(path string, form url.Values) {
		t.Helper()
		rec := f.do(req{method: "POST", path: path, cookie: cookie, form: form})
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("POST %s: %d\n%s", path, rec.Code, rec.Body)
		}
	}
	managers := func() string {
		rms, err := f.app.Core.ReleaseManagers(ctx, sys, "widget", "1.0")
		must(err)
		return strings.Join(rms, ",")
	}
	rel := "/projects/widget/releases/1.0"
	page := f.do(req{method: "GET", path: rel, cookie: cookie})
	if page.Code != 200 || !strings.Contains(page.Body.String(), `action="/projects/widget/releases/1.0/managers"`) {
		t.Fatalf("the release page has no release-manager form: %d", page.Code)
	}
	// bob is not on the committee: the page comes back with the refusal
	// next to the field and bob's name still typed in it.
	rec := f.do(req{method: "POST", path: rel + "/managers", cookie: cookie, form: url.Values{"username": {"bob"}}})
	body := rec.Body.String()
	if rec.Code != http.StatusBadRequest || !strings.Contains(body, `id="add-manager-username-error"`) || !strings.Contains(body, `value="bob" aria-invalid="true"`) {
		t.Fatalf("a refused release manager: %d\n%s", rec.Code, body)
	}
	post(rel+"/managers", url.Values{"username": {"carol"}})
	if managers() != "admin,carol" {
		t.Fatalf("managers %s", managers())
	}
	post(rel+"/managers/carol/remove", url.Values{})
	if managers() != "admin,carol" {
		t.Fatal("removed without confirmation")
	}
	post(rel+"/managers/carol/remove", url.Values{"confirm": {"yes"}})
	if managers() != "admin" {
		t.Fatalf("managers %s", managers())
	}

	g, err := signing.Generate(signing.GenerateOptions{Name: "Bob", Email: "bob@example.org"})
	must(err)
	bob, _ := f.app.Store.UserByUsername(ctx, "bob")
	_, err = f.app.Core.AddKeys(ctx, &core.Actor{User: bob}, g.PublicKey, core.AddKeysOptions{})
	must(err)
	must(f.app.Core.DeleteKey(ctx, &core.Actor{User: bob}, g.Fingerprint))
	post("/admin/keys/restore", url.Values{"fingerprint": {g.Fingerprint}})
	if k, _ := f.app.Core.Key(ctx, sys, g.Fingerprint); k.DeletedAt != nil {
		t.Fatal("the administrator's form did not restore the key")
	}
	// Another user's session cannot use the form.
	must(f.app.Core.DeleteKey(ctx, &core.Actor{User: bob}, g.Fingerprint))
	rec = f.do(req{method: "POST", path: "/admin/keys/restore", cookie: f.session(bob), form: url.Values{"fingerprint": {g.Fingerprint}}})
	if k, _ := f.app.Core.Key(ctx, sys, g.Fingerprint); k.DeletedAt == nil || rec.Code != http.StatusSeeOther {
		t.Fatalf("a non-administrator restored the key (%d)", rec.Code)
	}
}
