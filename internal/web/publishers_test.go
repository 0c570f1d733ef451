package web_test

import (
	"context"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"trel/internal/core"
	"trel/internal/domain"
)

// TestPublishersPage: committee members trust CI workflows on the web;
// a refused form comes back with the error next to its field and what was
// typed kept; removing needs the confirmation box.
func TestPublishersPage(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	svc := f.app.Core
	sys := core.SystemActor
	member, err := svc.CreateUser(ctx, sys, core.NewUser{Username: "mia", Email: "mia@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	committer, err := svc.CreateUser(ctx, sys, core.NewUser{Username: "cole", Email: "cole@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateCommittee(ctx, sys, "widget", "Widget"); err != nil {
		t.Fatal(err)
	}
	for name, role := range map[string]domain.Role{"mia": domain.RoleMember, "cole": domain.RoleCommitter} {
		if _, err := svc.AddMember(ctx, sys, "widget", name, role); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.CreateProject(ctx, sys, "widget-lib", "widget", "Widget <Lib>"); err != nil {
		t.Fatal(err)
	}
	ms, cs := f.session(member), f.session(committer)
	const page = "/projects/widget-lib/publishers"

	anon := f.do(req{method: "GET", path: page})
	if anon.Code != 200 || !strings.Contains(anon.Body.String(), "No CI workflow is trusted yet") || strings.Contains(anon.Body.String(), "Trust this workflow") {
		t.Fatalf("anonymous view: %d\n%s", anon.Code, anon.Body)
	}
	if got := f.do(req{method: "GET", path: page, cookie: cs}); strings.Contains(got.Body.String(), "Trust this workflow") {
		t.Fatal("a committer is offered the form")
	}

	bad := url.Values{"issuer": {domain.GitHubActionsIssuer}, "repository": {"widget/lib"}, "workflow": {".github/workflows/release.yml@main"},
		"ref": {"refs/tags/v*"}, "actions": {"compose", "publish"}}
	rec := f.do(req{method: "POST", path: page, cookie: ms, form: bad})
	body := rec.Body.String()
	if rec.Code != 400 {
		t.Fatalf("a bad workflow: %d\n%s", rec.Code, body)
	}
	if !regexp.MustCompile(`id="pub-workflow" name="workflow"[^>]*value="\.github/workflows/release\.yml@main"[^>]*aria-invalid="true"`).MatchString(body) ||
		!strings.Contains(body, `<p class="field-error" id="pub-workflow-error" role="alert">`) || !strings.Contains(body, `value="widget/lib"`) ||
		!strings.Contains(body, `value="refs/tags/v*"`) || !regexp.MustCompile(`value="publish" checked`).MatchString(body) {
		t.Fatalf("the refused form does not show its error next to the field with the typed values:\n%s", body)
	}
	bad.Set("workflow", ".github/workflows/release.yml")
	bad.Del("actions")
	if rec := f.do(req{method: "POST", path: page, cookie: ms, form: bad}); rec.Code != 400 || !strings.Contains(rec.Body.String(), `id="pub-actions-error"`) {
		t.Fatalf("no action: %d\n%s", rec.Code, rec.Body)
	}
	bad["actions"] = []string{"compose", "publish"}
	if rec := f.do(req{method: "POST", path: page, cookie: cs, form: bad}); rec.Code != 403 {
		t.Fatalf("a committer added a publisher: %d", rec.Code)
	}
	if rec := f.do(req{method: "POST", path: page, cookie: ms, form: bad}); rec.Code != 303 {
		t.Fatalf("adding: %d\n%s", rec.Code, rec.Body)
	}
	pol, _ := svc.Policy(ctx, sys, "widget-lib")
	if len(pol.Publishers) != 1 {
		t.Fatalf("publishers %v", pol.Publishers)
	}
	id := pol.Publishers[0].ID
	list := f.do(req{method: "GET", path: page, cookie: ms}).Body.String()
	if !strings.Contains(list, "<bdi>widget/lib</bdi>") || !strings.Contains(list, "compose, publish") || !strings.Contains(list, "<bdi>Widget &lt;Lib&gt;</bdi>") {
		t.Fatalf("list:\n%s", list)
	}
	remove := page + "/" + strconv.FormatInt(id, 10) + "/remove"
	f.do(req{method: "POST", path: remove, cookie: ms, form: url.Values{}})
	if pol, _ := svc.Policy(ctx, sys, "widget-lib"); len(pol.Publishers) != 1 {
		t.Fatal("removed without the confirmation box")
	}
	f.do(req{method: "POST", path: remove, cookie: ms, form: url.Values{"confirm": {"yes"}}})
	if pol, _ := svc.Policy(ctx, sys, "widget-lib"); len(pol.Publishers) != 0 {
		t.Fatal("not removed with the confirmation box")
	}
}

// TestIssuersPage: administrators only; errors next to the field.
func TestIssuersPage(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u, err := f.app.Core.CreateUser(ctx, core.SystemActor, core.NewUser{Username: "ursula", Email: "u@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if rec := f.do(req{method: "GET", path: "/admin/issuers", cookie: f.session(u)}); rec.Code != 403 {
		t.Fatalf("a user sees the issuers page: %d", rec.Code)
	}
	as := f.session(f.admin)
	page := f.do(req{method: "GET", path: "/admin/issuers", cookie: as}).Body.String()
	if !strings.Contains(page, domain.GitHubActionsIssuer) || !strings.Contains(page, "built in") {
		t.Fatalf("issuers page:\n%s", page)
	}
	rec := f.do(req{method: "POST", path: "/admin/issuers", cookie: as, form: url.Values{"url": {"http://ci.example.org"}, "kind": {"gitlab"}}})
	if body := rec.Body.String(); rec.Code != 400 || !strings.Contains(body, `id="is-url-error"`) || !strings.Contains(body, `value="http://ci.example.org"`) ||
		!strings.Contains(body, `<option value="gitlab" selected>`) {
		t.Fatalf("a plain-http issuer: %d\n%s", rec.Code, body)
	}
	if rec := f.do(req{method: "POST", path: "/admin/issuers", cookie: as, form: url.Values{"url": {"https://ci.example.org"}, "kind": {"gitlab"}}}); rec.Code != 303 {
		t.Fatalf("adding: %d\n%s", rec.Code, rec.Body)
	}
	f.do(req{method: "POST", path: "/admin/issuers/remove", cookie: as, form: url.Values{"url": {"https://ci.example.org"}}})
	if is, _ := f.app.Core.OIDCIssuers(ctx, core.Anonymous); len(is) != 3 {
		t.Fatalf("removed without confirmation: %v", is)
	}
	f.do(req{method: "POST", path: "/admin/issuers/remove", cookie: as, form: url.Values{"url": {"https://ci.example.org"}, "confirm": {"yes"}}})
	if is, _ := f.app.Core.OIDCIssuers(ctx, core.Anonymous); len(is) != 2 {
		t.Fatalf("not removed: %v", is)
	}
}
