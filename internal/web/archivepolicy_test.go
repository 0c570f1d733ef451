package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"trel/internal/core"
)

// TestArchivePolicyAndIncubatingForms: the policy form saves the archive
// and licence fields (and refuses bad ones with the reason), and an
// administrator marks a committee as incubating from its page.
func TestArchivePolicyAndIncubatingForms(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := &core.Actor{User: f.admin}
	if _, err := f.app.Core.CreateCommittee(ctx, admin, "alpha", "Alpha"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Core.CreateProject(ctx, admin, "alpha-lib", "alpha", "Lib"); err != nil {
		t.Fatal(err)
	}
	cookie := f.session(f.admin)
	form := url.Values{"require": {"any"}, "signers": {"participants"}, "checksum_algorithms": {"sha512"}, "accept_openpgp": {"on"},
		"source_patterns": {"*-src.*"}, "binary_patterns": {"*-bin.*"}, "min_rsa_bits": {"4096"}, "min_vote_hours": {"72"},
		"min_binding_plus_ones": {"3"}, "license": {"MIT"}, "allowed_licenses": {"MIT, BSD-3-Clause"},
		"source_repo": {"https://git.example.org/alpha.git"}, "source_tag": {"v{version}"},
		"source_allow": {"configure\ndocs/**"}, "header_ignore": {"gen/"}, "max_unpacked_size": {"1000000"}, "max_members": {"100"}, "max_ratio": {"50"}}
	post := func(path string, form url.Values) *http.Response {
		rec := f.do(req{method: "POST", path: path, cookie: cookie, form: form, headers: map[string]string{"Sec-Fetch-Site": "same-origin"}})
		return rec.Result()
	}
	if res := post("/projects/alpha-lib/policy", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d", res.StatusCode)
	}
	pol, err := f.app.Core.Policy(ctx, admin, "alpha-lib")
	if err != nil {
		t.Fatal(err)
	}
	a := pol.Archive
	if a.License != "MIT" || strings.Join(a.AllowedLicenses, ",") != "MIT,BSD-3-Clause" || a.SourceRepo != "https://git.example.org/alpha.git" ||
		a.SourceTag != "v{version}" || strings.Join(a.SourceAllow, "|") != "configure|docs/**" || a.HeaderIgnore[0] != "gen/" ||
		a.MaxUnpackedSize != 1000000 || a.MaxMembers != 100 || a.MaxRatio != 50 {
		t.Fatalf("%+v", a)
	}
	page := f.do(req{method: "GET", path: "/projects/alpha-lib/policy", cookie: cookie}).Body.String()
	if !strings.Contains(page, `value="v{version}"`) || !strings.Contains(page, "https://git.example.org/alpha.git") {
		t.Fatal("the page does not show the archive fields")
	}
	form.Set("source_repo", "file:///etc")
	post("/projects/alpha-lib/policy", form)
	if pol, _ := f.app.Core.Policy(ctx, admin, "alpha-lib"); pol.Archive.SourceRepo != "https://git.example.org/alpha.git" {
		t.Fatal("a file:// repository was accepted")
	}

	if res := post("/committees/alpha/incubating", url.Values{"incubating": {"on"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d", res.StatusCode)
	}
	c, _ := f.app.Core.Committee(ctx, admin, "alpha")
	if !c.Incubating {
		t.Fatal("not incubating")
	}
	page = f.do(req{method: "GET", path: "/committees/alpha", cookie: cookie}).Body.String()
	if !strings.Contains(page, "Incubating: its releases must carry a DISCLAIMER") || !strings.Contains(page, "Mark as no longer incubating") {
		t.Fatal("the committee page does not say it is incubating")
	}
	post("/committees/alpha/incubating", url.Values{"incubating": {"off"}})
	if c, _ := f.app.Core.Committee(ctx, admin, "alpha"); c.Incubating {
		t.Fatal("still incubating")
	}
}

// TestPolicyMailFieldsKeptAndErrorsNextToThem: a refused policy form shows
// the mail fields as typed, with the error next to the one at fault
// (a bad address, an unknown placeholder in a template).
func TestPolicyMailFieldsKeptAndErrorsNextToThem(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := &core.Actor{User: f.admin}
	if _, err := f.app.Core.CreateCommittee(ctx, admin, "alpha", "Alpha"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Core.CreateProject(ctx, admin, "alpha-lib", "alpha", "Lib"); err != nil {
		t.Fatal(err)
	}
	cookie := f.session(f.admin)
	base := url.Values{"require": {"any"}, "signers": {"participants"}, "checksum_algorithms": {"sha512"}, "accept_openpgp": {"on"},
		"min_rsa_bits": {"4096"}, "min_vote_hours": {"72"}, "min_binding_plus_ones": {"3"}, "license": {"Apache-2.0"},
		"vote_to": {"dev@alpha.example.org"}, "announce_to": {"announce@alpha.example.org"}, "archive_previous": {"minor"}}
	for _, tc := range []struct {
		name, field, value, wantErr string
	}{
		{"a bad address", "cc", "not an address", "cc:"},
		{"an unknown placeholder", "vote_template", "Vote on {project} {secret}", "unknown placeholder {secret}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range base {
				form[k] = v
			}
			form.Set(tc.field, tc.value)
			rec := f.do(req{method: "POST", path: "/projects/alpha-lib/policy", cookie: cookie, form: form, headers: map[string]string{"Sec-Fetch-Site": "same-origin"}})
			body := rec.Body.String()
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d", rec.Code)
			}
			errAt := strings.Index(body, `id="policy-`+tc.field+`-error"`)
			if errAt < 0 || !strings.Contains(body[errAt:], tc.wantErr) || !strings.Contains(body, `aria-describedby="policy-`+tc.field+`-error"`) {
				t.Errorf("no error next to %s:\n%s", tc.field, body)
			}
			for _, kept := range []string{`value="dev@alpha.example.org"`, `value="announce@alpha.example.org"`, `<option value="minor" selected>`} {
				if !strings.Contains(body, kept) {
					t.Errorf("the form lost %s", kept)
				}
			}
			// A template's error is not hidden in a folded block.
			if strings.HasSuffix(tc.field, "_template") && !strings.Contains(body, "<details open><summary>Templates") {
				t.Error("the templates' block stays folded over its error")
			}
			if pol, _ := f.app.Core.Policy(ctx, admin, "alpha-lib"); pol.Version != 0 {
				t.Errorf("a refused policy was saved: version %d", pol.Version)
			}
		})
	}
}
