package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"trel/client"
	"trel/internal/testutil/archivetest"
	"trel/internal/testutil/gpgtest"
	"trel/internal/testutil/oidctest"
	"trel/internal/translog"
	"trel/internal/verify"
)

// TestTrustedPublishingToVerifiedRelease is trusted publishing and
// provenance end to end, with the compiled binary: a CI job signs in with
// its OIDC ID token (`trel login --oidc`, the GitHub Actions way, against a
// loopback stand-in of the Actions token endpoint), starts the release,
// uploads, signs keylessly with the private Sigstore instance (Fulcio
// issues the certificate for the workflow identity, as for a real GitHub
// workflow), the checks accept the bundle because the workflow is a trusted
// publisher, a member votes, the job resolves and publishes, and a
// downloader's `trel verify --release` says VERIFIED. Then each tampering
// case says NOT VERIFIED, naming its cause.
func TestTrustedPublishingToVerifiedRelease(t *testing.T) {
	inst := privateSigstore(t)
	w := newWorld(t, "--sigstore-root", "private="+inst.TrustedRootPath)
	url := w.srv.url
	gh := inst.GitHub

	w.admin.ok(t, "issuer", "add", gh.URL, "--kind", "github")
	w.alice.ok(t, "policy", "set", "widget", "--require", "sigstore", "--min-vote-hours", "0", "--min-binding-votes", "1")
	run := oidctest.GitHubRun{Repository: "demo/widget", Workflow: ".github/workflows/release.yml", Ref: "refs/tags/v1.0", RunID: "31337"}
	actions := gh.NewActionsEndpoint(t, run)

	// Before the workflow is a trusted publisher, its keyless bundle does
	// not count; adding the publisher re-runs the checks, and then it does.
	early := newUser(t, "early-job")
	early.env = actions.Env()
	pre := filepath.Join(t.TempDir(), "widget-0.9-src.tar.gz")
	preData := archivetest.SourceTarGz(t, "widget-0.9-src", pseudoRandom("publishing-0.9", 1<<16))
	writeFile(t, pre, preData)
	writeFile(t, pre+".sha512", []byte(sha512Line(preData, "widget-0.9-src.tar.gz")))
	early.ok(t, append([]string{"sign", pre, "--sigstore"}, sigstoreArgs(inst)...)...)
	w.alice.ok(t, "release", "start", "widget", "0.9")
	w.alice.ok(t, "upload", "widget", "0.9", pre, pre+".sha512", pre+".sigstore.json")
	if r := w.alice.run(t, "checks", "wait", "widget", "0.9", "--timeout", "90s"); r.code != 1 || !strings.Contains(r.stdout, "does not trust") {
		t.Fatalf("a bundle of a workflow that is no publisher yet: %s", r)
	}
	w.alice.ok(t, "publisher", "add", "widget", "--issuer", gh.URL, "--repository", "demo/widget",
		"--workflow", ".github/workflows/release.yml", "--ref", "refs/tags/v*", "--actions", "compose,vote-start,publish")
	if r := w.alice.run(t, "checks", "wait", "widget", "0.9", "--timeout", "90s"); r.code != 0 {
		t.Fatalf("the publisher's bundle after adding the publisher: %s\n%s", r, w.alice.ok(t, "checks", "list", "widget", "0.9"))
	}
	// Alice signs with OpenPGP too: the release holds both kinds.
	g := gpgtest.New(t)
	fpr := g.GenKey(t, "", "Alice <alice@example.org>", "ed25519", "sign", "2y")
	keyDir := t.TempDir()
	writeFile(t, filepath.Join(keyDir, "alice.asc"), g.Export(t, fpr))
	w.alice.ok(t, "keys", "add", filepath.Join(keyDir, "alice.asc"), "--committee", "demo")
	writeFile(t, filepath.Join(keyDir, "proof.asc"), g.Sign(t, "", fpr, []byte(w.alice.ok(t, "keys", "challenge", fpr))))
	w.alice.ok(t, "keys", "prove", fpr, "--signature", filepath.Join(keyDir, "proof.asc"))

	// The CI job.
	ci := newUser(t, "ci")
	ci.env = actions.Env()
	out := ci.ok(t, "login", "--oidc", "--server", url)
	if !strings.Contains(out, "trusted publisher") || !strings.Contains(out, "of widget, allowed compose, vote-start, publish") {
		t.Fatalf("login --oidc: %s", out)
	}
	aud, err := client.New(url, "").Audience(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := actions.Audiences(); strings.Join(got, " ") != "sigstore "+aud.Audience {
		t.Fatalf("the jobs asked GitHub for audiences %v; trel expects %s (and Fulcio sigstore)", got, aud.Audience)
	}
	ci.ok(t, "release", "start", "widget", "1.0")
	dir := t.TempDir()
	name := "widget-1.0-src.tar.gz"
	art := filepath.Join(dir, name)
	artifact := archivetest.SourceTarGz(t, "widget-1.0-src", pseudoRandom("publishing", 1<<20))
	writeFile(t, art, artifact)
	writeFile(t, art+".sha512", []byte(sha512Line(artifact, name)))
	ci.ok(t, "upload", "widget", "1.0", art, art+".sha512")
	// Keyless: the job's ambient token for the audience "sigstore".
	out = ci.ok(t, append([]string{"sign", art, "--sigstore", "--upload", "widget/1.0"}, sigstoreArgs(inst)...)...)
	if !strings.Contains(out, "https://github.com/demo/widget/.github/workflows/release.yml@refs/tags/v1.0") {
		t.Fatalf("the bundle should name the workflow identity: %s", out)
	}
	writeFile(t, art+".asc", g.Sign(t, "", fpr, artifact, "--digest-algo", "SHA512"))
	w.alice.ok(t, "upload", "widget", "1.0", art+".asc")
	if r := ci.run(t, "checks", "wait", "widget", "1.0", "--timeout", "90s"); r.code != 0 {
		t.Fatalf("checks: %s\n%s", r, ci.ok(t, "checks", "list", "widget", "1.0"))
	}
	if list := ci.ok(t, "checks", "list", "widget", "1.0"); !strings.Contains(list, "valid Sigstore signature by https://github.com/demo/widget/.github/workflows/release.yml@refs/tags/v1.0") {
		t.Fatalf("the publisher's bundle does not count:\n%s", list)
	}
	ci.ok(t, "vote", "start", "widget", "1.0")
	w.alice.ok(t, "vote", "cast", "widget", "1.0", "+1")
	ci.ok(t, "vote", "resolve", "widget", "1.0")
	ci.ok(t, "release", "publish", "widget", "1.0")
	if revs := w.carol.ok(t, "revisions", "widget", "1.0"); !strings.Contains(revs, "revision 1 was made by CI: demo/widget .github/workflows/release.yml@refs/tags/v1.0") ||
		!strings.Contains(revs, "actions/runs/31337") {
		t.Fatalf("revisions do not name the CI run:\n%s", revs)
	}

	// The downloader.
	relURL := url + "/downloads/demo/widget/1.0/"
	d := newUser(t, "downloader")
	verifyArgs := func(extra ...string) []string {
		return append([]string{"verify", "--release", relURL, "--trusted-root", inst.TrustedRootPath}, extra...)
	}
	out = d.ok(t, verifyArgs()...)
	for _, want := range []string{"VERIFIED: widget 1.0", "first use", "✓ log", "✓ policy   widget-1.0-src.tar.gz", "passed with 1 binding +1",
		"CI release.start, revision 1, revision 2, vote.start 1, vote.resolve 1, publish: demo/widget", "Sigstore https://github.com/demo/widget/.github/workflows/release.yml@refs/tags/v1.0"} {
		if !strings.Contains(out, want) {
			t.Fatalf("verify --release does not say %q:\n%s", want, out)
		}
	}
	var rep verify.ReleaseReport
	d.okJSON(t, &rep, verifyArgs()...)
	if !rep.OK || !rep.Log.OK || len(rep.Artifacts) != 1 || len(rep.Artifacts[0].Signers) != 2 || len(rep.Workflows) < 4 {
		t.Fatalf("report: %+v", rep)
	}
	if out := d.ok(t, "verify", "--server", url, "widget", "1.0", "--trusted-root", inst.TrustedRootPath); !strings.Contains(out, "VERIFIED") {
		t.Fatalf("verify --server: %s", out)
	}

	// A mirror's copy verifies, until it serves a tampered artifact.
	mirror := t.TempDir()
	for _, f := range []string{name, name + ".sha512", name + ".sigstore.json", name + ".asc"} {
		writeFile(t, filepath.Join(mirror, f), []byte(httpGet(t, relURL+f)))
	}
	if out := d.ok(t, verifyArgs("--dir", mirror)...); !strings.Contains(out, "VERIFIED") {
		t.Fatalf("mirror copy: %s", out)
	}
	tampered := append([]byte(nil), artifact...)
	tampered[len(tampered)/2] ^= 1
	writeFile(t, filepath.Join(mirror, name), tampered)
	notVerified(t, d, verifyArgs("--dir", mirror), name+" is not the published file")
	writeFile(t, filepath.Join(mirror, name), artifact)

	// A signature by a key added to KEYS after publication.
	g2 := gpgtest.New(t)
	fpr2 := g2.GenKey(t, "", "Alice <alice@example.org>", "ed25519", "sign", "2y")
	writeFile(t, filepath.Join(keyDir, "alice2.asc"), g2.Export(t, fpr2))
	w.alice.ok(t, "keys", "add", filepath.Join(keyDir, "alice2.asc"), "--committee", "demo")
	writeFile(t, filepath.Join(keyDir, "proof2.asc"), g2.Sign(t, "", fpr2, []byte(w.alice.ok(t, "keys", "challenge", fpr2))))
	w.alice.ok(t, "keys", "prove", fpr2, "--signature", filepath.Join(keyDir, "proof2.asc"))
	goodSig, _ := os.ReadFile(filepath.Join(mirror, name+".asc"))
	writeFile(t, filepath.Join(mirror, name+".asc"), g2.Sign(t, "", fpr2, artifact, "--digest-algo", "SHA512"))
	notVerified(t, d, verifyArgs("--dir", mirror), "signed by key "+fpr2+", which was not in the committee's KEYS when the release was published")
	writeFile(t, filepath.Join(mirror, name+".asc"), goodSig)

	// The origin's manifest, changed after publication, is not in the log;
	// without a vote, it also fails its vote rules.
	manifestPath := filepath.Join(w.data, "downloads", "demo", "widget", "1.0", "trel-release-manifest.json")
	original, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, manifestPath, []byte(strings.Replace(string(original), `"published_by": "ci:widget:`, `"published_by": "mallory-ci:widget:`, 1)))
	notVerified(t, d, verifyArgs(), "is not this manifest")
	start := strings.Index(string(original), `"votes": [`)
	end := strings.Index(string(original[start:]), "\n    ]")
	if start < 0 || end < 0 {
		t.Fatalf("the manifest's votes:\n%s", original)
	}
	noVote := string(original[:start]) + `"votes": []` + string(original[start+end+len("\n    ]"):])
	writeFile(t, manifestPath, []byte(noVote))
	notVerified(t, d, verifyArgs(), "the vote has 0 binding +1", "is not this manifest")
	writeFile(t, manifestPath, original)
	if out := d.ok(t, verifyArgs()...); !strings.Contains(out, "VERIFIED") {
		t.Fatalf("after restoring the manifest: %s", out)
	}

	// A log that forked: the checkpoint this client saw last (signed with
	// the log's own key) is not an ancestor of what the server now shows.
	states, _ := filepath.Glob(filepath.Join(filepath.Dir(d.config), "log-checkpoint-*"))
	if len(states) != 1 {
		t.Fatalf("the client keeps %d checkpoints: %v", len(states), states)
	}
	seen, _ := os.ReadFile(states[0])
	writeFile(t, states[0], forkedCheckpoint(t, w.data, seen))
	notVerified(t, d, verifyArgs(), "NOT consistent with the checkpoint seen before")
}

// notVerified runs a verification that must say NOT VERIFIED (exit 1)
// and name every cause in wants.
func notVerified(t *testing.T, u *user, args []string, wants ...string) {
	t.Helper()
	r := u.run(t, args...)
	if r.code != 1 || !strings.Contains(r.stdout, "NOT VERIFIED") {
		t.Fatalf("want NOT VERIFIED (exit 1): %s", r)
	}
	for _, want := range wants {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("NOT VERIFIED should name %q:\n%s", want, r.stdout)
		}
	}
}

// forkedCheckpoint signs, with the server's log key, a checkpoint of the
// same size as seen but another root: a split view of the log.
func forkedCheckpoint(t *testing.T, data string, seen []byte) []byte {
	t.Helper()
	skey, err := os.ReadFile(filepath.Join(data, "log-signer.key"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := translog.NewSigner(string(skey))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(seen), "\n", 3)
	root := make([]byte, 32)
	rand.Read(root)
	text := signer.Origin() + "\n" + lines[1] + "\n" + base64.StdEncoding.EncodeToString(root) + "\n"
	forged, err := note.Sign(&note.Note{Text: text}, signer.NoteSigner())
	if err != nil {
		t.Fatal(err)
	}
	return forged
}

// TestTrustedPublishingGitLabLogin: `trel login --oidc --token-env` in a
// GitLab job; the credential does what its publisher allows and no more,
// and the same ID token is not exchanged twice.
func TestTrustedPublishingGitLabLogin(t *testing.T) {
	w := newWorld(t)
	gl := oidctest.New(t)
	w.admin.ok(t, "issuer", "add", gl.URL, "--kind", "gitlab")
	if out := w.carol.ok(t, "issuer", "list"); !strings.Contains(out, gl.URL) || !strings.Contains(out, "https://token.actions.githubusercontent.com") {
		t.Fatalf("issuer list: %s", out)
	}
	w.alice.fails(t, 1, []string{"administrator"}, "issuer", "add", "https://ci.example", "--kind", "github")
	w.bob.fails(t, 1, []string{"member"}, "publisher", "add", "widget", "--issuer", gl.URL, "--repository", "demo/widget", "--workflow", ".gitlab-ci.yml", "--actions", "compose")
	w.alice.fails(t, 2, []string{"unknown action"}, "publisher", "add", "widget", "--issuer", gl.URL, "--repository", "demo/widget", "--workflow", ".gitlab-ci.yml", "--actions", "deploy")
	w.alice.ok(t, "publisher", "add", "widget", "--issuer", gl.URL, "--repository", "demo/widget", "--workflow", ".gitlab-ci.yml", "--actions", "compose")
	var pubs []map[string]any
	w.carol.okJSON(t, &pubs, "publisher", "list", "widget")
	if len(pubs) != 1 || pubs[0]["repository"] != "demo/widget" {
		t.Fatalf("publisher list: %v", pubs)
	}
	aud, err := client.New(w.srv.url, "").Audience(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	job := oidctest.GitLabRun{Host: strings.TrimPrefix(gl.URL, "http://"), ProjectPath: "demo/widget", ConfigPath: ".gitlab-ci.yml", Ref: "main"}
	tok := gl.Mint(job.Claims(aud.Audience))
	ci := newUser(t, "gitlab-ci")
	ci.env = []string{"TREL_ID_TOKEN=" + tok}
	r := ci.run(t, "login", "--oidc", "--server", w.srv.url, "--token-env", "TREL_ID_TOKEN")
	if r.code != 0 || !strings.Contains(r.stdout, "allowed compose") {
		t.Fatalf("login: %s", r)
	}
	noToken(t, r, tok)
	ci.ok(t, "release", "start", "widget", "2.0")
	ci.fails(t, 1, []string{"vote-start"}, "vote", "start", "widget", "2.0")
	ci.fails(t, 1, []string{"CI credential"}, "token", "create")
	// The same token again: a replay.
	r = ci.run(t, "login", "--oidc", "--server", w.srv.url, "--token-env", "TREL_ID_TOKEN")
	checkFailure(t, r, 1, "already exchanged")
	noToken(t, r, tok)
	w.alice.ok(t, "publisher", "remove", "widget", "1")
	ci.fails(t, 1, []string{"removed"}, "release", "show", "widget", "2.0")
}
