package integration

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"trel/internal/core"
	"trel/internal/testutil/archivetest"
	"trel/internal/testutil/gpgtest"
)

// TestKeysAndChecksThroughTheCLI is the release manager's story of issue 3
// and 4 through the compiled binary and a real server: checks run on every
// revision, the signature only counts once the key is registered for the
// committee AND its owner proved possession with a gpg-made signature of
// the challenge; the KEYS file imports into gpg; a downloader verifies
// offline; Sigstore trust follows the project's identities.
func TestKeysAndChecksThroughTheCLI(t *testing.T) {
	w := newWorld(t)
	w.alice.ok(t, "release", "start", "widget", "1.0")
	g := gpgtest.New(t)
	fpr := g.GenKey(t, "", "Alice <alice@example.org>", "ed25519", "sign", "2y")

	dir := t.TempDir()
	artifact := archivetest.SourceTarGz(t, "widget-1.0", pseudoRandom("widget", 3<<20))
	d := sha512.Sum512(artifact)
	art := filepath.Join(dir, "widget-1.0.tar.gz")
	writeFile(t, art, artifact)
	writeFile(t, art+".asc", g.Sign(t, "", fpr, artifact))
	writeFile(t, art+".sha512", []byte(hex.EncodeToString(d[:])+"  widget-1.0.tar.gz\n"))
	w.bob.ok(t, "upload", "widget", "1.0", art, art+".asc", art+".sha512")

	// Unknown key: a blocker that names the key; exit status 1.
	r := w.bob.run(t, "checks", "wait", "widget", "1.0", "--timeout", "60s")
	if r.code != 1 || !strings.Contains(r.stdout, fpr) || !strings.Contains(r.stdout, "trel keys add") {
		t.Fatalf("unknown key: %s", r)
	}

	// Registered, but unproven.
	pub := filepath.Join(dir, "alice.asc")
	writeFile(t, pub, g.Export(t, fpr))
	if out := w.alice.ok(t, "keys", "add", pub, "--committee", "demo"); !strings.Contains(out, "added") || !strings.Contains(out, fpr) {
		t.Fatalf("keys add: %s", out)
	}
	r = w.bob.run(t, "checks", "wait", "widget", "1.0", "--timeout", "60s")
	if r.code != 1 || !strings.Contains(r.stdout, "nobody has proven to own key") {
		t.Fatalf("unproven key: %s", r)
	}

	// Proof of possession with gpg --detach-sign --armor of exactly the
	// bytes `trel keys challenge` printed.
	challenge := w.alice.ok(t, "keys", "challenge", fpr)
	cpath := filepath.Join(dir, "challenge.txt")
	writeFile(t, cpath, []byte(challenge))
	g.Run(t, "", "--local-user", fpr, "--armor", "--detach-sign", "--output", cpath+".asc", cpath)
	w.bob.fails(t, 1, []string{"e-mail address"}, "keys", "prove", fpr, "--signature", cpath+".asc")
	if out := w.alice.ok(t, "keys", "prove", fpr, "--signature", cpath+".asc"); !strings.Contains(out, "now own") {
		t.Fatalf("prove: %s", out)
	}
	w.alice.fails(t, 1, []string{"challenge"}, "keys", "prove", fpr, "--signature", cpath+".asc")

	r = w.bob.run(t, "checks", "wait", "widget", "1.0", "--timeout", "60s")
	if r.code != 0 {
		t.Fatalf("proven key: %s", r)
	}
	var rep core.ChecksReport
	w.bob.okJSON(t, &rep, "checks", "list", "widget", "1.0")
	found := false
	for _, res := range rep.Results {
		if res.Checker == "signature" && res.Status == "note" && res.Details["owner"] == "alice" && res.Details["signer_fingerprint"] == fpr {
			found = true
		}
	}
	if !found || rep.Summary["blocker"] != 0 {
		t.Fatalf("checks: %+v", rep)
	}

	// Private key material is refused and the user told to revoke it.
	sec := filepath.Join(dir, "secret.asc")
	writeFile(t, sec, g.ExportSecret(t, fpr))
	w.alice.fails(t, 1, []string{"compromised"}, "keys", "add", sec)

	// The KEYS file: exported, served publicly, and gpg imports the key.
	keys := w.alice.ok(t, "keys", "export", "demo")
	resp, err := http.Get(w.srv.url + "/downloads/demo/KEYS")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(served) != keys || !strings.Contains(keys, "# Fingerprint: "+fpr) || !strings.Contains(keys, "Owner:       alice") {
		t.Fatalf("KEYS differs or lacks the key:\n%s", keys)
	}
	kpath := filepath.Join(dir, "KEYS")
	writeFile(t, kpath, []byte(keys))
	g2 := gpgtest.New(t)
	g2.Run(t, "", "--import", kpath)
	if !strings.Contains(string(g2.Run(t, "", "--with-colons", "--list-keys")), fpr) {
		t.Fatal("gpg did not import the key from KEYS")
	}

	// A downloader verifies offline with the KEYS file.
	dl := filepath.Join(t.TempDir(), "dl")
	os.MkdirAll(dl, 0o700)
	for _, name := range []string{"widget-1.0.tar.gz", "widget-1.0.tar.gz.asc", "widget-1.0.tar.gz.sha512"} {
		w.bob.ok(t, "download", "widget", "1.0", name, "-o", filepath.Join(dl, name))
	}
	if out := w.carol.ok(t, "verify", filepath.Join(dl, "widget-1.0.tar.gz"), "--keys", kpath); !strings.Contains(out, "VERIFIED") {
		t.Fatalf("verify: %s", out)
	}

	// A real KEYS file: every block is reported.
	httpd, err := filepath.Abs("../openpgp/testdata/keys/httpd.KEYS")
	if err != nil {
		t.Fatal(err)
	}
	// None of its keys is acceptable today: the report is printed in full
	// and the command fails, so that a script notices (issue 11).
	r = w.alice.run(t, "keys", "import", httpd, "--committee", "demo")
	if r.code != 1 || strings.Count(r.stdout, "block ") != 28 || !strings.Contains(r.stdout, "version 3 key") || !strings.Contains(r.stderr, "no key was added or refreshed") {
		t.Fatalf("import report: %s", r)
	}
	// Adding a key that is already there changes nothing: exit 1 too.
	checkFailure(t, w.alice.run(t, "keys", "add", pub, "--committee", "demo"), 1, "no key was added or refreshed")
}

func TestSigstoreTrustThroughTheCLI(t *testing.T) {
	w := newWorld(t)
	w.alice.ok(t, "release", "start", "widget", "2.0")
	src := "../sigstore/testdata/gh-cli/" // public fixtures, see its PROVENANCE.md
	dir := t.TempDir()
	data, err := os.ReadFile(src + "sigstore-js-2.1.0.tgz")
	if err != nil {
		t.Fatal(err)
	}
	bundle, _ := os.ReadFile(src + "sigstore-js-2.1.0-bundle.json")
	writeFile(t, filepath.Join(dir, "sigstore-js-2.1.0.tgz"), data)
	writeFile(t, filepath.Join(dir, "sigstore-js-2.1.0.tgz.sigstore.json"), bundle)
	d := sha512.Sum512(data)
	writeFile(t, filepath.Join(dir, "sigstore-js-2.1.0.tgz.sha512"), []byte(hex.EncodeToString(d[:])+"  sigstore-js-2.1.0.tgz\n"))
	w.bob.ok(t, "upload", "widget", "2.0", dir+"/sigstore-js-2.1.0.tgz", dir+"/sigstore-js-2.1.0.tgz.sigstore.json", dir+"/sigstore-js-2.1.0.tgz.sha512")

	const subject = "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
	r := w.bob.run(t, "checks", "wait", "widget", "2.0", "--timeout", "60s")
	if r.code != 1 || !strings.Contains(r.stdout, subject) || !strings.Contains(r.stdout, "trel sigstore identity add widget") {
		t.Fatalf("untrusted: %s", r)
	}
	w.bob.fails(t, 1, []string{"member"}, "sigstore", "identity", "add", "widget", "--issuer", "https://token.actions.githubusercontent.com", "--subject", subject)
	w.alice.ok(t, "sigstore", "identity", "add", "widget", "--issuer", "https://token.actions.githubusercontent.com",
		"--subject-regexp", `https://github\.com/sigstore/sigstore-js/\.github/workflows/release\.yml@refs/heads/.*`,
		"--source-repository", "https://github.com/sigstore/sigstore-js")
	// The npm package has no NOTICE, a blocker of the archive checks;
	// the Sigstore signature now counts.
	r = w.bob.run(t, "checks", "wait", "widget", "2.0", "--timeout", "60s")
	if r.code != 1 || !strings.Contains(r.stdout, "valid Sigstore signature by "+subject) || !strings.Contains(r.stdout, "no NOTICE file at package/") ||
		!strings.Contains(r.stdout, "sigstore-js-2.1.0.tgz meets") {
		t.Fatalf("trusted: %s", r)
	}
	var ids []map[string]any
	out := w.carol.ok(t, "sigstore", "identity", "list", "widget", "--json")
	if err := json.Unmarshal([]byte(out), &ids); err != nil || len(ids) != 1 {
		t.Fatalf("list: %v %s", err, out)
	}
}
