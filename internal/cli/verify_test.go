package cli_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"trel/internal/cli"
)

const (
	verifyGHIdentity = "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
	verifyGHIssuer   = "https://token.actions.githubusercontent.com"
)

// verifyData names a file of the verify package's test data (see its PROVENANCE.md).
func verifyData(parts ...string) string {
	return filepath.Join(append([]string{"..", "verify", "testdata"}, parts...)...)
}

// verifyRun calls the CLI in-process and returns its exit code and output.
func verifyRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Main(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestVerifyCommandExitCodesAndVerdict(t *testing.T) {
	atr := verifyData("atr", "apache-test-0.2.tar.gz")
	atrKey := verifyData("atr", "68FF2E20F02B070D73D416188DE8CC167FE2663A.asc")
	gh := verifyData("gh-cli", "sigstore-js-2.1.0.tgz")
	ghBundle := verifyData("gh-cli", "sigstore-js-2.1.0-bundle.json")

	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     []string // substrings expected on stdout
		stderr     []string // substrings expected on stderr
		notStdout  string   // must not appear on stdout
		emptyStdio bool     // nothing on stdout (usage errors)
	}{
		{
			name:   "signed release with its checksum is verified",
			args:   []string{"verify", atr, "--key", atrKey},
			code:   0,
			stdout: []string{"✓ openpgp", "✓ checksum", "signing subkey A32F0FCCFF48C94FB971F98581B1A0B8D9D20CBA", "VERIFIED: " + atr},
		},
		{
			name:      "signature of another file is not verified",
			args:      []string{"verify", verifyData("scenarios", "other.txt"), "--key", atrKey, "--signature", atr + ".asc"},
			code:      1,
			stdout:    []string{"✗ openpgp", "does not match the file", "NOT VERIFIED", "Do not use this file"},
			notStdout: "✓",
		},
		{
			name:   "KEYS file without the signer names the unknown issuer",
			args:   []string{"verify", atr, "--keys", verifyData("keys", "httpd.KEYS")},
			code:   1,
			stdout: []string{"✗ openpgp", "unknown issuer", "A32F0FCCFF48C94FB971F98581B1A0B8D9D20CBA", "✓ checksum", "NOT VERIFIED"},
		},
		{
			name:   "weak-hash signature is not verified",
			args:   []string{"verify", verifyData("scenarios", "artifact.tar.gz"), "--key", verifyData("scenarios", "key-old.asc"), "--signature", verifyData("scenarios", "artifact.tar.gz.sha1.asc")},
			code:   1,
			stdout: []string{"✗ openpgp", "SHA-1", "NOT VERIFIED"},
		},
		{
			name:   "sigstore bundle from the expected workflow is verified",
			args:   []string{"verify", gh, "--bundle", ghBundle, "--certificate-identity", verifyGHIdentity, "--certificate-oidc-issuer", verifyGHIssuer},
			code:   0,
			stdout: []string{"✓ sigstore", "good Sigstore signature by " + verifyGHIdentity, "VERIFIED"},
		},
		{
			name:   "sigstore bundle with the older gh-cli trusted root is verified",
			args:   []string{"verify", gh, "--bundle", ghBundle, "--certificate-identity", verifyGHIdentity, "--certificate-oidc-issuer", verifyGHIssuer, "--trusted-root", verifyData("gh-cli", "trusted_root.json")},
			code:   0,
			stdout: []string{"✓ sigstore", "VERIFIED"},
		},
		{
			name:   "sigstore bundle from another identity is not verified",
			args:   []string{"verify", gh, "--bundle", ghBundle, "--certificate-identity", "someone@example.org", "--certificate-oidc-issuer", verifyGHIssuer},
			code:   1,
			stdout: []string{"✗ sigstore", "not by the expected someone@example.org", "NOT VERIFIED"},
		},
		{
			// A good signature over an archive that fails its checks is
			// one verdict, NOT VERIFIED, never both.
			name:      "failing archive checks make one NOT VERIFIED verdict",
			args:      []string{"verify", atr, "--key", atrKey, "--archive", "--incubating"},
			code:      1,
			stdout:    []string{"DISCLAIMER", "✓ openpgp", "NOT VERIFIED", "archive check(s) failed"},
			notStdout: "\nVERIFIED",
		},
		{
			name:   "sigstore bundle from an identity matching the regexp is verified",
			args:   []string{"verify", gh, "--bundle", ghBundle, "--certificate-identity-regexp", `https://github\.com/sigstore/sigstore-js/\.github/workflows/.*`, "--certificate-oidc-issuer", verifyGHIssuer},
			code:   0,
			stdout: []string{"✓ sigstore", "good Sigstore signature by " + verifyGHIdentity, "VERIFIED"},
		},
		{
			// Anchored: a part of the identity does not match.
			name:   "sigstore identity regexp must match the whole identity",
			args:   []string{"verify", gh, "--bundle", ghBundle, "--certificate-identity-regexp", "sigstore-js", "--certificate-oidc-issuer", verifyGHIssuer},
			code:   1,
			stdout: []string{"✗ sigstore", "not by the expected identity matching sigstore-js", "NOT VERIFIED"},
		},
		{
			name:       "identity and identity regexp are exclusive",
			args:       []string{"verify", gh, "--bundle", ghBundle, "--certificate-identity", verifyGHIdentity, "--certificate-identity-regexp", ".*", "--certificate-oidc-issuer", verifyGHIssuer},
			code:       2,
			stderr:     []string{"not both"},
			emptyStdio: true,
		},
		{
			name:       "a bad identity regexp is a usage error",
			args:       []string{"verify", gh, "--bundle", ghBundle, "--certificate-identity-regexp", "(", "--certificate-oidc-issuer", verifyGHIssuer},
			code:       2,
			stderr:     []string{"not a valid regular expression"},
			emptyStdio: true,
		},
		{
			name:   "nothing to verify with explains what is missing",
			args:   []string{"verify", verifyData("scenarios", "other.txt")},
			code:   1,
			stdout: []string{"no signature found: expected " + verifyData("scenarios", "other.txt") + ".asc or pass --signature", "NOT VERIFIED"},
		},
		{
			name:   "private key as --key is refused",
			args:   []string{"verify", atr, "--key", verifyTemp(t, "secret.asc", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxx\n-----END PGP PRIVATE KEY BLOCK-----\n")},
			code:   1,
			stderr: []string{"private key material", "treat the key as compromised"},
		},
		{
			name:       "no artifact is a usage error",
			args:       []string{"verify"},
			code:       2,
			stderr:     []string{"usage: trel verify ARTIFACT"},
			emptyStdio: true,
		},
		{
			name:       "two artifacts is a usage error",
			args:       []string{"verify", atr, atr},
			code:       2,
			emptyStdio: true,
		},
		{
			name:       "--keys and --key together is a usage error",
			args:       []string{"verify", atr, "--keys", verifyData("keys", "httpd.KEYS"), "--key", atrKey},
			code:       2,
			stderr:     []string{"not both"},
			emptyStdio: true,
		},
		{
			name:       "identity without issuer is a usage error",
			args:       []string{"verify", gh, "--bundle", ghBundle, "--certificate-identity", verifyGHIdentity},
			code:       2,
			stderr:     []string{"go together"},
			emptyStdio: true,
		},
		{
			name:       "bundle without identity or key is a usage error",
			args:       []string{"verify", gh, "--bundle", ghBundle},
			code:       2,
			stderr:     []string{"--certificate-identity"},
			emptyStdio: true,
		},
		{
			name:       "unknown flag is a usage error",
			args:       []string{"verify", atr, "--sig", "x"},
			code:       2,
			emptyStdio: true,
		},
		{
			name:   "missing signature file given explicitly is an error",
			args:   []string{"verify", atr, "--key", atrKey, "--signature", verifyData("nope.asc")},
			code:   1,
			stderr: []string{"nope.asc"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := verifyRun(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if tt.notStdout != "" && strings.Contains(stdout, tt.notStdout) {
				t.Errorf("stdout has %q:\n%s", tt.notStdout, stdout)
			}
			if tt.emptyStdio && stdout != "" {
				t.Errorf("stdout not empty:\n%s", stdout)
			}
			if code == 0 && stderr != "" {
				t.Errorf("stderr not empty on success:\n%s", stderr)
			}
			// The verdict is said once.
			if n := strings.Count(stdout+stderr, "VERIFIED"); n > 1 {
				t.Errorf("the verdict is printed %d times:\n%s\n%s", n, stdout, stderr)
			}
			if strings.Contains(stdout+stderr, "regenerate") || strings.Contains(stdout+stderr, "re-upload") {
				t.Errorf("release managers' advice given to a downloader:\n%s", stdout)
			}
		})
	}
}

func verifyTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVerifyCommandJSONReport(t *testing.T) {
	atr := verifyData("atr", "apache-test-0.2.tar.gz")
	code, stdout, stderr := verifyRun(t, "verify", "--json", atr, "--keys", verifyData("atr", "68FF2E20F02B070D73D416188DE8CC167FE2663A.asc"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		OK            bool
		Artifact      string
		SHA512        string
		Verifications []struct {
			Kind    string
			File    string
			OK      bool
			Message string
			Details struct {
				SignerFingerprint string
				SubkeyFingerprint string
				UserIDs           []string
				HashAlgorithm     string
				SignatureTime     string
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if !rep.OK || rep.Artifact != atr || len(rep.Verifications) != 2 {
		t.Fatalf("report = %+v", rep)
	}
	pgp := rep.Verifications[0]
	if pgp.Kind != "openpgp" || !pgp.OK || pgp.Details.SignerFingerprint != "68FF2E20F02B070D73D416188DE8CC167FE2663A" ||
		pgp.Details.SubkeyFingerprint != "A32F0FCCFF48C94FB971F98581B1A0B8D9D20CBA" || pgp.Details.HashAlgorithm != "SHA-512" ||
		len(pgp.Details.UserIDs) != 1 || !strings.HasPrefix(pgp.Details.SignatureTime, "2025-10-13T19:14:56") {
		t.Errorf("openpgp verification = %+v", pgp)
	}
	if rep.Verifications[1].Kind != "checksum" || !rep.Verifications[1].OK {
		t.Errorf("checksum verification = %+v", rep.Verifications[1])
	}

	// A failed verification still prints the JSON report, and exits 1.
	code, stdout, _ = verifyRun(t, "verify", "--json", atr, "--keys", verifyData("keys", "httpd.KEYS"))
	var failed struct {
		OK     bool
		Reason string
	}
	if err := json.Unmarshal([]byte(stdout), &failed); err != nil || code != 1 || failed.OK || failed.Reason == "" {
		t.Fatalf("exit %d, report %+v, err %v", code, failed, err)
	}
}

// verifyGPGHome is a throw-away GnuPG home directory.
type verifyGPGHome struct{ dir string }

func newVerifyGPGHome(t *testing.T) *verifyGPGHome {
	t.Helper()
	// Short path: gpg-agent's socket path must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	g := &verifyGPGHome{dir: dir}
	t.Cleanup(func() {
		cmd := exec.Command("gpgconf", "--kill", "gpg-agent")
		cmd.Env = append(os.Environ(), "GNUPGHOME="+dir)
		_ = cmd.Run()
		os.RemoveAll(dir)
	})
	return g
}

func (g *verifyGPGHome) run(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("gpg", append([]string{"--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+g.dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gpg %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// TestVerifyAgreesWithSqvOnAFreshGnuPGSignature signs a file with a key
// made by gpg at test time; trel verify and sqv must both accept it, and
// both must reject it for a modified file.
func TestVerifyAgreesWithSqvOnAFreshGnuPGSignature(t *testing.T) {
	g := newVerifyGPGHome(t)
	uid := "Release Manager <rm@example.org>"
	g.run(t, "--quick-gen-key", uid, "ed25519", "sign", "1y")
	var fpr string
	for _, line := range strings.Split(string(g.run(t, "--with-colons", "--list-keys", uid)), "\n") {
		if strings.HasPrefix(line, "fpr:") {
			fpr = strings.Split(line, ":")[9]
			break
		}
	}
	if len(fpr) != 40 {
		t.Fatalf("no fingerprint for the new key: %q", fpr)
	}

	dir := t.TempDir()
	artifact := filepath.Join(dir, "foo-1.0.tar.gz")
	if err := os.WriteFile(artifact, bytes.Repeat([]byte("release bytes\n"), 10000), 0o644); err != nil {
		t.Fatal(err)
	}
	g.run(t, "--armor", "--digest-algo", "SHA512", "--local-user", fpr, "--output", artifact+".asc", "--detach-sign", artifact)
	keyFile := filepath.Join(dir, "KEYS")
	if err := os.WriteFile(keyFile, g.run(t, "--armor", "--export", fpr), 0o644); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := verifyRun(t, "verify", artifact, "--keys", keyFile)
	if code != 0 || !strings.Contains(stdout, "good signature by "+uid) || !strings.Contains(stdout, fpr) || !strings.Contains(stdout, "VERIFIED") {
		t.Fatalf("trel verify: exit %d\n%s%s", code, stdout, stderr)
	}
	out, err := exec.Command("sqv", "--keyring", keyFile, artifact+".asc", artifact).CombinedOutput()
	if err != nil || !strings.Contains(string(out), fpr) {
		t.Fatalf("sqv disagrees: %v\n%s", err, out)
	}

	// Both refuse the signature for a modified file.
	tampered := filepath.Join(dir, "tampered.tar.gz")
	if err := os.WriteFile(tampered, []byte("something else\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = verifyRun(t, "verify", tampered, "--keys", keyFile, "--signature", artifact+".asc")
	if code != 1 || !strings.Contains(stdout, "NOT VERIFIED") {
		t.Fatalf("trel verify of a tampered file: exit %d\n%s", code, stdout)
	}
	if out, err := exec.Command("sqv", "--keyring", keyFile, artifact+".asc", tampered).CombinedOutput(); err == nil {
		t.Fatalf("sqv accepts a tampered file:\n%s", out)
	}

	// The secret key is refused as --key, with the advice to revoke it.
	secret := filepath.Join(dir, "secret.asc")
	if err := os.WriteFile(secret, g.run(t, "--armor", "--export-secret-keys", fpr), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = verifyRun(t, "verify", artifact, "--key", secret)
	if code != 1 || !strings.Contains(stderr, "private key material") {
		t.Fatalf("secret key as --key: exit %d\n%s", code, stderr)
	}
}

// TestVerifyAdvisesDownloaders: a damaged download is reported with advice
// for whoever downloaded it (download again), never the release managers'
// (regenerate the checksum file).
func TestVerifyAdvisesDownloaders(t *testing.T) {
	orig, err := os.ReadFile(verifyData("atr", "apache-test-0.2.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(verifyData("atr", "apache-test-0.2.tar.gz.sha512"))
	if err != nil {
		t.Fatal(err)
	}
	art := verifyTemp(t, "apache-test-0.2.tar.gz", string(orig[:len(orig)-10]))
	if err := os.WriteFile(art+".sha512", sum, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := verifyRun(t, "verify", art)
	if code != 1 || !strings.Contains(stdout, "download it again") || strings.Contains(stdout+stderr, "regenerate") || strings.Contains(stdout+stderr, "re-upload") {
		t.Errorf("exit %d:\n%s\n%s", code, stdout, stderr)
	}
}

// TestVerifyArchiveNeutralizesMemberNames: `trel verify --archive` prints
// messages that name the archive's members; a right-to-left override in a
// name is shown as an escape, never sent to the terminal.
func TestVerifyArchiveNeutralizesMemberNames(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range map[string]string{
		"w-1.0-src/src/evil\u202egnp.java": "class A {}\n",
		"w-1.0-src/src/B.java":             "class B {}\n",
	} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Format: tar.FormatPAX})
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	art := filepath.Join(dir, "w-1.0-src.tar.gz")
	os.WriteFile(art, buf.Bytes(), 0o644)
	_, stdout, stderr := verifyRun(t, "verify", art, "--archive")
	if strings.ContainsRune(stdout+stderr, '\u202e') {
		t.Fatalf("a bidi control reached the terminal:\n%s\n%s", stdout, stderr)
	}
	if !strings.Contains(stdout, `\u202e`) {
		t.Fatalf("the member is not named:\n%s\n%s", stdout, stderr)
	}
}
