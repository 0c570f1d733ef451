package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"trel/internal/core"
)

// TestRefusedFormsKeepWhatWasTyped: a refused form comes back in the
// response itself with the refusal's status, the message next to the field
// it is about, every typed value kept (never a password), and only that
// form refilled; the policy's history says what each version changed.
func TestRefusedFormsKeepWhatWasTyped(t *testing.T) {
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
	form := url.Values{"require": {"all"}, "signers": {"release-managers"}, "checksum_algorithms": {"sha512", "sha256"}, "accept_openpgp": {"on"},
		"accept_sigstore": {"on"}, "source_patterns": {"*-src.*"}, "binary_patterns": {"*-bin.*"}, "min_rsa_bits": {"4096"}, "min_vote_hours": {"-3"},
		"min_binding_plus_ones": {"2"}, "license": {"MIT"}, "allowed_licenses": {"MIT"}, "unsigned": {"NOTES.txt=plain notes"}}
	rec := f.do(req{method: "POST", path: "/projects/alpha-lib/policy", cookie: cookie, form: form})
	body := rec.Body.String()
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("a refused policy: %d", rec.Code)
	}
	for _, want := range []string{
		`id="policy-min_vote_hours-error"`, "min_vote_hours must be between 0 and 1440",
		`value="-3" aria-invalid="true" aria-describedby="policy-min_vote_hours-error" autofocus`,
		`<option value="all" selected>OpenPGP and Sigstore (both)</option>`,
		`<option value="release-managers" selected>only the release&#39;s managers</option>`,
		`value="sha256" checked`, `value="MIT"`, `>NOTES.txt=plain notes</textarea>`, `value="2"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the refilled policy form lacks %q", want)
		}
	}
	if strings.Contains(body, `class="notice"`) {
		t.Error("a refused form says it was saved")
	}
	// The held-key form on the keys page never refills a password.
	rec = f.do(req{method: "POST", path: "/signing-keys", cookie: cookie, form: url.Values{"password": {"correct horse battery"}, "password2": {"other"}, "algorithm": {"rsa4096"}}})
	body = rec.Body.String()
	if rec.Code != http.StatusBadRequest || !strings.Contains(body, `id="create-held-password2-error"`) || !strings.Contains(body, `<option value="rsa4096" selected>`) {
		t.Errorf("the held-key form: %d", rec.Code)
	}
	if strings.Contains(body, "correct horse battery") {
		t.Error("a password came back in the page")
	}

	// Two versions: the history says what changed, in words.
	form.Set("min_vote_hours", "0")
	if rec := f.do(req{method: "POST", path: "/projects/alpha-lib/policy", cookie: cookie, form: form}); rec.Code != http.StatusSeeOther {
		t.Fatalf("a valid policy: %d %s", rec.Code, rec.Body)
	}
	form.Set("min_binding_plus_ones", "3")
	f.do(req{method: "POST", path: "/projects/alpha-lib/policy", cookie: cookie, form: form})
	page := html.UnescapeString(f.do(req{method: "GET", path: "/projects/alpha-lib/policy", cookie: cookie}).Body.String())
	for _, want := range []string{
		"Binding +1 votes needed: 2 → 3",    // version 2
		"Shortest vote: 72 hours → 0 hours", // version 1, from the default
		"Each artifact needs: OpenPGP or Sigstore (either one) → OpenPGP and Sigstore (both)",
		"the project trusts no Sigstore signer yet", // a warning: required, nobody trusted
		"A vote may be resolved after 0 hours",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the policy page lacks %q", want)
		}
	}
}
