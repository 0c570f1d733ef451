package integration

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trel/client"
	"trel/internal/testutil/archivetest"
	"trel/internal/testutil/oidctest"
	"trel/internal/testutil/smtptest"
)

// TestVerifyReleaseAfterlife: `trel verify --release` reports a yanked
// release with its reason, and verifies an archived release at its
// archive URL and by --server PROJECT VERSION (issue 17 promises both).
func TestVerifyReleaseAfterlife(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{})
	w := newWorld(t, "--smtp", "smtp://"+sink.Addr, "--mail-from", "trel@example.org")
	s := aliceSigner(t, w)
	w.alice.ok(t, "policy", "set", "widget", "--min-vote-hours", "0", "--min-binding-votes", "1",
		"--vote-to", "dev@widget.example.org", "--announce-to", "announce@widget.example.org", "--private-to", "private@widget.example.org")
	// Embargoed, then published: the manifest records the mail of the
	// private vote and the announcement, and the release verifies.
	releaseTo(t, w, s, "2.0", true)
	w.alice.ok(t, "release", "publish", "widget", "2.0")
	var manifest struct {
		Mail map[string]string `json:"mail"`
	}
	getJSON(t, w.srv.url+"/downloads/demo/widget/2.0/trel-release-manifest.json", &manifest)
	if manifest.Mail["vote"] == "" || manifest.Mail["announce"] == "" {
		t.Fatalf("the manifest's mail: %v", manifest.Mail)
	}
	if out := w.carol.ok(t, "verify", "--release", w.srv.url+"/downloads/demo/widget/2.0/"); !strings.Contains(out, "VERIFIED: widget 2.0") {
		t.Fatalf("verify --release of a release published after an embargo:\n%s", out)
	}
	releaseTo(t, w, s, "1.0", false)
	w.alice.ok(t, "release", "publish", "widget", "1.0")
	relURL := w.srv.url + "/downloads/demo/widget/1.0/"
	if out := w.carol.ok(t, "verify", "--release", relURL); !strings.Contains(out, "VERIFIED: widget 1.0") || strings.Contains(out, "YANKED") {
		t.Fatalf("verify --release of a published release:\n%s", out)
	}

	w.alice.ok(t, "release", "yank", "widget", "1.0", "--reason", "CVE-2026-0001: do not use")
	out := w.carol.ok(t, "verify", "--release", relURL)
	if !strings.Contains(out, "YANKED") || !strings.Contains(out, "CVE-2026-0001: do not use") {
		t.Fatalf("verify --release does not say the release is yanked:\n%s", out)
	}
	var rep struct {
		Status struct {
			State      string `json:"state"`
			YankReason string `json:"yank_reason"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(w.carol.ok(t, "verify", "--release", relURL, "--json")), &rep); err != nil || rep.Status.State != "yanked" || rep.Status.YankReason != "CVE-2026-0001: do not use" {
		t.Fatalf("verify --release --json: %+v %v", rep, err)
	}
	// The downloads listings, where downloaders browse, say it too.
	for _, dir := range []string{"/downloads/demo/widget/", "/downloads/demo/widget/1.0/"} {
		if body := getBody(t, w.srv.url+dir); !strings.Contains(body, "yanked") || !strings.Contains(body, "CVE-2026-0001: do not use") {
			t.Errorf("the listing %s does not say 1.0 is yanked:\n%s", dir, body)
		}
	}
	if body := getBody(t, w.srv.url+"/downloads/demo/widget/2.0/"); strings.Contains(body, "yanked") {
		t.Errorf("the listing of 2.0 says yanked:\n%s", body)
	}
	out = w.carol.ok(t, "verify", "--server", w.srv.url, "widget", "1.0")
	if !strings.Contains(out, "YANKED") {
		t.Fatalf("verify --server does not say the release is yanked:\n%s", out)
	}

	w.alice.ok(t, "release", "unyank", "widget", "1.0")
	w.alice.ok(t, "release", "archive", "widget", "1.0")
	for _, args := range [][]string{
		{"verify", "--release", w.srv.url + "/archive/demo/widget/1.0/"},
		{"verify", "--server", w.srv.url, "widget", "1.0"},
	} {
		r := w.carol.run(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "VERIFIED: widget 1.0") || !strings.Contains(r.stdout, "archive") {
			t.Errorf("%v of an archived release: %s", args, r)
		}
	}
	// The old URL (in scripts, in the [ANNOUNCE]) follows the files.
	if out := w.carol.ok(t, "verify", "--release", relURL); !strings.Contains(out, "VERIFIED: widget 1.0") || !strings.Contains(out, "moved from "+relURL+" to "+w.srv.url+"/archive/demo/widget/1.0/") {
		t.Errorf("verify --release at the old URL of an archived release:\n%s", out)
	}
}

// TestEmbargoedReleaseUnseen: an embargoed release with files, checks and
// an open vote is, for an anonymous visitor and for a signed-in
// non-participant, exactly like a release that does not exist, on every
// API route, web page and public file that names a release; and nothing
// of it reaches them through the feed, listings, notices or webhooks.
func TestEmbargoedReleaseUnseen(t *testing.T) {
	ctx := context.Background()
	sink := smtptest.Start(t, smtptest.Options{})
	w := newWorld(t, "--smtp", "smtp://"+sink.Addr, "--mail-from", "trel@example.org", "--webhook-allow-private", "--delivery-retry", "50ms")
	s := aliceSigner(t, w)
	w.alice.ok(t, "policy", "set", "widget", "--min-vote-hours", "0", "--min-binding-votes", "1",
		"--vote-to", "dev@widget.example.org", "--announce-to", "announce@widget.example.org", "--private-to", "private@widget.example.org")
	hook := newHookReceiver(t, "a-webhook-secret-of-the-receiver")
	secretFile := filepath.Join(t.TempDir(), "secret")
	writeFile(t, secretFile, []byte("a-webhook-secret-of-the-receiver\n"))
	w.alice.ok(t, "webhook", "add", "widget", hook.URL, "--secret-file", secretFile)
	generated := w.alice.ok(t, "webhook", "add", "widget", hook.URL+"/second")
	i := strings.Index(generated, "whsec_")
	if i < 0 {
		t.Fatalf("webhook add without a secret shows no secret: %s", generated)
	}
	made := strings.Fields(generated[i:])[0]
	for what, text := range map[string]string{"webhook list": w.alice.ok(t, "webhook", "list", "widget", "--json"), "webhook deliveries": w.alice.ok(t, "webhook", "deliveries", "widget", "--json")} {
		if strings.Contains(text, made) || strings.Contains(text, "a-webhook-secret-of-the-receiver") {
			t.Errorf("%s shows a webhook secret: %s", what, text)
		}
	}
	// carol becomes a voter-to-be elsewhere: a member of another committee.
	if _, err := w.adminC.CreateCommittee(ctx, "other", "Other Committee"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.adminC.AddMember(ctx, "other", "carol", "member"); err != nil {
		t.Fatal(err)
	}

	w.alice.ok(t, "release", "start", "widget", "3.0", "--embargoed")
	name := "widget-3.0.tar.gz"
	artifact := archivetest.SourceTarGz(t, "widget-3.0", pseudoRandom(name, 32<<10))
	d := sha512.Sum512(artifact)
	put(t, w.aliceC, "3.0", map[string][]byte{
		name:             artifact,
		name + ".asc":    s.g.Sign(t, "", s.fpr, artifact, "--digest-algo", "SHA512"),
		name + ".sha512": []byte(hex.EncodeToString(d[:]) + "  " + name + "\n"),
	})
	waitChecks(t, w.aliceC, "3.0")
	w.alice.ok(t, "vote", "start", "widget", "3.0")
	w.bob.ok(t, "vote", "cast", "widget", "3.0", "+1", "--comment", "fix looks right")

	carolGet := func(u string) (int, string) {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer "+w.carol.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	anonGet := func(u string) (int, string) {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	rel := "/api/v1/projects/widget/releases/"
	paths := []string{
		rel + "V", rel + "V/revisions", rel + "V/revisions/1", rel + "V/revisions/1/files/" + name, rel + "V/checks", rel + "V/vote",
		rel + "V/managers", rel + "V/mail", rel + "V/mail/vote", rel + "V/workflow-runs", rel + "V/diff",
		"/downloads/demo/widget/V/", "/downloads/demo/widget/V/" + name, "/downloads/demo/widget/V/trel-release-status.json",
		"/downloads/demo/widget/V/trel-release-manifest.json", "/archive/demo/widget/V/trel-release-status.json",
		"/projects/widget/releases/V", "/projects/widget/releases/V/revisions/1/files/" + name, "/projects/widget/releases/V/diff",
		"/projects/widget/releases/V/mail/vote", "/projects/widget/releases/V/sign", "/projects/widget/releases/V/yank",
	}
	for who, get := range map[string]func(string) (int, string){"anonymous": anonGet, "carol": carolGet} {
		for _, p := range paths {
			code, body := get(w.srv.url + strings.ReplaceAll(p, "V", "3.0"))
			code2, body2 := get(w.srv.url + strings.ReplaceAll(p, "V", "9.9"))
			norm := strings.NewReplacer("3.0", "X", "9.9", "X", name, "F", "widget-9.9.tar.gz", "F")
			if code != code2 || norm.Replace(body) != norm.Replace(body2) {
				t.Errorf("%s tells the embargoed release from a missing one at %s: %d %q vs %d %q", who, p, code, tail(body, 300), code2, tail(body2, 300))
			}
		}
		for _, p := range []string{"/api/v1/projects/widget/releases", "/api/v1/projects/widget/feed", "/downloads/demo/KEYS", "/downloads/demo/widget/",
			"/projects/widget", "/committees/demo", "/", "/api/v1/projects/widget", "/api/v1/committees/demo", "/log/checkpoint", "/notices", "/api/v1/notices?all=true"} {
			if _, body := get(w.srv.url + p); strings.Contains(body, "3.0") {
				t.Errorf("%s reads of the embargoed release at %s: %s", who, p, tail(body, 500))
			}
		}
	}
	// Nothing of 3.0 reached a webhook or a public list.
	time.Sleep(time.Second)
	if log := w.srv.stderr.String(); strings.Contains(log, made) || strings.Contains(log, "a-webhook-secret-of-the-receiver") {
		t.Error("the server log holds a webhook secret")
	}
	for _, e := range hook.seen() {
		if strings.HasSuffix(e, " 3.0") {
			t.Errorf("a webhook heard of the embargoed release: %v", hook.seen())
		}
	}
	for _, m := range sink.Messages() {
		for _, to := range m.To {
			if to != "private@widget.example.org" && to != "bob@example.org" {
				t.Errorf("mail of the embargoed release to %s: %s", to, m.Header().Get("Subject"))
			}
		}
	}
}

// TestCICredentialAndFormerManagerAfterPublication: a CI credential
// allowed everything a publisher may do cannot yank, un-yank or archive,
// manage webhooks, or read notices; it does not see an embargoed release
// (its committee's participants only: CI logs are often public); and a
// release manager who was removed can no longer yank.
func TestCICredentialAndFormerManagerAfterPublication(t *testing.T) {
	w := newWorld(t)
	s := aliceSigner(t, w)
	w.alice.ok(t, "policy", "set", "widget", "--min-vote-hours", "0", "--min-binding-votes", "1")
	gl := oidctest.New(t)
	w.admin.ok(t, "issuer", "add", gl.URL, "--kind", "gitlab")
	w.alice.ok(t, "publisher", "add", "widget", "--issuer", gl.URL, "--repository", "demo/widget", "--workflow", ".gitlab-ci.yml",
		"--actions", "compose,vote-start,publish")
	aud, err := client.New(w.srv.url, "").Audience(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	job := oidctest.GitLabRun{Host: strings.TrimPrefix(gl.URL, "http://"), ProjectPath: "demo/widget", ConfigPath: ".gitlab-ci.yml", Ref: "main"}
	ci := newUser(t, "gitlab-ci")
	ci.env = []string{"TREL_ID_TOKEN=" + gl.Mint(job.Claims(aud.Audience))}
	ci.ok(t, "login", "--oidc", "--server", w.srv.url, "--token-env", "TREL_ID_TOKEN")

	releaseTo(t, w, s, "1.0", false)
	w.alice.ok(t, "release", "publish", "widget", "1.0")
	secretFile := filepath.Join(t.TempDir(), "secret")
	writeFile(t, secretFile, []byte("a-webhook-secret-of-the-receiver\n"))
	for _, args := range [][]string{
		{"release", "yank", "widget", "1.0", "--reason", "from CI"},
		{"release", "unyank", "widget", "1.0"},
		{"release", "archive", "widget", "1.0"},
		{"webhook", "add", "widget", "https://ci.example.org/hook", "--secret-file", secretFile},
		{"webhook", "list", "widget"},
		{"webhook", "deliveries", "widget"},
		{"webhook", "remove", "widget", "1"},
		{"notices"},
		{"policy", "set", "widget", "--vote-to", "attacker@example.org"},
	} {
		if r := ci.run(t, args...); r.code == 0 {
			t.Errorf("a CI credential could %v: %s", args, r)
		}
	}

	// An embargoed release is its committee's participants' only.
	w.alice.ok(t, "release", "start", "widget", "3.0", "--embargoed")
	if out := ci.ok(t, "release", "list", "widget"); strings.Contains(out, "3.0") {
		t.Errorf("a CI credential lists the embargoed release: %s", out)
	}
	for _, args := range [][]string{{"release", "show", "widget", "3.0"}, {"revisions", "widget", "3.0"}, {"release", "mail", "widget", "3.0"}} {
		if r := ci.run(t, args...); r.code == 0 {
			t.Errorf("a CI credential reads the embargoed release with %v: %s", args, r)
		}
	}

	// A former release manager.
	w.alice.ok(t, "release", "manager", "add", "widget", "1.0", "bob")
	w.bob.ok(t, "release", "yank", "widget", "1.0", "--reason", "wrong licence headers")
	w.bob.ok(t, "release", "unyank", "widget", "1.0")
	w.alice.ok(t, "release", "manager", "remove", "widget", "1.0", "bob")
	w.bob.fails(t, 1, []string{"release manager"}, "release", "yank", "widget", "1.0", "--reason", "spite")
	w.bob.fails(t, 1, []string{"release manager"}, "release", "archive", "widget", "1.0")
	// ... and one who left the committee.
	w.alice.ok(t, "release", "manager", "add", "widget", "1.0", "bob")
	w.admin.ok(t, "member", "remove", "demo", "bob")
	w.bob.fails(t, 1, []string{"no longer a member"}, "release", "yank", "widget", "1.0", "--reason", "spite")
	ci.fails(t, 1, []string{"embargoed"}, "release", "start", "widget", "4.0", "--embargoed")
}

// TestTrustedPublisherRepositoryResurrection: a publisher names a
// repository by its path, which another owner can take once it is
// deleted or renamed (a "resurrected" repository). The first exchange
// pins the repository's and owner's ids; a token from a same-named
// repository with other ids is refused, on GitHub and GitLab.
func TestTrustedPublisherRepositoryResurrection(t *testing.T) {
	w := newWorld(t)
	gl, gh := oidctest.New(t), oidctest.New(t)
	w.admin.ok(t, "issuer", "add", gl.URL, "--kind", "gitlab")
	w.admin.ok(t, "issuer", "add", gh.URL, "--kind", "github")
	w.alice.ok(t, "publisher", "add", "widget", "--issuer", gl.URL, "--repository", "demo/widget", "--workflow", ".gitlab-ci.yml", "--actions", "compose")
	w.alice.ok(t, "publisher", "add", "widget", "--issuer", gh.URL, "--repository", "demo/widget", "--workflow", ".github/workflows/release.yml", "--actions", "compose")
	aud, err := client.New(w.srv.url, "").Audience(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	login := func(tok string) result {
		ci := newUser(t, "ci")
		ci.env = []string{"TREL_ID_TOKEN=" + tok}
		return ci.run(t, "login", "--oidc", "--server", w.srv.url, "--token-env", "TREL_ID_TOKEN", "--project", "widget")
	}
	glJob := oidctest.GitLabRun{Host: strings.TrimPrefix(gl.URL, "http://"), ProjectPath: "demo/widget", ConfigPath: ".gitlab-ci.yml", Ref: "main"}
	ghJob := oidctest.GitHubRun{Repository: "demo/widget", Workflow: ".github/workflows/release.yml", Ref: "refs/heads/main", RunID: "1"}
	for _, tc := range []struct {
		name           string
		claims         func() map[string]any
		mint           func(map[string]any) string
		idKey, ownerID string
	}{
		{"gitlab", func() map[string]any { return glJob.Claims(aud.Audience) }, gl.Mint, "project_id", "namespace_id"},
		{"github", func() map[string]any { return ghJob.Claims(aud.Audience) }, gh.Mint, "repository_id", "repository_owner_id"},
	} {
		if r := login(tc.mint(tc.claims())); r.code != 0 {
			t.Fatalf("%s: the first login: %s", tc.name, r)
		}
		if r := login(tc.mint(tc.claims())); r.code != 0 {
			t.Fatalf("%s: the same repository again: %s", tc.name, r)
		}
		for _, key := range []string{tc.idKey, tc.ownerID} {
			c := tc.claims()
			c[key] = "999999"
			r := login(tc.mint(c))
			checkFailure(t, r, 1, "999999", "another repository")
		}
	}
	// Removing the publisher and adding it again trusts the new repository.
	w.alice.ok(t, "publisher", "remove", "widget", "1")
	w.alice.ok(t, "publisher", "add", "widget", "--issuer", gl.URL, "--repository", "demo/widget", "--workflow", ".gitlab-ci.yml", "--actions", "compose")
	c := glJob.Claims(aud.Audience)
	c["project_id"] = "999999"
	if r := login(gl.Mint(c)); r.code != 0 {
		t.Fatalf("the re-added publisher refuses the new repository: %s", r)
	}
}

// TestMailHello: trel greets the relay (EHLO) with the host of its public
// URL, not "localhost", which relays that check the greeting refuse.
func TestMailHello(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{})
	w := newWorld(t, "--smtp", "smtp://"+sink.Addr, "--mail-from", "trel@example.org", "--public-url", "https://trel.example.org")
	w.alice.ok(t, "policy", "set", "widget", "--vote-to", "dev@widget.example.org", "--min-vote-hours", "0", "--min-binding-votes", "1")
	releaseTo(t, w, aliceSigner(t, w), "1.0", false)
	got := sink.Wait(1, 30*time.Second)
	if len(got) == 0 || got[0].Hello != "trel.example.org" {
		t.Fatalf("EHLO names %q, want trel.example.org (%d messages)", got[0].Hello, len(got))
	}
}
