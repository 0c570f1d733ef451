package cli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSigstoreVerifyBundleConformance(t *testing.T) {
	// The gh-cli bundle is an in-toto attestation over the tarball's SHA-512:
	// checked against the file. The sigstore-python wheel bundle signs the
	// SHA-256 of the wheel: checked against the file and the digest form.
	gh := verifyData("gh-cli", "sigstore-js-2.1.0.tgz")
	ghBundle := verifyData("gh-cli", "sigstore-js-2.1.0-bundle.json")
	ghID := []string{"--certificate-identity", verifyGHIdentity, "--certificate-oidc-issuer", verifyGHIssuer}
	whl := verifyData("sigstore-python", "bundle_v3_github.whl")
	whlID := []string{"--certificate-identity", "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2", "--certificate-oidc-issuer", verifyGHIssuer}
	yossarian := []string{"--certificate-identity", "william@yossarian.net", "--certificate-oidc-issuer", "https://github.com/login/oauth"}
	data, err := os.ReadFile(whl)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	otherDigest := "sha256:" + strings.Repeat("ab", 32)
	broken := verifyTemp(t, "broken.sigstore.json", `{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}`)
	py := func(name string) string { return verifyData("sigstore-python", name) }
	with := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	one := func(s ...string) []string { return s }

	tests := []struct {
		name  string
		args  []string
		valid bool
		usage bool   // exit 2
		text  string // expected on stderr when not valid
	}{
		{name: "valid attestation bundle for the file", args: with(one("--bundle", ghBundle), ghID, one(gh)), valid: true},
		{name: "valid v0.1 attestation bundle for the file", args: with(one("--bundle", verifyData("gh-cli", "sigstore-js-2.1.0-bundle-v0.1.json")), ghID, one(gh)), valid: true},
		{name: "valid attestation bundle with an explicit trusted root", args: with(one("--bundle", ghBundle, "--trusted-root", verifyData("gh-cli", "trusted_root.json")), ghID, one(gh)), valid: true},
		{name: "valid message bundle for the file", args: with(one("--bundle", whl+".sigstore"), whlID, one(whl)), valid: true},
		{name: "valid message bundle for the sha256 digest", args: with(one("--bundle", whl+".sigstore"), whlID, one(digest)), valid: true},
		{name: "valid staging bundle with --staging", args: with(one("--staging", "--bundle", py("bundle_v3.txt.sigstore")), yossarian, one(py("bundle_v3.txt"))), valid: true},
		{name: "message bundle for another digest", args: with(one("--bundle", whl+".sigstore"), whlID, one(otherDigest)), text: "bundle not verified"},
		{name: "attestation bundle for another file", args: with(one("--bundle", ghBundle), ghID, one(whl)), text: "bundle not verified"},
		{name: "wrong identity", args: with(one("--bundle", whl+".sigstore"), ghID, one(digest)), text: "not a trusted identity"},
		{name: "staging bundle without --staging", args: with(one("--bundle", py("bundle_v3.txt.sigstore")), yossarian, one(py("bundle_v3.txt"))), text: "unknown log"},
		{name: "public-good bundle with --staging", args: with(one("--staging", "--bundle", whl+".sigstore"), whlID, one(digest)), text: "unknown log"},
		{name: "CVE-2022-36056 inconsistent log entry", args: with(one("--staging", "--bundle", py("bundle_cve_2022_36056.txt.sigstore")), yossarian, one(py("bundle_cve_2022_36056.txt"))), text: "transparency-log entry does not match"},
		{name: "bundle without trusted time", args: with(one("--bundle", py("bundle_v3_no_signed_time.txt.sigstore.json")), yossarian, one(py("bundle_v3_no_signed_time.txt"))), text: "no trusted time"},
		{name: "certificate bundle checked with a key", args: one("--bundle", whl+".sigstore", "--key", verifyData("sigstore-go", "publish_key.pub"), digest), text: "bundle not verified"},
		{name: "structurally broken bundle", args: with(one("--bundle", broken), whlID, one(digest)), text: "invalid Sigstore bundle"},
		{name: "malformed digest", args: with(one("--bundle", whl+".sigstore"), whlID, one("sha256:abc")), text: "64 hex digits"},
		{name: "no bundle", args: with(whlID, one(digest)), usage: true, text: "--bundle is required"},
		{name: "neither identity nor key", args: one("--bundle", whl+".sigstore", digest), usage: true, text: "is required"},
		{name: "identity and key", args: with(one("--bundle", whl+".sigstore", "--key", verifyData("sigstore-go", "publish_key.pub")), whlID, one(digest)), usage: true, text: "not both"},
		{name: "no artifact", args: with(one("--bundle", whl+".sigstore"), whlID), usage: true, text: "accepts 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := verifyRun(t, append([]string{"sigstore", "verify-bundle"}, tt.args...)...)
			switch {
			case tt.valid:
				if code != 0 || !strings.HasPrefix(stdout, "OK") {
					t.Fatalf("exit %d, want 0\n%s%s", code, stdout, stderr)
				}
				return
			case tt.usage && code != 2:
				t.Fatalf("exit %d, want 2 (usage)\n%s", code, stderr)
			case code == 0:
				t.Fatalf("exit 0 for an invalid bundle\n%s", stdout)
			}
			if !strings.Contains(stderr, tt.text) {
				t.Errorf("stderr lacks %q:\n%s", tt.text, stderr)
			}
		})
	}
}

// TestSigstoreSignBundleRefusals: command-line mistakes exit 2, a token
// that is not a JWT exits 1 without echoing it, and nothing is written.
func TestSigstoreSignBundleRefusals(t *testing.T) {
	dir := t.TempDir()
	art := filepath.Join(dir, "a.txt")
	os.WriteFile(art, []byte("a"), 0o644)
	out := filepath.Join(dir, "out.json")
	const secret = "not-a-jwt-but-a-secret-value"
	for _, tt := range []struct {
		name string
		args []string
		code int
		text string
	}{
		{"no bundle", []string{"--identity-token", secret, art}, 2, "--bundle is required"},
		{"no token", []string{"--bundle", out, art}, 2, "--identity-token is required"},
		{"malformed token", []string{"--identity-token", secret, "--bundle", out, art}, 1, "not an OIDC identity token"},
		{"bad signing config", []string{"--identity-token", secret, "--bundle", out, "--signing-config", art, art}, 2, "signing configuration"},
	} {
		code, stdout, stderr := verifyRun(t, append([]string{"sigstore", "sign-bundle"}, tt.args...)...)
		if code != tt.code || stdout != "" || !strings.Contains(stderr, tt.text) {
			t.Errorf("%s: exit %d\nstdout: %s\nstderr: %s", tt.name, code, stdout, stderr)
		}
		if strings.Contains(stderr, secret) {
			t.Errorf("%s: the token was printed: %s", tt.name, stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%s: sign-bundle wrote a bundle", tt.name)
		}
	}
}

// TestSignRefusesAFileGivenTwice: `trel sign a ./a` (or a hard link to a)
// would sign twice and then fail writing the second signature over the
// first: refused before anything is signed, for every kind of signature.
func TestSignRefusesAFileGivenTwice(t *testing.T) {
	dir := t.TempDir()
	art := filepath.Join(dir, "a.tar.gz")
	os.WriteFile(art, []byte("a"), 0o644)
	link := filepath.Join(dir, "b.tar.gz")
	if err := os.Link(art, link); err != nil {
		t.Fatal(err)
	}
	for _, kind := range [][]string{{"--sigstore", "--identity-token", "x"}, {"--key", art}} {
		for _, pair := range [][2]string{{art, filepath.Join(dir, ".", "a.tar.gz")}, {art, link}} {
			code, stdout, stderr := verifyRun(t, append([]string{"sign", pair[0], pair[1]}, kind...)...)
			if code != 2 || stdout != "" || !strings.Contains(stderr, "are the same file: give each file once") {
				t.Errorf("%v %v: exit %d\nstdout: %s\nstderr: %s", kind[0], pair, code, stdout, stderr)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("something was written: %v", entries)
	}
}
