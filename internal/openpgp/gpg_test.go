package openpgp

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The tests below drive real GnuPG (keys, signatures, revocations) and
// compare verdicts with sqv. CI installs gnupg and sqv; a missing tool is a
// test failure, never a skip.

func TestMain(m *testing.M) {
	code := m.Run()
	if world != nil {
		world.home.close()
	}
	os.Exit(code)
}

func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required for this test (apt-get install -y gnupg gpgv sqv openssh-client): %v", name, err)
	}
	return p
}

// gpgHome is a throw-away GNUPGHOME.
type gpgHome struct {
	dir string
}

func newGPGHome(t testing.TB) *gpgHome {
	t.Helper()
	requireTool(t, "gpg")
	dir, err := os.MkdirTemp("", "trelgpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return &gpgHome{dir: dir}
}

func (g *gpgHome) close() {
	_ = exec.Command("gpgconf", "--homedir", g.dir, "--kill", "all").Run()
	_ = os.RemoveAll(g.dir)
}

// run runs gpg at a faked time ("" for now) and returns stdout; it fails
// the test when gpg exits non-zero.
func (g *gpgHome) run(t testing.TB, at string, stdin string, args ...string) []byte {
	t.Helper()
	out, stderr, err := g.try(at, stdin, args...)
	if err != nil {
		t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

func (g *gpgHome) try(at string, stdin string, args ...string) ([]byte, string, error) {
	base := []string{"--homedir", g.dir, "--pinentry-mode", "loopback", "--passphrase", "", "--yes"}
	if stdin == "" {
		base = append(base, "--batch")
	} else {
		base = append(base, "--no-tty", "--command-fd", "0")
	}
	if at != "" {
		base = append(base, "--faked-system-time", at)
	}
	cmd := exec.Command("gpg", append(base, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.Bytes(), errb.String(), err
}

// genKey creates a key and returns its fingerprint.
func (g *gpgHome) genKey(t testing.TB, at, uid, algo, usage, expire string) string {
	t.Helper()
	g.run(t, at, "", "--quick-gen-key", uid, algo, usage, expire)
	return g.fpr(t, uid)
}

func (g *gpgHome) fpr(t testing.TB, uid string) string {
	t.Helper()
	out := g.run(t, "", "", "--with-colons", "--list-keys", uid)
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "fpr:") {
			return strings.Split(line, ":")[9]
		}
	}
	t.Fatalf("no fingerprint for %s", uid)
	return ""
}

// revoke makes a revocation certificate; menu is gpg's reason choice
// (0 none, 1 compromised, 2 superseded, 3 retired).
func (g *gpgHome) revoke(t testing.TB, at, fpr string, menu int) []byte {
	t.Helper()
	out := filepath.Join(g.dir, fmt.Sprintf("rev-%s-%d.asc", fpr, menu))
	g.run(t, at, fmt.Sprintf("y\n%d\ntest revocation\n\ny\n", menu), "--armor", "--output", out, "--gen-revoke", fpr)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func (g *gpgHome) sign(t testing.TB, at, key string, data []byte, extra ...string) []byte {
	t.Helper()
	in := filepath.Join(g.dir, "data.bin")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--local-user", key, "--armor", "--output", "-"}, extra...)
	if len(extra) == 0 {
		args = append(args, "--detach-sign")
	}
	return g.run(t, at, "", append(args, in)...)
}

// sqvValid reports whether sqv accepts the signature (exit status 0).
func sqvValid(t testing.TB, keyring, sig, data []byte) bool {
	t.Helper()
	sqv := requireTool(t, "sqv")
	dir := t.TempDir()
	kf, sf, df := filepath.Join(dir, "keys"), filepath.Join(dir, "sig.asc"), filepath.Join(dir, "data")
	for f, b := range map[string][]byte{kf: keyring, sf: sig, df: data} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// sqv 1.1: sqv --keyring FILE SIG-FILE FILE
	cmd := exec.Command(sqv, "--keyring", kf, sf, df)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("sqv: %v", err)
		}
		t.Logf("sqv: %s", bytes.TrimSpace(out))
		return false
	}
	return true
}

// gpgWorld holds keys made once for all GnuPG tests.
type gpgWorldT struct {
	home *gpgHome
	fpr  map[string]string
	pub  map[string][]byte // armored public exports
}

var (
	world     *gpgWorldT
	worldOnce sync.Once
	worldErr  string
)

// Key names in the world.
const (
	wEd       = "ed"       // ed25519 primary that signs, made now
	wRSA      = "rsa"      // RSA-4096 primary that signs
	wSub      = "sub"      // ed25519 certify-only primary + signing subkey
	wExp      = "exp"      // made 2020-01-01, expires after 1 year
	wExpLater = "explater" // made 2020-01-01, expiry set later to 2021-01-01
	wSuper    = "super"    // revoked 2022-01-01 as superseded
	wComp     = "comp"     // revoked 2022-01-01 as compromised
	wNoReason = "noreason" // revoked 2022-01-01 with "no reason specified"
	wPass     = "pass"     // protected with passphrase "pw"
)

func gpgWorld(t testing.TB) *gpgWorldT {
	t.Helper()
	worldOnce.Do(func() {
		w := &gpgWorldT{home: newGPGHome(t), fpr: map[string]string{}, pub: map[string][]byte{}}
		world = w
		// t.Fatal inside ends this func through Goexit: the defer still runs.
		defer func() {
			if t.Failed() {
				worldErr = "building the GnuPG key world failed"
			}
		}()
		g := w.home
		uid := func(n string) string { return n + " <" + n + "@example.org>" }
		w.fpr[wEd] = g.genKey(t, "", uid(wEd), "ed25519", "sign", "never")
		w.fpr[wRSA] = g.genKey(t, "", uid(wRSA), "rsa4096", "sign", "never")
		w.fpr[wSub] = g.genKey(t, "", uid(wSub), "ed25519", "cert", "never")
		g.run(t, "", "", "--quick-add-key", w.fpr[wSub], "ed25519", "sign", "2y")
		w.fpr[wExp] = g.genKey(t, "20200101T000000!", uid(wExp), "ed25519", "sign", "1y")
		w.fpr[wExpLater] = g.genKey(t, "20200101T000000!", uid(wExpLater), "ed25519", "sign", "never")
		for _, n := range []string{wSuper, wComp, wNoReason} {
			w.fpr[n] = g.genKey(t, "20200101T000000!", uid(n), "ed25519", "sign", "never")
		}
		// The passphrase-protected key needs its own passphrase on the command line.
		g.run(t, "", "", "--passphrase", "pw", "--quick-gen-key", uid(wPass), "ed25519", "sign", "never")
		w.fpr[wPass] = g.fpr(t, uid(wPass))
		for n, f := range w.fpr {
			w.pub[n] = g.run(t, "", "", "--armor", "--export", f)
		}
	})
	if worldErr != "" || world == nil {
		t.Fatalf("gpg world unavailable: %s", worldErr)
	}
	return world
}

func TestGnuPGInteropAgreesWithSqv(t *testing.T) {
	w := gpgWorld(t)
	g := w.home
	data := []byte("release artifact bytes\n")
	other := []byte("some other file\n")

	// Signatures made at chosen times, before the revocations below.
	sigs := map[string][]byte{
		"ed":             g.sign(t, "", w.fpr[wEd], data),
		"rsa":            g.sign(t, "", w.fpr[wRSA], data),
		"rsa-sha1":       g.sign(t, "", w.fpr[wRSA], data, "--digest-algo", "SHA1", "--detach-sign"),
		"sub":            g.sign(t, "", w.fpr[wSub], data),
		"exp-in-time":    g.sign(t, "20200601T000000!", w.fpr[wExp], data),
		"exp-late":       g.sign(t, "20210601T000000!", w.fpr[wExpLater], data),
		"super-before":   g.sign(t, "20200601T000000!", w.fpr[wSuper], data),
		"super-after":    g.sign(t, "20220601T000000!", w.fpr[wSuper], data),
		"comp-before":    g.sign(t, "20200601T000000!", w.fpr[wComp], data),
		"noreason-early": g.sign(t, "20200601T000000!", w.fpr[wNoReason], data),
		"textmode":       g.sign(t, "", w.fpr[wEd], data, "--textmode", "--detach-sign"),
		"two-signers":    g.sign(t, "", w.fpr[wEd], data, "--local-user", w.fpr[wRSA], "--detach-sign"),
	}
	// Key changes after the signatures: expiry set at 2020-02-01 to end
	// 2021-01-01; revocations dated 2022-01-01.
	g.run(t, "20200201T000000!", "", "--quick-set-expire", w.fpr[wExpLater], "2021-01-01")
	explater := g.run(t, "", "", "--armor", "--export", w.fpr[wExpLater])
	revSuper := g.revoke(t, "20220101T000000!", w.fpr[wSuper], 2)
	revComp := g.revoke(t, "20220101T000000!", w.fpr[wComp], 1)
	revNone := g.revoke(t, "20220101T000000!", w.fpr[wNoReason], 0)

	keyrings := map[string][]byte{
		wEd:       w.pub[wEd],
		wRSA:      w.pub[wRSA],
		wSub:      w.pub[wSub],
		wExp:      w.pub[wExp],
		wExpLater: explater,
		// Revocation certificates as separate blocks after the key.
		wSuper:    append(append([]byte(nil), w.pub[wSuper]...), revSuper...),
		wComp:     append(append([]byte(nil), w.pub[wComp]...), revComp...),
		wNoReason: append(append([]byte(nil), w.pub[wNoReason]...), revNone...),
		"ed+rsa":  append(append([]byte(nil), w.pub[wEd]...), w.pub[wRSA]...),
	}
	tests := []struct {
		name    string
		keyring string
		sig     string
		data    []byte
		valid   bool
		code    string
		subkey  bool
	}{
		{"ed25519 primary signature valid", wEd, "ed", data, true, "", false},
		{"ed25519 signature over other data invalid", wEd, "ed", other, false, CodeBadSignature, false},
		{"rsa-4096 signature valid", wRSA, "rsa", data, true, "", false},
		{"sha-1 digest refused", wRSA, "rsa-sha1", data, false, CodeWeakHash, false},
		{"signing subkey signature valid", wSub, "sub", data, true, "", true},
		{"expired now but valid when signed", wExp, "exp-in-time", data, true, "", false},
		{"signed after the key had expired", wExpLater, "exp-late", data, false, CodeKeyExpired, false},
		{"superseded after signing stays valid", wSuper, "super-before", data, true, "", false},
		{"signed after superseded revocation", wSuper, "super-after", data, false, CodeKeyRevoked, false},
		{"compromised invalid even for older signature", wComp, "comp-before", data, false, CodeKeyRevoked, false},
		{"no reason specified treated as compromised", wNoReason, "noreason-early", data, false, CodeKeyRevoked, false},
		{"unknown issuer", wEd, "rsa", data, false, CodeUnknownIssuer, false},
		{"text mode signature valid", wEd, "textmode", data, true, "", false},
		{"two signers both recorded", "ed+rsa", "two-signers", data, true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keyring := keyrings[tt.keyring]
			res, err := LoadKeys(bytes.NewReader(keyring))
			if err != nil {
				t.Fatal(err)
			}
			got := VerifyDetached(sigs[tt.sig], res.Certs, BytesSource(tt.data), VerifyOptions{})
			if got.Valid != tt.valid || (!tt.valid && got.ReasonCode != tt.code) {
				t.Fatalf("valid=%v code=%q (%s), want valid=%v code=%q", got.Valid, got.ReasonCode, got.Reason, tt.valid, tt.code)
			}
			if tt.subkey && got.Signatures[0].SubkeyFingerprint == "" {
				t.Errorf("subkey signature without SubkeyFingerprint: %+v", got.Signatures[0])
			}
			if tt.sig == "two-signers" && (len(got.Signatures) != 2 || !got.Signatures[0].Valid || !got.Signatures[1].Valid) {
				t.Errorf("two signers: %+v", got.Signatures)
			}
			if sq := sqvValid(t, keyring, sigs[tt.sig], tt.data); sq != got.Valid {
				t.Errorf("sqv says valid=%v, trel says %v (%s)", sq, got.Valid, got.Reason)
			}
			// The canonical export keeps what decided the verdict.
			var export []byte
			for _, c := range res.Certs {
				a, err := c.Armored()
				if err != nil {
					t.Fatal(err)
				}
				export = append(export, a...)
			}
			if sq := sqvValid(t, export, sigs[tt.sig], tt.data); sq != got.Valid {
				t.Errorf("sqv on trel's export says valid=%v, trel says %v", sq, got.Valid)
			}
		})
	}

	// A text-mode signature cannot be finished from saved hash states.
	state, _ := SaveHashStates(bytes.NewReader(data))
	ed, _ := LoadKeys(bytes.NewReader(w.pub[wEd]))
	if res := VerifyDetached(sigs["textmode"], ed.Certs, state, VerifyOptions{}); res.Valid || res.ReasonCode != CodeHashUnavailable {
		t.Errorf("text-mode signature from state only: %+v", res)
	}
	state.Fallback = BytesSource(data)
	if res := VerifyDetached(sigs["textmode"], ed.Certs, state, VerifyOptions{}); !res.Valid {
		t.Errorf("text-mode signature with fallback: %s", res.Reason)
	}
	// Clearsigned and inline-signed messages are not detached signatures.
	for _, mode := range []string{"--clearsign", "--sign"} {
		msg := g.sign(t, "", w.fpr[wEd], data, mode)
		if res := VerifyDetached(msg, ed.Certs, BytesSource(data), VerifyOptions{}); res.ReasonCode != CodeNotDetached {
			t.Errorf("%s: code %q, want %q", mode, res.ReasonCode, CodeNotDetached)
		}
	}
}

func TestArmoredExportImportsIntoGnuPG(t *testing.T) {
	for _, file := range []string{"keys/tomcat.KEYS", "scenarios/key-revoked-compromised.asc", "atr/68FF2E20F02B070D73D416188DE8CC167FE2663A.asc"} {
		t.Run(file, func(t *testing.T) {
			res := loadFixture(t, file)
			fresh := newGPGHome(t)
			defer fresh.close()
			for _, c := range res.Certs {
				armored, err := c.Armored()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(armored, []byte("\n=")) || !bytes.HasSuffix(armored, []byte("-----END PGP PUBLIC KEY BLOCK-----\n")) {
					t.Errorf("export lacks the CRC line or the final newline")
				}
				path := filepath.Join(fresh.dir, "k.asc")
				if err := os.WriteFile(path, armored, 0o600); err != nil {
					t.Fatal(err)
				}
				fresh.run(t, "", "", "--import", path)
				out := fresh.run(t, "", "", "--with-colons", "--list-keys", c.Fingerprint)
				wantValidity := "pub:-:"
				if c.Revocation != nil {
					wantValidity = "pub:r:"
				}
				if !strings.Contains(string(out), wantValidity) {
					t.Errorf("gpg lists %s as %q, want %q", c.Fingerprint, firstLine(out), wantValidity)
				}
			}
		})
	}
}

func firstLine(b []byte) string {
	s := string(b)
	if i := strings.Index(s, "\n"); i >= 0 {
		return s[:i]
	}
	return s
}

func TestMergeAddsUserIDsAndSubkeysFromGnuPGRefresh(t *testing.T) {
	w := gpgWorld(t)
	g := w.home
	fpr := g.genKey(t, "", "Refresh Me <refresh@example.org>", "ed25519", "cert", "never")
	before := g.run(t, "", "", "--armor", "--export", fpr)
	g.run(t, "", "", "--quick-add-uid", fpr, "Refresh Me <refresh@apache.example>")
	g.run(t, "", "", "--quick-add-key", fpr, "ed25519", "sign", "1y")
	after := g.run(t, "", "", "--armor", "--export", fpr)

	oldRes, _ := LoadKeys(bytes.NewReader(before))
	newRes, _ := LoadKeys(bytes.NewReader(after))
	if len(oldRes.Certs) != 1 || len(newRes.Certs) != 1 {
		t.Fatal("keys did not load")
	}
	merged, changed, err := Merge(oldRes.Certs[0], newRes.Certs[0])
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if len(merged.UserIDs) != 2 || len(merged.Emails) != 2 || len(merged.Subkeys) != 1 || !merged.Subkeys[0].CanSign {
		t.Fatalf("merged: uids=%q emails=%q subkeys=%+v", merged.UserIDs, merged.Emails, merged.Subkeys)
	}
	if len(oldRes.Certs[0].UserIDs) != 1 || len(oldRes.Certs[0].Subkeys) != 0 {
		t.Fatal("Merge changed the stored certificate")
	}
	// A signature by the new subkey verifies with the merged key only.
	data := []byte("signed by the new subkey\n")
	sig := g.sign(t, "", fpr, data)
	if VerifyDetached(sig, oldRes.Certs, BytesSource(data), VerifyOptions{}).Valid {
		t.Fatal("the stored key without the subkey verified the signature")
	}
	if res := VerifyDetached(sig, []*Cert{merged}, BytesSource(data), VerifyOptions{}); !res.Valid {
		t.Fatalf("merged key: %s", res.Reason)
	}
}
