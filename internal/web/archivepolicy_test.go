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
