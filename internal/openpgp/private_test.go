package openpgp

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

func sshKey(t *testing.T, args ...string) []byte {
	t.Helper()
	requireTool(t, "ssh-keygen")
	path := filepath.Join(t.TempDir(), "id")
	cmd := exec.Command("ssh-keygen", append([]string{"-q", "-f", path, "-C", "test"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func armorBytes(t *testing.T, typ string, body []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, typ, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(body)
	w.Close()
	return b.Bytes()
}

func TestDetectPrivateKeyFindsEveryForm(t *testing.T) {
	w := gpgWorld(t)
	g := w.home
	secretBin := g.run(t, "", "", "--export-secret-keys", w.fpr[wSub])
	publicBin := g.run(t, "", "", "--export", w.fpr[wSub])
	var secretSubkeyOnly []byte
	pkts, err := splitPackets(secretBin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		if p.tag == tagSecretSubkey {
			secretSubkeyOnly = append(append([]byte(nil), publicBin...), p.raw...)
		}
	}
	if secretSubkeyOnly == nil {
		t.Fatal("gpg export has no secret subkey packet")
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8DER, _ := x509.MarshalPKCS8PrivateKey(edPriv)

	tests := []struct {
		name string
		data []byte
		kind string
	}{
		{"gpg armored secret key", g.run(t, "", "", "--armor", "--export-secret-keys", w.fpr[wEd]), "armored OpenPGP private key block"},
		{"gpg binary secret key", secretBin, "OpenPGP secret key packet"},
		{"gpg secret subkeys only", g.run(t, "", "", "--export-secret-subkeys", w.fpr[wSub]), "OpenPGP secret key packet"},
		{"secret subkey packet appended to public key", secretSubkeyOnly, "OpenPGP secret key packet"},
		{"secret packets inside a PUBLIC KEY BLOCK", armorBytes(t, "PGP PUBLIC KEY BLOCK", secretBin), "inside an armored block"},
		{"secret key block after a public block", append(armorBytes(t, "PGP PUBLIC KEY BLOCK", publicBin), armorBytes(t, "PGP PUBLIC KEY BLOCK", secretBin)...), "inside an armored block"},
		{"openssh private key", sshKey(t, "-t", "ed25519", "-N", ""), "OPENSSH PEM private key"},
		{"pem rsa private key", sshKey(t, "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", ""), "RSA PEM private key"},
		{"encrypted pkcs8 private key", sshKey(t, "-t", "rsa", "-b", "2048", "-m", "PKCS8", "-N", "secret"), "ENCRYPTED PEM private key"},
		{"pem ec private key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), "EC PEM private key"},
		{"pkcs8 private key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8DER}), "PKCS#8 PEM private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := DetectPrivateKey(tt.data)
			var pke *PrivateKeyError
			if !errors.Is(err, ErrPrivateKeyMaterial) || !errors.As(err, &pke) {
				t.Fatalf("err %v, want ErrPrivateKeyMaterial", err)
			}
			if !strings.Contains(pke.Kind, tt.kind) {
				t.Errorf("kind %q, want %q", pke.Kind, tt.kind)
			}
			msg := err.Error()
			for _, want := range []string{"private key material", "not stored", "compromised", "revoke"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q: %s", want, msg)
				}
			}
			for _, line := range strings.Split(string(tt.data), "\n") {
				if len(line) > 16 && strings.Contains(msg, line) {
					t.Errorf("message leaks key bytes: %q", line)
				}
			}
			if _, err := LoadKeys(bytes.NewReader(tt.data)); !errors.Is(err, ErrPrivateKeyMaterial) {
				t.Errorf("LoadKeys did not refuse it: %v", err)
			}
		})
	}
}

func TestDetectPrivateKeyAcceptsPublicData(t *testing.T) {
	// UTF-8 text whose first byte (0xC5) looks like a secret-key packet tag.
	text := []byte("\u015al\u0105sk maintainers \u2014 keys below\n")
	text = append(text, readFixture(t, "keys/kafka.KEYS")...)
	if err := DetectPrivateKey(text); err != nil {
		t.Errorf("UTF-8 text flagged: %v", err)
	}
	if res, err := LoadKeys(bytes.NewReader(text)); err != nil || len(res.Certs) != 2 {
		t.Errorf("KEYS file starting with a non-ASCII letter: %v", err)
	}
	for _, f := range []string{"keys/httpd.KEYS", "keys/ant.KEYS", "keys/kafka.KEYS", "keys/tomcat.KEYS", "scenarios/concat12.asc",
		"scenarios/key-revoked-compromised.asc", "atr/68FF2E20F02B070D73D416188DE8CC167FE2663A.asc", "atr/apache-test-0.2.tar.gz", "atr/apache-test-0.2.tar.gz.asc"} {
		if err := DetectPrivateKey(readFixture(t, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
