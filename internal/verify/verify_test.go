package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	pgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"trel/internal/openpgp"
	"trel/internal/signing"
)

const (
	ghIdentity = "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
	ghIssuer   = "https://token.actions.githubusercontent.com"
	// whlIdentity signed the sigstore-python wheel bundle.
	whlIdentity = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"

	atrSigner = "68FF2E20F02B070D73D416188DE8CC167FE2663A"
	atrSubkey = "A32F0FCCFF48C94FB971F98581B1A0B8D9D20CBA"
)

func td(parts ...string) string {
	return filepath.Join(append([]string{"testdata"}, parts...)...)
}

// copyFile copies src to dst (creating dst's directory) and returns dst.
func copyFile(t testing.TB, src, dst string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func writeFile(t testing.TB, p string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// want describes one expected verification.
type want struct {
	kind string
	ok   bool
	code string // "" = don't care
}

func TestVerifyFixtures(t *testing.T) {
	dir := t.TempDir()

	// The atr release with a checksum file whose digest is wrong (last
	// hex digit changed) but whose signature is good.
	badSum := filepath.Join(dir, "badsum", "apache-test-0.2.tar.gz")
	copyFile(t, td("atr", "apache-test-0.2.tar.gz"), badSum)
	copyFile(t, td("atr", "apache-test-0.2.tar.gz.asc"), badSum+".asc")
	sum, _ := os.ReadFile(td("atr", "apache-test-0.2.tar.gz.sha512"))
	wrong := bytes.Replace(sum, []byte("7c50  "), []byte("7c51  "), 1)
	if bytes.Equal(wrong, sum) {
		t.Fatal("could not alter the checksum fixture")
	}
	writeFile(t, badSum+".sha512", wrong)

	// The gh-cli artifact with its bundle under a default bundle name.
	ghDefault := filepath.Join(dir, "gh", "sigstore-js-2.1.0.tgz")
	copyFile(t, td("gh-cli", "sigstore-js-2.1.0.tgz"), ghDefault)
	copyFile(t, td("gh-cli", "sigstore-js-2.1.0-bundle.json"), ghDefault+".sigstore.json")

	atr := td("atr", "apache-test-0.2.tar.gz")
	atrKey := td("atr", atrSigner+".asc")
	art := td("scenarios", "artifact.tar.gz")
	gh := td("gh-cli", "sigstore-js-2.1.0.tgz")
	ghBundle := td("gh-cli", "sigstore-js-2.1.0-bundle.json")

	tests := []struct {
		name   string
		opts   Options
		wantOK bool
		want   []want
		text   string // must appear in a message or note
	}{
		{
			name:   "atr release signed by a subkey verifies with the signer's key and its sha512",
			opts:   Options{Artifact: atr, Key: atrKey},
			wantOK: true,
			want:   []want{{KindOpenPGP, true, ""}, {KindChecksum, true, ""}},
			text:   "signing subkey " + atrSubkey,
		},
		{
			name: "atr signature and checksum do not verify another file",
			opts: Options{Artifact: td("scenarios", "other.txt"), Key: atrKey,
				Signature: atr + ".asc", Checksum: atr + ".sha512"},
			want: []want{{KindOpenPGP, false, openpgp.CodeBadSignature}, {KindChecksum, false, ""}},
			text: "does not match the file",
		},
		{
			name:   "key expired now but valid when it signed verifies",
			opts:   Options{Artifact: art, Key: td("scenarios", "key-old.asc")},
			wantOK: true,
			want:   []want{{KindOpenPGP, true, ""}},
		},
		{
			name: "SHA-1 data signature is refused as a weak hash",
			opts: Options{Artifact: art, Key: td("scenarios", "key-old.asc"),
				Signature: td("scenarios", "artifact.tar.gz.sha1.asc")},
			want: []want{{KindOpenPGP, false, openpgp.CodeWeakHash}},
			text: "SHA-1",
		},
		{
			name: "key revoked as compromised invalidates an older signature",
			opts: Options{Artifact: art, Key: td("scenarios", "key-revoked-compromised-merged.asc"),
				Signature: td("scenarios", "art-rev.asc")},
			want: []want{{KindOpenPGP, false, openpgp.CodeKeyRevoked}},
			text: "revoked",
		},
		{
			name: "revocation in a separate block after the key is honoured",
			opts: Options{Artifact: art, Key: td("scenarios", "key-revoked-compromised.asc"),
				Signature: td("scenarios", "art-rev.asc")},
			want: []want{{KindOpenPGP, false, openpgp.CodeKeyRevoked}},
		},
		{
			name: "wrong sha512 fails even with a good signature",
			opts: Options{Artifact: badSum, Key: atrKey},
			want: []want{{KindOpenPGP, true, ""}, {KindChecksum, false, "checksum.mismatch"}},
			text: "checksum mismatch",
		},
		{
			name: "KEYS file without the signer reports an unknown issuer by fingerprint",
			opts: Options{Artifact: atr, Keys: td("keys", "httpd.KEYS")},
			want: []want{{KindOpenPGP, false, openpgp.CodeUnknownIssuer}, {KindChecksum, true, ""}},
			text: "unknown issuer: the signature was made by " + atrSubkey + " (key ID 81B1A0B8D9D20CBA), which is not in httpd.KEYS",
		},
		{
			name: "a signature without any key cannot be checked",
			opts: Options{Artifact: atr},
			want: []want{{KindOpenPGP, false, CodeNoKey}, {KindChecksum, true, ""}},
			text: "pass --keys KEYS",
		},
		{
			name:   "sigstore bundle from the expected workflow verifies",
			opts:   Options{Artifact: gh, Bundle: ghBundle, CertificateIdentity: ghIdentity, CertificateOIDCIssuer: ghIssuer},
			wantOK: true,
			want:   []want{{KindSigstore, true, ""}},
			text:   "good Sigstore signature by " + ghIdentity,
		},
		{
			name:   "v0.1 sigstore bundle verifies too",
			opts:   Options{Artifact: gh, Bundle: td("gh-cli", "sigstore-js-2.1.0-bundle-v0.1.json"), CertificateIdentity: ghIdentity, CertificateOIDCIssuer: ghIssuer},
			wantOK: true,
			want:   []want{{KindSigstore, true, ""}},
		},
		{
			name: "sigstore bundle with a wrong identity is refused",
			opts: Options{Artifact: gh, Bundle: ghBundle,
				CertificateIdentity:   "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/tags/v2.1.0",
				CertificateOIDCIssuer: ghIssuer},
			want: []want{{KindSigstore, false, "identity-mismatch"}},
			text: "not by the expected",
		},
		{
			name: "sigstore bundle with a wrong issuer is refused",
			opts: Options{Artifact: gh, Bundle: ghBundle, CertificateIdentity: ghIdentity,
				CertificateOIDCIssuer: "https://github.com/login/oauth"},
			want: []want{{KindSigstore, false, "identity-mismatch"}},
		},
		{
			name: "sigstore bundle does not verify another file",
			opts: Options{Artifact: atr, Bundle: ghBundle, CertificateIdentity: ghIdentity, CertificateOIDCIssuer: ghIssuer},
			want: []want{{KindChecksum, true, ""}, {KindSigstore, false, ""}},
		},
		{
			name: "certificate bundle is refused when a PEM key is expected",
			opts: Options{Artifact: gh, Bundle: ghBundle, Key: td("sigstore-go", "publish_key.pub")},
			want: []want{{KindSigstore, false, "certificate-not-key"}},
		},
		{
			name:   "bundle next to the artifact is found by its default name",
			opts:   Options{Artifact: ghDefault, CertificateIdentity: ghIdentity, CertificateOIDCIssuer: ghIssuer},
			wantOK: true,
			want:   []want{{KindSigstore, true, ""}},
		},
		{
			name:   "message-signature bundle named ARTIFACT.sigstore is found and verified",
			opts:   Options{Artifact: td("sigstore-python", "bundle_v3_github.whl"), CertificateIdentity: whlIdentity, CertificateOIDCIssuer: ghIssuer},
			wantOK: true,
			want:   []want{{KindSigstore, true, ""}},
		},
		{
			name: "bundle without a trusted time is not verified",
			opts: Options{Artifact: td("sigstore-python", "bundle_v3_no_signed_time.txt"), CertificateIdentity: "william@yossarian.net", CertificateOIDCIssuer: "https://github.com/login/oauth"},
			want: []want{{KindSigstore, false, "no-trusted-time"}},
		},
		{
			name: "staging bundle is not trusted by the default public-good root",
			opts: Options{Artifact: td("sigstore-python", "bundle_v3.txt"), CertificateIdentity: "william@yossarian.net", CertificateOIDCIssuer: "https://github.com/login/oauth"},
			want: []want{{KindSigstore, false, "unknown-log"}},
		},
		{
			name: "identity given but no bundle next to the artifact is not verified",
			opts: Options{Artifact: art, CertificateIdentity: ghIdentity, CertificateOIDCIssuer: ghIssuer},
			text: "no Sigstore bundle found: expected " + art + ".sigstore",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Verify(tt.opts)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.OK != tt.wantOK {
				t.Errorf("OK = %v, want %v (%s)", rep.OK, tt.wantOK, rep.Reason)
			}
			if len(rep.Verifications) != len(tt.want) {
				t.Fatalf("got %d verifications, want %d: %+v", len(rep.Verifications), len(tt.want), rep.Verifications)
			}
			for i, w := range tt.want {
				v := rep.Verifications[i]
				if v.Kind != w.kind || v.OK != w.ok || (w.code != "" && v.Code != w.code) {
					t.Errorf("verification %d = {%s ok=%v code=%s: %s}, want {%s ok=%v code=%s}", i, v.Kind, v.OK, v.Code, v.Message, w.kind, w.ok, w.code)
				}
				if v.Message == "" {
					t.Errorf("verification %d has no message", i)
				}
			}
			if tt.text != "" && !reportMentions(rep, tt.text) {
				t.Errorf("report does not mention %q: %+v", tt.text, rep)
			}
		})
	}
}

func reportMentions(rep *Report, s string) bool {
	all := []string{rep.Reason}
	all = append(all, rep.Notes...)
	for _, v := range rep.Verifications {
		all = append(all, v.Message)
		all = append(all, v.Notes...)
	}
	for _, m := range all {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

func TestVerifyRecordsWhoSignedWithWhichSubkey(t *testing.T) {
	rep, err := Verify(Options{Artifact: td("atr", "apache-test-0.2.tar.gz"), Key: td("atr", atrSigner+".asc")})
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Verifications[0].Details
	if d == nil {
		t.Fatal("no details")
	}
	if d.SignerFingerprint != atrSigner || d.SubkeyFingerprint != atrSubkey || d.HashAlgorithm != "SHA-512" {
		t.Errorf("details = %+v", d)
	}
	if len(d.UserIDs) == 0 || !strings.Contains(d.UserIDs[0], "apache-tooling@example.invalid") {
		t.Errorf("user IDs = %v", d.UserIDs)
	}
	if got := d.SignatureTime.UTC().Format("2006-01-02T15:04:05"); got != "2025-10-13T19:14:56" {
		t.Errorf("signature time = %s", got)
	}
	if rep.SHA512[:16] != "c6268245288e4587" {
		t.Errorf("SHA-512 = %s", rep.SHA512)
	}
}

func TestVerifySigstoreRecordsIdentityAndIssuer(t *testing.T) {
	rep, err := Verify(Options{Artifact: td("gh-cli", "sigstore-js-2.1.0.tgz"), Bundle: td("gh-cli", "sigstore-js-2.1.0-bundle.json"),
		CertificateIdentity: ghIdentity, CertificateOIDCIssuer: ghIssuer})
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Verifications[0].Details
	if d == nil || d.Identity != ghIdentity || d.Issuer != ghIssuer || d.TrustedRoot == "" || d.SignatureTime.IsZero() {
		t.Fatalf("details = %+v", d)
	}
}

func TestVerifyExplainsMissingInputs(t *testing.T) {
	dir := t.TempDir()
	a := copyFile(t, td("scenarios", "other.txt"), filepath.Join(dir, "lonely.tar.gz"))
	rep, err := Verify(Options{Artifact: a})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || len(rep.Verifications) != 0 {
		t.Fatalf("report = %+v", rep)
	}
	for _, s := range []string{
		"no signature found: expected " + a + ".asc or pass --signature",
		"no checksum file found: expected " + a + ".sha512 or " + a + ".sha256, or pass --checksum",
	} {
		if !strings.Contains(rep.Reason, s) {
			t.Errorf("reason %q does not say %q", rep.Reason, s)
		}
	}

	// A good checksum alone still is not VERIFIED: it says nothing about who
	// made the file.
	copyFile(t, td("atr", "apache-test-0.2.tar.gz"), filepath.Join(dir, "apache-test-0.2.tar.gz"))
	sum := copyFile(t, td("atr", "apache-test-0.2.tar.gz.sha512"), filepath.Join(dir, "apache-test-0.2.tar.gz.sha512"))
	rep, err = Verify(Options{Artifact: filepath.Join(dir, "apache-test-0.2.tar.gz")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || len(rep.Verifications) != 1 || !rep.Verifications[0].OK || rep.Verifications[0].File != sum {
		t.Fatalf("report = %+v", rep)
	}
	if !strings.Contains(rep.Reason, "no signature was verified") {
		t.Errorf("reason = %q", rep.Reason)
	}
}

func TestVerifyChecksBothDefaultChecksumFiles(t *testing.T) {
	dir := t.TempDir()
	a := copyFile(t, td("atr", "apache-test-0.2.tar.gz"), filepath.Join(dir, "apache-test-0.2.tar.gz"))
	copyFile(t, td("atr", "apache-test-0.2.tar.gz.asc"), a+".asc")
	copyFile(t, td("atr", "apache-test-0.2.tar.gz.sha512"), a+".sha512")
	data, _ := os.ReadFile(a)
	sum := sha256.Sum256(data)
	// BSD style, a format ParseChecksumFile accepts.
	writeFile(t, a+".sha256", []byte("SHA256 (apache-test-0.2.tar.gz) = "+hexString(sum[:])+"\n"))

	rep, err := Verify(Options{Artifact: a, Key: td("atr", atrSigner+".asc")})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || len(rep.Verifications) != 3 || rep.Verifications[2].File != a+".sha256" || !rep.Verifications[2].OK {
		t.Fatalf("report = %+v", rep)
	}

	// A .sha256 naming another file fails the whole verdict.
	writeFile(t, a+".sha256", []byte(hexString(sum[:])+"  apache-test-0.3.tar.gz\n"))
	rep, err = Verify(Options{Artifact: a, Key: td("atr", atrSigner+".asc")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.Verifications[2].Code != "checksum.wrong-name" {
		t.Fatalf("report = %+v", rep.Verifications)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestVerifyRefusesPrivateKeys(t *testing.T) {
	dir := t.TempDir()
	priv, _ := newOpenPGPKey(t)
	privFile := writeFile(t, filepath.Join(dir, "secret.asc"), priv)
	// The same secret packets disguised under a public-key armor header.
	disguised := bytes.Replace(priv, []byte("PRIVATE KEY BLOCK"), []byte("PUBLIC KEY BLOCK"), 2)
	disguisedFile := writeFile(t, filepath.Join(dir, "disguised.asc"), disguised)
	pemFile := writeFile(t, filepath.Join(dir, "cosign.key"), newPEMPrivateKey(t))
	atr := td("atr", "apache-test-0.2.tar.gz")

	tests := []struct {
		name string
		opts Options
	}{
		{"armored OpenPGP private key as --key", Options{Artifact: atr, Key: privFile}},
		{"armored OpenPGP private key as --keys", Options{Artifact: atr, Keys: privFile}},
		{"secret key packets under a public-key header", Options{Artifact: atr, Keys: disguisedFile}},
		{"PEM private key as the bundle key", Options{Artifact: atr, Bundle: td("gh-cli", "sigstore-js-2.1.0-bundle.json"), Key: pemFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Verify(tt.opts)
			if rep != nil {
				t.Fatalf("a report was produced: %+v", rep)
			}
			if !errors.Is(err, openpgp.ErrPrivateKeyMaterial) {
				t.Fatalf("err = %v, want private key material", err)
			}
			if !strings.Contains(err.Error(), "must be considered to have a copy") {
				t.Errorf("err = %q lacks the openpgp package's advice", err)
			}
		})
	}
}

func TestVerifyUsageErrors(t *testing.T) {
	atr := td("atr", "apache-test-0.2.tar.gz")
	tests := []struct {
		name string
		opts Options
		text string
	}{
		{"no artifact", Options{}, "no artifact"},
		{"both --keys and --key for OpenPGP", Options{Artifact: atr, Keys: "a", Key: "b"}, "not both"},
		{"identity without issuer", Options{Artifact: atr, CertificateIdentity: ghIdentity}, "go together"},
		{"issuer without identity", Options{Artifact: atr, CertificateOIDCIssuer: ghIssuer}, "go together"},
		{"bundle without identity or key", Options{Artifact: atr, Bundle: "b.sigstore"}, "--certificate-identity"},
		{"trusted root without sigstore", Options{Artifact: atr, TrustedRoot: "r.json"}, "--trusted-root"},
		{"bundle key that is not PEM", Options{Artifact: atr, Bundle: td("gh-cli", "sigstore-js-2.1.0-bundle.json"), Key: td("atr", atrSigner+".asc")}, "PEM public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(tt.opts)
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("err = %v, want a usage error mentioning %q", err, tt.text)
			}
		})
	}
}

func TestVerifyFailsOnUnreadableGivenFiles(t *testing.T) {
	atr := td("atr", "apache-test-0.2.tar.gz")
	tests := []struct {
		name string
		opts Options
	}{
		{"missing artifact", Options{Artifact: td("nope.tar.gz")}},
		{"missing --signature", Options{Artifact: atr, Key: td("atr", atrSigner+".asc"), Signature: td("nope.asc")}},
		{"missing --keys", Options{Artifact: atr, Keys: td("nope.KEYS")}},
		{"missing --checksum", Options{Artifact: atr, Key: td("atr", atrSigner+".asc"), Checksum: td("nope.sha512")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Verify(tt.opts)
			if !errors.Is(err, os.ErrNotExist) || rep != nil {
				t.Fatalf("Verify = %v, %v; want a not-exist error", rep, err)
			}
		})
	}
}

// TestVerifyReadsTheArtifactOnce proves the single pass: OpenPGP, both
// checksum files and Sigstore all work from one read of the artifact.
func TestVerifyReadsTheArtifactOnce(t *testing.T) {
	dir := t.TempDir()
	a := copyFile(t, td("atr", "apache-test-0.2.tar.gz"), filepath.Join(dir, "apache-test-0.2.tar.gz"))
	copyFile(t, td("atr", "apache-test-0.2.tar.gz.asc"), a+".asc")
	copyFile(t, td("atr", "apache-test-0.2.tar.gz.sha512"), a+".sha512")

	opens := countOpens(t)
	rep, err := Verify(Options{Artifact: a, Key: td("atr", atrSigner+".asc")})
	if err != nil || !rep.OK {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	if *opens != 1 {
		t.Errorf("the artifact was opened %d times, want 1", *opens)
	}

	*opens = 0
	rep, err = Verify(Options{Artifact: td("gh-cli", "sigstore-js-2.1.0.tgz"), Bundle: td("gh-cli", "sigstore-js-2.1.0-bundle.json"),
		CertificateIdentity: ghIdentity, CertificateOIDCIssuer: ghIssuer})
	if err != nil || !rep.OK {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	if *opens != 1 {
		t.Errorf("the artifact was opened %d times for Sigstore, want 1", *opens)
	}
}

// countOpens replaces openFile for the test and counts calls.
func countOpens(t *testing.T) *int {
	t.Helper()
	n := 0
	orig := openFile
	openFile = func(name string) (io.ReadCloser, error) {
		n++
		return orig(name)
	}
	t.Cleanup(func() { openFile = orig })
	return &n
}

func TestHashReaderMatchesTheStandardLibrary(t *testing.T) {
	for _, size := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, chunkCount*chunkSize + 7, 3*chunkCount*chunkSize - 1} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*7 + i>>11)
		}
		d, err := hashReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		s256, s512 := sha256.Sum256(data), sha512.Sum512(data)
		if d.size != int64(size) || !bytes.Equal(d.sha256, s256[:]) || !bytes.Equal(d.sha512, s512[:]) {
			t.Fatalf("size %d: digests differ from crypto/sha256 and crypto/sha512", size)
		}
		// The saved states must finish to the same digests.
		src := openpgp.StateSource{SHA256: d.state256, SHA512: d.state512}
		for h, want := range map[crypto.Hash][]byte{crypto.SHA256: s256[:], crypto.SHA512: s512[:]} {
			restored, err := src.Hash(h)
			if err != nil {
				t.Fatal(err)
			}
			if got := restored.Sum(nil); !bytes.Equal(got, want) {
				t.Fatalf("size %d: restored %v state gives %x, want %x", size, h, got, want)
			}
		}
	}
}

func TestHashReaderReportsReadErrors(t *testing.T) {
	boom := errors.New("disk on fire")
	r := io.MultiReader(bytes.NewReader(make([]byte, chunkSize+5)), errReader{boom})
	if _, err := hashReader(r); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// newOpenPGPKey makes a fresh v4 EdDSA key and returns its armored secret
// key and armored public key.
func newOpenPGPKey(t testing.TB) (private, public []byte) {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519}
	e, err := pgp.NewEntity("Test Signer", "", "signer@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var priv, pub bytes.Buffer
	w, err := armor.Encode(&priv, "PGP PRIVATE KEY BLOCK", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SerializePrivate(w, cfg); err != nil {
		t.Fatal(err)
	}
	w.Close()
	priv.WriteString("\n")
	w, err = armor.Encode(&pub, "PGP PUBLIC KEY BLOCK", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	pub.WriteString("\n")
	return priv.Bytes(), pub.Bytes()
}

func newPEMPrivateKey(t testing.TB) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestVerifyAccountsForUnusableKeyBlocks(t *testing.T) {
	rep, err := Verify(Options{Artifact: td("atr", "apache-test-0.2.tar.gz"), Keys: td("keys", "httpd.KEYS")})
	if err != nil {
		t.Fatal(err)
	}
	v := rep.Verifications[0]
	if len(v.RejectedKeyBlocks) != 23 || !strings.HasPrefix(v.RejectedKeyBlocks[0], "block 1: version 2 key") {
		t.Errorf("rejected blocks = %d: %q", len(v.RejectedKeyBlocks), v.RejectedKeyBlocks)
	}
	if !reportMentions(rep, "httpd.KEYS: 5 usable keys; 23 of 28 key blocks not used") {
		t.Errorf("notes = %q", v.Notes)
	}
}

// TestVerifySaysWhenTheSignerHasNoProvenOwner is the "PMC Chair" defect:
// a key nobody proved to hold made a good signature, and trel verify
// called the download good. A KEYS file from trel names each key's owner;
// a signer it calls unproven makes the verdict NOT VERIFIED.
func TestVerifySaysWhenTheSignerHasNoProvenOwner(t *testing.T) {
	dir := t.TempDir()
	g, err := signing.Generate(signing.GenerateOptions{Name: "PMC Chair", Email: "chair@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("release artifact")
	sigs, err := signing.Sign(g.Secret, []signing.FileToSign{{Path: "a", Reader: bytes.NewReader(data)}})
	if err != nil {
		t.Fatal(err)
	}
	art := writeFile(t, filepath.Join(dir, "a.tar.gz"), data)
	writeFile(t, art+".asc", sigs[0].Armored)
	keysWith := func(header, owner string) string {
		return writeFile(t, filepath.Join(dir, "KEYS"), []byte(header+"\n\n# Fingerprint: "+g.Fingerprint+"\n# Owner:       "+owner+"\n"+string(g.PublicKey)))
	}
	const trelHeader = "# KEYS file of Alpha (committee alpha), generated by trel."
	for _, c := range []struct {
		name, header, owner string
		ok                  bool
		says                string
	}{
		{"unproven in trel's KEYS", trelHeader, "no proven owner", false, "nobody proved to hold key"},
		{"proven in trel's KEYS", trelHeader, "alice (proven by challenge)", true, "key of alice (proven by challenge)"},
		{"automation key in trel's KEYS", trelHeader, "automation key of committee alpha (registered by bob)", true, "automation key of committee alpha"},
		{"another KEYS file", "# Apache Foo KEYS", "no proven owner", true, "not a KEYS file generated by trel"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Verify(Options{Artifact: art, Keys: keysWith(c.header, c.owner)})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK != c.ok || !reportMentions(rep, c.says) {
				t.Fatalf("ok=%v, want %v mentioning %q: %+v", rep.OK, c.ok, c.says, rep.Verifications)
			}
			if !c.ok && rep.Verifications[0].Code != CodeUnprovenOwner {
				t.Fatalf("code %q", rep.Verifications[0].Code)
			}
		})
	}
}
