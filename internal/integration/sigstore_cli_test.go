package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trel/internal/testutil/oidctest"
	"trel/internal/testutil/sigstoretest"
)

// sigstoreArgs points a command at the private instance.
func sigstoreArgs(inst *sigstoretest.Instance) []string {
	return []string{"--signing-config", inst.SigningConfigPath, "--trusted-root", inst.TrustedRootPath}
}

// tokenFile writes a token where only its owner reads it, for @FILE.
func tokenFile(t *testing.T, tok string) string {
	p := filepath.Join(t.TempDir(), "token")
	writeFile(t, p, []byte(tok))
	return p
}

// noToken fails the test if a command printed the identity token or a
// part of it.
func noToken(t *testing.T, r result, tok string) {
	t.Helper()
	for _, part := range append(strings.Split(tok, "."), tok) {
		if len(part) > 8 && (strings.Contains(r.stdout, part) || strings.Contains(r.stderr, part)) {
			t.Fatalf("the identity token appears in the output of trel %s:\n%s", strings.Join(r.args, " "), r)
		}
	}
}

// TestSigstoreSignCLI: `trel sign --sigstore` against the private instance:
// bundles next to each file with a summary line, verified by trel and by
// sigstore-go directly; a tampered artifact and a wrong identity fail
// verification; an expired token, a token Fulcio refuses and an unreachable
// service sign and write nothing; the token never shows.
func TestSigstoreSignCLI(t *testing.T) {
	inst := privateSigstore(t)
	u := newUser(t, "rm")
	dir := t.TempDir()
	a, b := filepath.Join(dir, "widget-1.0.tar.gz"), filepath.Join(dir, "widget-1.0.zip")
	dataA := pseudoRandom("sigstore-a", 3<<20)
	writeFile(t, a, dataA)
	writeFile(t, b, []byte("zip"))
	tok := inst.OIDC.EmailToken("rm@example.org")

	start := time.Now()
	r := u.runIn(t, dir, "", append([]string{"sign", a, b, "--sigstore", "--identity-token", "@" + tokenFile(t, tok)}, sigstoreArgs(inst)...)...)
	if r.code != 0 {
		t.Fatalf("sign --sigstore: %s", r)
	}
	t.Logf("trel sign --sigstore of 2 files (3 MiB), one certificate: %s", time.Since(start))
	noToken(t, r, tok)
	for _, f := range []string{a, b} {
		if !strings.Contains(r.stdout, "Signed "+f+" -> "+f+".sigstore.json: rm@example.org (issuer "+inst.OIDC.URL+"), log index ") {
			t.Fatalf("no summary line for %s:\n%s", f, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "Signing as rm@example.org") {
		t.Errorf("trel should say who signs: %s", r.stderr)
	}
	bundleA := readFile(t, a+".sigstore.json")
	sum := sha256.Sum256(dataA)
	if err := independentVerify(t, inst, bundleA, sum[:], "rm@example.org"); err != nil {
		t.Fatalf("sigstore-go refuses the bundle: %v", err)
	}

	verifyArgs := func(file, identity string) []string {
		return []string{"verify", file, "--bundle", a + ".sigstore.json", "--certificate-identity", identity,
			"--certificate-oidc-issuer", inst.OIDC.URL, "--trusted-root", inst.TrustedRootPath}
	}
	if out := u.ok(t, verifyArgs(a, "rm@example.org")...); !strings.Contains(out, "VERIFIED") {
		t.Fatalf("trel verify: %s", out)
	}
	tampered := filepath.Join(dir, "tampered.tar.gz")
	changed := append([]byte(nil), dataA...)
	changed[len(changed)/2] ^= 1
	writeFile(t, tampered, changed)
	// The verdict is printed once, on standard output, with advice for
	// whoever downloaded the file.
	if r := u.run(t, verifyArgs(tampered, "rm@example.org")...); r.code != 1 || !strings.Contains(r.stdout, "NOT VERIFIED") || !strings.Contains(r.stdout, "Download it again") || r.stderr != "" {
		t.Fatalf("tampered file: %s", r)
	}
	if r := u.run(t, verifyArgs(a, "mallory@example.org")...); r.code != 1 || !strings.Contains(r.stdout, "not by the expected mallory@example.org") {
		t.Fatalf("another identity: %s", r)
	}
	// The conformance verifier agrees.
	u.ok(t, "sigstore", "verify-bundle", "--bundle", a+".sigstore.json", "--certificate-identity", "rm@example.org",
		"--certificate-oidc-issuer", inst.OIDC.URL, "--trusted-root", inst.TrustedRootPath, a)

	// Never over an existing bundle.
	r = u.runIn(t, dir, tok, append([]string{"sign", a, "--sigstore", "--identity-token", "-"}, sigstoreArgs(inst)...)...)
	checkFailure(t, r, 2, "already exists")
	noToken(t, r, tok)

	// Failures write nothing, and never show the token.
	c := filepath.Join(dir, "c.tar.gz")
	writeFile(t, c, []byte("c"))
	expired := inst.OIDC.Mint(map[string]any{"sub": "rm@example.org", "email": "rm@example.org", "email_verified": true,
		"aud": "sigstore", "iat": time.Now().Add(-time.Hour).Unix(), "exp": time.Now().Add(-30 * time.Minute).Unix()})
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	unpublished, err := inst.OIDC.MintWith(oidctest.MintOptions{Key: stranger, Claims: map[string]any{"sub": "rm@example.org",
		"email": "rm@example.org", "email_verified": true, "aud": "sigstore"}})
	if err != nil {
		t.Fatal(err)
	}
	wrongAudience := inst.OIDC.Mint(map[string]any{"sub": "rm@example.org", "email": "rm@example.org", "email_verified": true, "aud": "someone-else"})
	unreachable := filepath.Join(dir, "unreachable.json")
	cfg := strings.ReplaceAll(string(inst.SigningConfigJSON), inst.FulcioURL, "http://"+freeAddr(t))
	writeFile(t, unreachable, []byte(cfg))
	for _, tt := range []struct {
		name, token string
		args        []string
		want        string
	}{
		{"expired token", expired, sigstoreArgs(inst), "expired"},
		{"token signed by an unpublished key", unpublished, sigstoreArgs(inst), "did not issue a certificate"},
		{"token for another audience", wrongAudience, sigstoreArgs(inst), "did not issue a certificate"},
		{"unreachable Fulcio", tok, []string{"--signing-config", unreachable, "--trusted-root", inst.TrustedRootPath}, "cannot reach the certificate authority"},
	} {
		// Tokens go through standard input: test output shows arguments.
		r := u.runIn(t, dir, tt.token, append([]string{"sign", c, "--sigstore", "--identity-token", "-"}, tt.args...)...)
		checkSignFailure(t, r, 1, tt.want)
		noToken(t, r, tt.token)
		if _, err := os.Stat(c + ".sigstore.json"); err == nil {
			t.Fatalf("%s: a bundle was written", tt.name)
		}
	}

	// Ambient CI credentials: GitLab's id_tokens hand the token over in
	// SIGSTORE_ID_TOKEN.
	ci := newUser(t, "ci")
	ci.env = []string{"SIGSTORE_ID_TOKEN=" + inst.OIDC.EmailToken("ci@example.org")}
	e := filepath.Join(dir, "e.tar.gz")
	writeFile(t, e, []byte("from CI"))
	r = ci.runIn(t, dir, "", append([]string{"sign", e, "--sigstore"}, sigstoreArgs(inst)...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "ci@example.org") || !strings.Contains(r.stderr, "token from ambient") {
		t.Fatalf("ambient token: %s", r)
	}

	// --dsse: an in-toto statement naming the file, verified by trel.
	d := filepath.Join(dir, "d.tar.gz")
	writeFile(t, d, []byte("dsse me"))
	r = u.runIn(t, dir, tok, append([]string{"sign", d, "--sigstore", "--dsse", "--identity-token", "-", "--json"}, sigstoreArgs(inst)...)...)
	if r.code != 0 {
		t.Fatalf("--dsse: %s", r)
	}
	var out struct {
		Signatures []struct {
			File     string `json:"file"`
			Identity string `json:"identity"`
			LogIndex int64  `json:"log_index"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Signatures) != 1 || out.Signatures[0].Identity != "rm@example.org" {
		t.Fatalf("--json: %v %s", err, r.stdout)
	}
	var bundle struct {
		DSSE struct {
			PayloadType string `json:"payloadType"`
			Payload     []byte `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	json.Unmarshal(readFile(t, d+".sigstore.json"), &bundle)
	if bundle.DSSE.PayloadType != "application/vnd.in-toto+json" || !strings.Contains(string(bundle.DSSE.Payload), `"name":"d.tar.gz"`) {
		t.Fatalf("DSSE bundle: %+v", bundle)
	}
	if out := u.ok(t, "verify", d, "--bundle", d+".sigstore.json", "--certificate-identity", "rm@example.org",
		"--certificate-oidc-issuer", inst.OIDC.URL, "--trusted-root", inst.TrustedRootPath); !strings.Contains(out, "VERIFIED") {
		t.Fatalf("verify DSSE: %s", out)
	}
}

// checkSignFailure is checkFailure for commands that print progress on
// stderr before the error: the error is the last line.
func checkSignFailure(t *testing.T, r result, code int, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := lines[len(lines)-1]
	if r.code != code || !strings.HasPrefix(last, "trel: ") || !strings.Contains(last, want) {
		t.Errorf("want exit %d and a last line \"trel: ...%s...\"; got %s", code, want, r)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readFileErr(p string) ([]byte, error) { return os.ReadFile(p) }
