package openpgp

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSignDetachedIsAcceptedByGnuPGSqvAndTrel(t *testing.T) {
	w := gpgWorld(t)
	g := w.home
	data := []byte("artifact to sign\n")
	tests := []struct {
		name       string
		key        string
		armor      bool
		passphrase string
		wantSubkey bool
	}{
		{"armored key with signing subkey", wSub, true, "", true},
		{"binary key whose primary signs", wEd, false, "", false},
		{"passphrase protected key", wPass, true, "pw", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"--export-secret-keys", w.fpr[tt.key]}
			if tt.armor {
				args = append([]string{"--armor"}, args...)
			}
			if tt.passphrase != "" {
				args = append([]string{"--passphrase", tt.passphrase}, args...)
			}
			secret := g.run(t, "", "", args...)
			k, err := ReadSecretKey(secret, []byte(tt.passphrase))
			if err != nil {
				t.Fatalf("ReadSecretKey: %v", err)
			}
			if k.Fingerprint != w.fpr[tt.key] || (k.SubkeyFingerprint != "") != tt.wantSubkey {
				t.Fatalf("picked %s / subkey %q", k.Fingerprint, k.SubkeyFingerprint)
			}
			var sig bytes.Buffer
			if err := k.SignDetached(&sig, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			s := sig.String()
			if !strings.HasPrefix(s, "-----BEGIN PGP SIGNATURE-----") || !strings.HasSuffix(s, "-----END PGP SIGNATURE-----\n") || !strings.Contains(s, "\n=") {
				t.Fatalf("signature armor lacks the CRC line or final newline:\n%s", s)
			}
			res, _ := LoadKeys(bytes.NewReader(w.pub[tt.key]))
			got := VerifyDetached(sig.Bytes(), res.Certs, BytesSource(data), VerifyOptions{})
			if !got.Valid || got.Signatures[0].HashAlgorithm != "SHA-512" || (got.Signatures[0].SubkeyFingerprint != "") != tt.wantSubkey {
				t.Fatalf("trel verdict: %+v", got.Signatures)
			}
			if !sqvValid(t, w.pub[tt.key], sig.Bytes(), data) {
				t.Error("sqv rejects the signature")
			}
			// gpg must exit 0 and report VALIDSIG (its exit code alone is no oracle).
			dir := t.TempDir()
			sf, df := filepath.Join(dir, "d.asc"), filepath.Join(dir, "d")
			_ = os.WriteFile(sf, sig.Bytes(), 0o600)
			_ = os.WriteFile(df, data, 0o600)
			out, stderr, err := g.try("", "", "--status-fd", "1", "--verify", sf, df)
			if err != nil || !strings.Contains(string(out), "[GNUPG:] VALIDSIG") {
				t.Fatalf("gpg --verify: %v\n%s\n%s", err, out, stderr)
			}
		})
	}
}

func TestReadSecretKeyRefusesUnusableKeys(t *testing.T) {
	w := gpgWorld(t)
	g := w.home
	// A revoked key: import a revocation, then export the secret key with it.
	fresh := g.genKey(t, "", "Revoked Signer <revsign@example.org>", "ed25519", "sign", "never")
	rev := g.revoke(t, "", fresh, 1)
	revPath := filepath.Join(g.dir, "revsign.asc")
	if err := os.WriteFile(revPath, rev, 0o600); err != nil {
		t.Fatal(err)
	}
	g.run(t, "", "", "--import", revPath)
	tests := []struct {
		name       string
		secret     []byte
		passphrase string
		want       string
	}{
		{"expired key", g.run(t, "", "", "--export-secret-keys", w.fpr[wExp]), "", "expired"},
		{"revoked key", g.run(t, "", "", "--export-secret-keys", fresh), "", "revoked"},
		{"wrong passphrase", g.run(t, "", "", "--passphrase", "pw", "--export-secret-keys", w.fpr[wPass]), "wrong", "decrypt"},
		{"public key only", w.pub[wEd], "", "no secret key"},
		{"garbage", []byte("nothing here"), "", "read secret key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadSecretKey(tt.secret, []byte(tt.passphrase))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want it to mention %q", err, tt.want)
			}
		})
	}
}
