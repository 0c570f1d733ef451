package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"trel/internal/testutil/tuftest"
)

// TestSigstoreUpdateRoot: `trel sigstore update-root` keeps what a TUF
// update brought (here a private instance's repository on loopback), and
// the client commands use refreshed material instead of the embedded copy:
// with the private instance's files where an update of public-good leaves
// them, `trel sign --sigstore` and `trel verify` need no flags.
func TestSigstoreUpdateRoot(t *testing.T) {
	inst := privateSigstore(t)
	repo := tuftest.New(t, map[string][]byte{"trusted_root.json": inst.TrustedRootJSON, "signing_config.v0.2.json": inst.SigningConfigJSON})
	u := newUser(t, "rm")
	anchor := filepath.Join(t.TempDir(), "root.json")
	writeFile(t, anchor, repo.RootJSON())
	u.fails(t, 2, []string{"--tuf-url"}, "sigstore", "update-root", "--tuf-root", anchor)
	out := u.ok(t, "sigstore", "update-root", "--tuf-url", repo.Srv.URL, "--tuf-root", anchor)
	kept := filepath.Join(filepath.Dir(u.config), "sigstore", "private")
	if !strings.Contains(out, "Updated the private trusted material through TUF") || !bytes.Equal(readFile(t, filepath.Join(kept, "trusted_root.json")), inst.TrustedRootJSON) {
		t.Fatalf("update-root: %s", out)
	}
	// A target changed behind the TUF metadata: the verified copy in the
	// TUF cache stays in use, and a client without one refuses the change.
	writeFile(t, filepath.Join(repo.Dir, "targets", "trusted_root.json"), []byte(`{"mediaType":"x"}`))
	u.ok(t, "sigstore", "update-root", "--tuf-url", repo.Srv.URL, "--tuf-root", anchor)
	if !bytes.Equal(readFile(t, filepath.Join(kept, "trusted_root.json")), inst.TrustedRootJSON) {
		t.Fatal("a tampered target replaced the kept root")
	}
	fresh := newUser(t, "fresh")
	fresh.fails(t, 1, []string{"trusted_root.json"}, "sigstore", "update-root", "--tuf-url", repo.Srv.URL, "--tuf-root", anchor)
	if _, err := os.Stat(filepath.Join(filepath.Dir(fresh.config), "sigstore", "private", "trusted_root.json")); err == nil {
		t.Fatal("a refused update left a trusted root")
	}

	// Refreshed public-good material is used by default.
	pg := filepath.Join(filepath.Dir(u.config), "sigstore", "public-good")
	os.MkdirAll(pg, 0o700)
	writeFile(t, filepath.Join(pg, "trusted_root.json"), inst.TrustedRootJSON)
	writeFile(t, filepath.Join(pg, "signing_config.v0.2.json"), inst.SigningConfigJSON)
	dir := t.TempDir()
	art := filepath.Join(dir, "a.tar.gz")
	writeFile(t, art, []byte("refreshed"))
	tok := tokenFile(t, inst.OIDC.EmailToken("rm@example.org"))
	if r := u.run(t, "sign", art, "--sigstore", "--identity-token", "@"+tok); r.code != 0 || !strings.Contains(r.stderr, "instance public-good") {
		t.Fatalf("sign with the refreshed instance: %s", r)
	}
	if out := u.ok(t, "verify", art, "--bundle", art+".sigstore.json", "--certificate-identity", "rm@example.org", "--certificate-oidc-issuer", inst.OIDC.URL); !strings.Contains(out, "VERIFIED") {
		t.Fatalf("verify with the refreshed root: %s", out)
	}
	u.ok(t, "sigstore", "verify-bundle", "--bundle", art+".sigstore.json", "--certificate-identity", "rm@example.org", "--certificate-oidc-issuer", inst.OIDC.URL, art)
	// Another user, with only the embedded root, does not trust the bundle.
	other := newUser(t, "downloader")
	if r := other.run(t, "verify", art, "--bundle", art+".sigstore.json", "--certificate-identity", "rm@example.org", "--certificate-oidc-issuer", inst.OIDC.URL); r.code != 1 {
		t.Fatalf("the embedded root should not know the private instance: %s", r)
	}
}
