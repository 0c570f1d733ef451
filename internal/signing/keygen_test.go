package signing

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pgp "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	trelpgp "trel/internal/openpgp"
)

// checkArmor requires an armored block of the given type with the CRC
// checksum line right before the END line, and a trailing newline.
func checkArmor(t *testing.T, what string, b []byte, blockType string) {
	t.Helper()
	s := string(b)
	if !strings.HasPrefix(s, "-----BEGIN "+blockType+"-----\n") {
		t.Fatalf("%s does not start with the %s header:\n%s", what, blockType, s)
	}
	if !strings.HasSuffix(s, "\n-----END "+blockType+"-----\n") {
		t.Fatalf("%s does not end with the END line and a newline:\n%q", what, s[max(0, len(s)-60):])
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	crc := lines[len(lines)-2]
	if !strings.HasPrefix(crc, "=") || len(crc) != 5 {
		t.Fatalf("%s has no CRC line before END (got %q)", what, crc)
	}
	blk, err := armor.Decode(bytes.NewReader(b))
	if err != nil || blk.Type != blockType {
		t.Fatalf("%s: armor does not decode: %v", what, err)
	}
}

// gpgVerify verifies sig over data in home and returns the status lines;
// it never trusts gpg's exit code.
func gpgVerify(t *testing.T, home *gpgHome, sig, data []byte) map[string][]string {
	t.Helper()
	dir := writeFiles(t, map[string][]byte{"f.asc": sig, "f": data})
	out, _, _ := home.run(nil, "--status-fd", "1", "--verify", filepath.Join(dir, "f.asc"), filepath.Join(dir, "f"))
	return statusLines(out)
}

func gpgvVerify(t *testing.T, keyring, sig, data []byte) map[string][]string {
	t.Helper()
	requireTool(t, "gpgv")
	dir := writeFiles(t, map[string][]byte{"keyring.gpg": keyring, "f.asc": sig, "f": data})
	cmd := exec.Command("gpgv", "--homedir", dir, "--status-fd", "1", "--keyring", filepath.Join(dir, "keyring.gpg"), filepath.Join(dir, "f.asc"), filepath.Join(dir, "f"))
	out, _ := cmd.Output()
	return statusLines(string(out))
}

// sqvVerify returns sqv's exit code and output (sqv 1.1 syntax).
func sqvVerify(t *testing.T, keyring, sig, data []byte) (int, string) {
	t.Helper()
	requireTool(t, "sqv")
	dir := writeFiles(t, map[string][]byte{"keyring.gpg": keyring, "f.asc": sig, "f": data})
	cmd := exec.Command("sqv", "--keyring", filepath.Join(dir, "keyring.gpg"), filepath.Join(dir, "f.asc"), filepath.Join(dir, "f"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("sqv: %v", err)
		}
		return ee.ExitCode(), string(out)
	}
	return 0, string(out)
}

func trelVerify(t *testing.T, pub, sig, data []byte) *trelpgp.VerifyResult {
	t.Helper()
	res, err := trelpgp.LoadKeys(bytes.NewReader(pub))
	if err != nil || len(res.Certs) != 1 {
		t.Fatalf("trel LoadKeys: %v (%d certs, blocks %+v)", err, len(res.Certs), res.Blocks)
	}
	return trelpgp.VerifyDetached(sig, res.Certs, trelpgp.BytesSource(data), trelpgp.VerifyOptions{
		StrengthPolicy: &trelpgp.StrengthPolicy{MinRSABits: 4096},
	})
}

func TestGeneratedKeysSignaturesVerifyInGpgGpgvSqvAndTrel(t *testing.T) {
	cases := []struct {
		name    string
		key     func(t *testing.T) *Generated
		algo    packet.PublicKeyAlgorithm
		gpgAlgo string // pubkey algorithm in VALIDSIG
	}{
		{"EdDSA legacy algorithm 22", func(t *testing.T) *Generated { return newEdDSA(t) }, packet.PubKeyAlgoEdDSA, "22"},
		{"RSA-4096", func(t *testing.T) *Generated { return sharedRSA(t) }, packet.PubKeyAlgoRSA, "1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.key(t)
			checkArmor(t, "public key", g.PublicKey, "PGP PUBLIC KEY BLOCK")

			// The key itself: v4, the expected algorithm, primary signs
			// and certifies, no subkeys.
			e, err := pgp.ReadEntity(packet.NewReader(bytes.NewReader(g.Secret)))
			if err != nil {
				t.Fatal(err)
			}
			if e.PrimaryKey.Version != 4 || e.PrimaryKey.PubKeyAlgo != tc.algo {
				t.Fatalf("key is v%d algorithm %d, want v4 algorithm %d", e.PrimaryKey.Version, e.PrimaryKey.PubKeyAlgo, tc.algo)
			}
			if tc.algo == packet.PubKeyAlgoRSA {
				if bits, _ := e.PrimaryKey.BitLength(); bits != 4096 {
					t.Fatalf("RSA key of %d bits", bits)
				}
			}
			self, _ := e.PrimarySelfSignature()
			if self == nil || !self.FlagsValid || !self.FlagSign || !self.FlagCertify {
				t.Fatalf("primary self-signature does not give sign+certify: %+v", self)
			}
			if len(e.Subkeys) != 0 {
				t.Fatalf("%d subkeys, want none", len(e.Subkeys))
			}

			data := []byte("release artifact for " + tc.name + "\n")
			sigs, err := Sign(g.Secret, []FileToSign{{Path: "a.tar.gz", SHA512State: sha512State(t, data)}})
			if err != nil {
				t.Fatal(err)
			}
			sig := sigs[0].Armored
			checkArmor(t, "signature", sig, "PGP SIGNATURE")
			tampered := append(bytes.Clone(data), 'x')

			home := newGPGHome(t)
			home.mustRun(t, g.PublicKey, "--import")
			keyring := []byte(home.mustRun(t, nil, "--export", g.Fingerprint))
			if len(keyring) == 0 {
				t.Fatal("gpg --export gave nothing: the import failed")
			}

			st := gpgVerify(t, home, sig, data)
			if len(st["GOODSIG"]) != 1 || len(st["VALIDSIG"]) != 1 {
				t.Fatalf("gpg: want GOODSIG and VALIDSIG, got %v", st)
			}
			// VALIDSIG <fpr> <date> <ts> <expire> <ver> <rsv> <pkalgo> <hashalgo> <class> <primary-fpr>
			v := strings.Fields(st["VALIDSIG"][0])
			if v[0] != g.Fingerprint || v[6] != tc.gpgAlgo || v[7] != "10" || v[len(v)-1] != g.Fingerprint {
				t.Fatalf("gpg VALIDSIG %v: want fingerprint %s, algorithm %s, hash 10 (SHA-512)", v, g.Fingerprint, tc.gpgAlgo)
			}
			for _, bad := range []string{"BADSIG", "EXPKEYSIG", "REVKEYSIG", "EXPSIG", "ERRSIG"} {
				if len(st[bad]) > 0 {
					t.Fatalf("gpg reports %s: %v", bad, st)
				}
			}
			if st := gpgVerify(t, home, sig, tampered); len(st["BADSIG"]) != 1 || len(st["GOODSIG"]) != 0 {
				t.Fatalf("gpg on tampered data: want BADSIG only, got %v", st)
			}

			if st := gpgvVerify(t, keyring, sig, data); len(st["GOODSIG"]) != 1 || len(st["VALIDSIG"]) != 1 {
				t.Fatalf("gpgv: want GOODSIG and VALIDSIG, got %v", st)
			}
			if st := gpgvVerify(t, keyring, sig, tampered); len(st["GOODSIG"]) != 0 || len(st["BADSIG"]) != 1 {
				t.Fatalf("gpgv on tampered data: want BADSIG, got %v", st)
			}

			if code, out := sqvVerify(t, keyring, sig, data); code != 0 || !strings.Contains(out, g.Fingerprint) {
				t.Fatalf("sqv: exit %d, want 0 and the fingerprint:\n%s", code, out)
			}
			if code, _ := sqvVerify(t, keyring, sig, tampered); code == 0 {
				t.Fatal("sqv accepted a signature over tampered data")
			}

			if r := trelVerify(t, g.PublicKey, sig, data); !r.Valid || r.Signatures[0].SignerFingerprint != g.Fingerprint || r.Signatures[0].HashAlgorithm != "SHA-512" {
				t.Fatalf("trel VerifyDetached: %+v", r)
			}
			if r := trelVerify(t, g.PublicKey, sig, tampered); r.Valid || r.ReasonCode != trelpgp.CodeBadSignature {
				t.Fatalf("trel VerifyDetached on tampered data: %+v", r)
			}
		})
	}
}

func TestGenerateRecordsUserIDAndExpiry(t *testing.T) {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		expiry time.Duration
		want   time.Time
	}{
		{"default is two years", 0, created.Add(DefaultExpiry)},
		{"one year as chosen", 365 * 24 * time.Hour, created.AddDate(1, 0, 0)},
		{"exactly five calendar years", created.AddDate(5, 0, 0).Sub(created), created.AddDate(5, 0, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Generate(GenerateOptions{Name: " Ann Example ", Email: "ann@example.org", Expiry: tc.expiry, Now: fixedClock(created)})
			if err != nil {
				t.Fatal(err)
			}
			if !g.Created.Equal(created) || !g.Expires.Equal(tc.want) {
				t.Fatalf("created %s expires %s, want %s and %s", g.Created, g.Expires, created, tc.want)
			}
			res, err := trelpgp.LoadKeys(bytes.NewReader(g.PublicKey))
			if err != nil || len(res.Certs) != 1 {
				t.Fatalf("LoadKeys: %v", err)
			}
			c := res.Certs[0]
			if c.Fingerprint != g.Fingerprint || c.KeyID != g.KeyID || c.Algorithm != "EdDSA" {
				t.Fatalf("cert %s %s %s, generated %s %s", c.Fingerprint, c.KeyID, c.Algorithm, g.Fingerprint, g.KeyID)
			}
			if c.Expires == nil || !c.Expires.Equal(tc.want) {
				t.Fatalf("cert expires %v, want %s", c.Expires, tc.want)
			}
			if len(c.UserIDs) != 1 || c.UserIDs[0] != "Ann Example <ann@example.org>" || g.UserID != c.UserIDs[0] {
				t.Fatalf("user IDs %q (generated %q)", c.UserIDs, g.UserID)
			}
		})
	}
}

func TestGenerateRefusesBadInput(t *testing.T) {
	cases := []struct {
		name string
		opts GenerateOptions
		want string
	}{
		{"expiry above five years", GenerateOptions{Name: "A", Email: "a@example.org", Expiry: 5*366*24*time.Hour + time.Hour}, "longer than 5 years"},
		{"expiry below one day", GenerateOptions{Name: "A", Email: "a@example.org", Expiry: time.Hour}, "too short"},
		{"negative expiry", GenerateOptions{Name: "A", Email: "a@example.org", Expiry: -time.Hour}, "too short"},
		{"unknown algorithm", GenerateOptions{Name: "A", Email: "a@example.org", Algorithm: "ed25519"}, "unknown algorithm"},
		{"empty name", GenerateOptions{Name: " ", Email: "a@example.org"}, "name is empty"},
		{"angle bracket in name", GenerateOptions{Name: "A <b@evil.org>", Email: "a@example.org"}, "contains"},
		{"newline in name", GenerateOptions{Name: "A\nB", Email: "a@example.org"}, "contains"},
		{"invalid UTF-8 name", GenerateOptions{Name: "A\xff", Email: "a@example.org"}, "UTF-8"},
		{"email with display name", GenerateOptions{Name: "A", Email: "A <a@example.org>"}, "not a plain email"},
		{"not an email", GenerateOptions{Name: "A", Email: "nobody"}, "not a plain email"},
		{"empty email", GenerateOptions{Name: "A", Email: ""}, "not a plain email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Generate(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Generate: %v (key %v), want an error containing %q", err, g, tc.want)
			}
		})
	}
}

func TestGeneratedSecretIsUnencryptedBinaryAndPublicKeyHasNoSecret(t *testing.T) {
	g := newEdDSA(t)
	if bytes.Contains(g.Secret, []byte("-----BEGIN")) {
		t.Fatal("the secret is armored; it must be binary")
	}
	e, err := pgp.ReadEntity(packet.NewReader(bytes.NewReader(g.Secret)))
	if err != nil {
		t.Fatal(err)
	}
	if e.PrivateKey == nil || e.PrivateKey.Encrypted || e.PrivateKey.Dummy() {
		t.Fatalf("secret: want unencrypted secret material, got %+v", e.PrivateKey)
	}
	if err := trelpgp.DetectPrivateKey(g.Secret); !errors.Is(err, trelpgp.ErrPrivateKeyMaterial) {
		t.Fatalf("DetectPrivateKey(secret) = %v, want private key material", err)
	}
	if err := trelpgp.DetectPrivateKey(g.PublicKey); err != nil {
		t.Fatalf("the public key holds private material: %v", err)
	}
	if g.KeyID != g.Fingerprint[24:] || len(g.Fingerprint) != 40 {
		t.Fatalf("fingerprint %s key id %s", g.Fingerprint, g.KeyID)
	}
}

func TestRevokedKeyIsRefusedBySignAndShownRevokedByGpg(t *testing.T) {
	g := newEdDSA(t)
	rev, err := Revoke(g.Secret, RevokeRetired, "moved to a new key", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	checkArmor(t, "revoked public key", rev.PublicKey, "PGP PUBLIC KEY BLOCK")
	checkArmor(t, "revocation", rev.Revocation, "PGP PUBLIC KEY BLOCK")

	if _, err := Sign(rev.Secret, []FileToSign{{Path: "f", Reader: strings.NewReader("x")}}); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("Sign with a revoked key: %v, want ErrKeyRevoked", err)
	}

	res, err := trelpgp.LoadKeys(bytes.NewReader(rev.PublicKey))
	if err != nil || len(res.Certs) != 1 || res.Certs[0].Revocation == nil || res.Certs[0].Revocation.ReasonCode != int(RevokeRetired) {
		t.Fatalf("trel does not see the revocation: %v %+v", err, res)
	}

	// gpg: the original key, then the revocation certificate alone.
	home := newGPGHome(t)
	home.mustRun(t, g.PublicKey, "--import")
	home.mustRun(t, rev.Revocation, "--import")
	out := home.mustRun(t, nil, "--with-colons", "--list-keys", g.Fingerprint)
	if !strings.HasPrefix(out, "pub:r:") && !strings.Contains(out, "\npub:r:") {
		t.Fatalf("gpg does not list the key as revoked:\n%s", out)
	}
}
