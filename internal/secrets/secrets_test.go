package secrets

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"golang.org/x/crypto/ssh"

	"trel/internal/testutil/gpgtest"
)

// sample is one file and what the scanner must say about it: want is a
// phrase of the finding's kind, or "" for a file that holds no secret.
type sample struct {
	name string
	data []byte
	want string
}

// fixtures makes real keys with the tools release managers use (gpg,
// ssh-keygen, openssl) and Go's own encoders, and the common credential
// files.
func fixtures(t *testing.T) []sample {
	t.Helper()
	dir := t.TempDir()
	run := func(name string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
		}
		return out.Bytes()
	}
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pkcs1 := x509.MarshalPKCS1PrivateKey(rsaKey)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(edKey)
	sec1, _ := x509.MarshalECPrivateKey(ecKey)
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	//lint:ignore SA1019 legacy encrypted PEM is what old tools still write
	encBlock, _ := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", pkcs1, []byte("pw"), x509.PEMCipherAES256) //nolint:staticcheck
	sshPEM, _ := ssh.MarshalPrivateKey(edKey, "release key")
	sshEnc, _ := ssh.MarshalPrivateKeyWithPassphrase(edKey, "release key", []byte("pw"))
	sshPub, _ := ssh.NewPublicKey(edKey.Public())

	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	certDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, rsaKey.Public(), rsaKey)
	pubDER, _ := x509.MarshalPKIXPublicKey(rsaKey.Public())

	// openssl: encrypted PKCS#8 and PKCS#12.
	os.WriteFile(filepath.Join(dir, "k.pem"), pemOf("RSA PRIVATE KEY", pkcs1), 0o600)
	os.WriteFile(filepath.Join(dir, "c.pem"), pemOf("CERTIFICATE", certDER), 0o600)
	run("openssl", "pkcs8", "-topk8", "-in", "k.pem", "-out", "enc8.pem", "-v2", "aes-256-cbc", "-passout", "pass:pw")
	run("openssl", "pkcs8", "-topk8", "-in", "k.pem", "-outform", "DER", "-out", "enc8.der", "-v2", "aes-256-cbc", "-passout", "pass:pw")
	run("openssl", "pkcs12", "-export", "-inkey", "k.pem", "-in", "c.pem", "-out", "k.p12", "-passout", "pass:pw")
	// ssh-keygen: the default OpenSSH format and the old PEM one.
	run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rm@example.org", "-f", "id_ed25519")
	run("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", "id_rsa")

	// gpg: armored and binary secret keys, secret subkeys, the agent's
	// key files, and public keys (which are fine).
	g := gpgtest.New(t)
	fpr := g.GenKey(t, "", "Release Manager <rm@example.org>", "ed25519", "sign", "2y")
	armoredSecret := g.Run(t, "", "--armor", "--export-secret-keys", fpr)
	binarySecret := g.Run(t, "", "--export-secret-keys", fpr)
	binarySubkeys := g.Run(t, "", "--export-secret-subkeys", fpr)
	armoredPublic := g.Export(t, fpr)
	binaryPublic := g.Run(t, "", "--export", fpr)
	rsaFpr := g.GenKey(t, "", "RSA <rsa@example.org>", "rsa3072", "sign", "2y")
	rsaBinarySecret := g.Run(t, "", "--export-secret-keys", rsaFpr)
	var agentKey []byte
	filepath.Walk(filepath.Join(g.Dir, "private-keys-v1.d"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && agentKey == nil {
			agentKey, _ = os.ReadFile(p)
		}
		return nil
	})
	if agentKey == nil {
		t.Fatal("gpg left no agent key file")
	}
	keys := append(append([]byte("This is the KEYS file.\n\n"), armoredPublic...), armoredSecret...)

	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	random := make([]byte, 1<<20)
	rand.Read(random)
	// Text saved by Windows tools: UTF-16 with a byte order mark, or
	// UTF-8 with one; old Mac line ends (CR only).
	utf16le := func(b []byte, bom bool) []byte {
		var out bytes.Buffer
		if bom {
			out.Write([]byte{0xff, 0xfe})
		}
		for _, u := range utf16.Encode([]rune(string(b))) {
			binary.Write(&out, binary.LittleEndian, u)
		}
		return out.Bytes()
	}
	utf16be := func(b []byte) []byte {
		out := bytes.NewBuffer([]byte{0xfe, 0xff})
		for _, u := range utf16.Encode([]rune(string(b))) {
			binary.Write(out, binary.BigEndian, u)
		}
		return out.Bytes()
	}
	pkcs8PEM := pemOf("PRIVATE KEY", pkcs8)
	certPEM := pemOf("CERTIFICATE", certDER)
	kubeconfig := func(field string, pemData []byte) []byte {
		return []byte("apiVersion: v1\nusers:\n- name: release\n  user:\n    " + field + ": " + base64.StdEncoding.EncodeToString(pemData) + "\n")
	}

	return []sample{
		// Private keys, every encoding.
		{"PKCS#1 PEM (Go)", pemOf("RSA PRIVATE KEY", pkcs1), "RSA PRIVATE KEY"},
		{"PKCS#8 PEM", pemOf("PRIVATE KEY", pkcs8), "PRIVATE KEY"},
		{"SEC 1 EC PEM", pemOf("EC PRIVATE KEY", sec1), "EC PRIVATE KEY"},
		{"legacy encrypted PEM", pem.EncodeToMemory(encBlock), "RSA PRIVATE KEY"},
		{"PKCS#8 encrypted PEM (openssl)", read("enc8.pem"), "ENCRYPTED PRIVATE KEY"},
		{"PKCS#8 encrypted DER (openssl)", read("enc8.der"), "DER-encoded private key"},
		{"PKCS#1 DER", pkcs1, "DER-encoded private key"},
		{"PKCS#8 DER", pkcs8, "DER-encoded private key"},
		{"SEC 1 DER", sec1, "DER-encoded private key"},
		{"PKCS#12 (openssl)", read("k.p12"), "PKCS#12"},
		{"OpenSSH (Go)", pem.EncodeToMemory(sshPEM), "OPENSSH PRIVATE KEY"},
		{"OpenSSH with passphrase (Go)", pem.EncodeToMemory(sshEnc), "OPENSSH PRIVATE KEY"},
		{"OpenSSH id_ed25519 (ssh-keygen)", read("id_ed25519"), "OPENSSH PRIVATE KEY"},
		{"PEM id_rsa (ssh-keygen -m PEM)", read("id_rsa"), "RSA PRIVATE KEY"},
		{"binary OpenSSH", append([]byte("openssh-key-v1\x00"), random[:300]...), "OpenSSH private key (binary)"},
		{"armored OpenPGP secret key (gpg)", armoredSecret, "PGP PRIVATE KEY BLOCK"},
		{"binary OpenPGP secret key (gpg)", binarySecret, "OpenPGP secret key (binary)"},
		{"binary OpenPGP secret subkeys (gpg)", binarySubkeys, "OpenPGP secret key (binary)"},
		{"binary OpenPGP RSA secret key (gpg)", rsaBinarySecret, "OpenPGP secret key (binary)"},
		{"GnuPG agent key file", agentKey, "GnuPG agent private key"},
		{"KEYS file with a secret key appended", keys, "PGP PRIVATE KEY BLOCK"},
		{"PEM key with CRLF and indentation", bytes.ReplaceAll(append([]byte("  "), pemOf("PRIVATE KEY", pkcs8)...), []byte("\n"), []byte("\r\n")), "PRIVATE KEY"},
		{"PEM key after openssl bag attributes", append([]byte("Bag Attributes\n    localKeyID: 01 02\nKey Attributes: <No Attributes>\n"), pemOf("PRIVATE KEY", pkcs8)...), "PRIVATE KEY"},
		{"PuTTY key", []byte("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: rm\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIB\nPrivate-Lines: 1\nAAAAIC\nPrivate-MAC: 00\n"), "PuTTY"},
		{"JKS with a private key entry", jks(0xFEEDFEED, 1), "Java key store"},
		{"JCEKS with a secret key entry", jks(0xCECECECE, 3), "Java key store"},
		{"PEM key saved as UTF-16 with a byte order mark", utf16le(pkcs8PEM, true), "PRIVATE KEY"},
		{"PEM key saved as UTF-16 without a byte order mark", utf16le(pkcs8PEM, false), "PRIVATE KEY"},
		{"PEM key saved as UTF-16 big-endian", utf16be(pkcs8PEM), "PRIVATE KEY"},
		{"PEM key saved as UTF-8 with a byte order mark", append([]byte("\xef\xbb\xbf"), pkcs8PEM...), "PRIVATE KEY"},
		{"PEM key with CR line ends (old Mac)", bytes.ReplaceAll(pkcs8PEM, []byte("\n"), []byte("\r")), "PRIVATE KEY"},
		{"armored OpenPGP secret key saved as UTF-16", utf16le(armoredSecret, true), "PGP PRIVATE KEY BLOCK"},
		{"base64 of a PEM key (kubeconfig client-key-data)", kubeconfig("client-key-data", read("id_rsa")), "base64"},
		{"binary public key followed by the secret key", append(append([]byte{}, binaryPublic...), binarySecret...), "OpenPGP secret key (binary)"},
		{"age identity", []byte("# created: 2024-05-01T10:00:00+02:00\n# public key: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\nAGE-SECRET-KEY-1QQPJVFQ6J3CZXQ2NDNL8HRRSQYC7S6T6MMRNPZ4K7YQZ8QFVGLNSEUXLVP9\n"), "age"},
		{"minisign secret key", []byte("untrusted comment: minisign encrypted secret key\nRWRTY0IyhlQJ9sYgDE5JcDRMuT3b0lq9A6R+1vm2X1eHrzgDOc4AAAACAAAAAAAAAEAAAAAA0ieLiH3mBs9RNtRmpO+SSSQwe3uvSBS2KFJx3mE0tHnQdBRN2Tk0SeVhwvT2sMQdZhOmDJzcRfx9oeaTV2eOebLr4NrqJDQvTo4Tmu7ZoLpLnIxBe8TGyEXMVzEK8cbIXDjZC6v5XEk=\n"), "minisign"},
		{"signify secret key", []byte("untrusted comment: signify secret key\nRWRCSwAAACqHVbmAUokJcTpgKhRbw+/W+Q7nrVPi3TU1Lx5n5kXmGE8TQgUJaN5NEsPcqLIPDKhTQ1O58P0ebA8tKzRQ9kXo1vv6aBDbz2Qc3DBS9uyKnhvbfkoggWcmFP0fvrnEw9M=\n"), "signify"},
		{"service account JSON", []byte(`{"type": "service_account", "private_key_id": "abc", "private_key": "` + strings.ReplaceAll(string(pemOf("PRIVATE KEY", pkcs8)), "\n", `\n`) + `"}`), "escaped PEM"},

		// Credential files.
		{".npmrc token", []byte("registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=npm_R4nd0mT0k3nV4lu3Xyz0123456789abcdEFG\n"), "npm"},
		{".npmrc _auth", []byte("_auth = dXNlcjpwYXNzd29yZA==\nemail=rm@example.org\n"), "_auth"},
		{".npmrc _password", []byte("//npm.example.org/:username=rm\n//npm.example.org/:_password=c2VjcmV0\n"), "_password"},
		{".pypirc password", []byte("[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = rm\npassword = hunter2-but-longer\n"), "PyPI upload password"},
		{".pypirc token", []byte("[pypi]\n  username = __token__\n  password = pypi-AgEIcHlwaS5vcmcCJDU1ZDM2YzA2LWQ1NzUtNGE1Mi05OGRkLTFhOTVkY2RmYzFmNwACKlsz\n"), "PyPI"},
		{"AWS credentials", []byte("[default]\naws_access_key_id = AKIAZ7Q2EXAMPLE7Q2X7\naws_secret_access_key = 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\n"), "AWS secret access key"},
		{"AWS secret in a script", []byte("#!/bin/sh\nexport AWS_SECRET_ACCESS_KEY=\"9drTJvcXLB89EXsdUfbFqtYsLknz8ZPU5ulH8vRr\"\naws s3 cp x s3://b/\n"), "AWS"},
		{".netrc", []byte("machine api.github.com\n  login rm\n  password s3cr3t-t0ken\n"), ".netrc password"},
		{".netrc on one line", []byte("machine example.org login rm password s3cr3t\n"), ".netrc password"},
		{"Docker config", []byte("{\n  \"auths\": {\n    \"https://index.docker.io/v1/\": {\n      \"auth\": \"cm06czNjcjN0cGFzcw==\"\n    }\n  }\n}\n"), "container registry"},
		{"GitHub token in a script", []byte("#!/bin/sh\ncurl -H 'Authorization: token ghp_Vb2CqTx9Lm4Rz7Wn1Kp5Hs8Dg3Fj6Ya0Qe2X' https://api.github.com/\n"), "GitHub token"},
		{"GitLab token", []byte("GITLAB_TOKEN=glpat-Ab3dE6gH9jK2mN5pQ8sT\n"), "GitLab"},
		{"npm token alone", []byte("token: npm_R4nd0mT0k3nV4lu3Xyz0123456789abcdEFG\n"), "npm token"},
		{"Slack token", []byte("SLACK=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx\n"), "Slack"},
		{"trel token", []byte("TREL_TOKEN=trel_4Hq9x_Rk2Lm7Vn0Zp3Tc8Wf5Ys1Bd6Ge9Jk2Mn4Pq7S\n"), "trel API token"},
		{"trel CI credential", []byte(`{"server": "https://trel.example", "token": "trelci_Zq8Lm3Vn7Rk2Wp5Tc9Hs1Bd4Gx6Ye0Jf3Mn8Pq2Ks_7"}` + "\n"), "trel CI credential"},

		// Not secrets.
		{"public key, armored (gpg)", armoredPublic, ""},
		{"public key, binary (gpg --export)", binaryPublic, ""},
		{"SSH public key", ssh.MarshalAuthorizedKey(sshPub), ""},
		{"SSH public key file (ssh-keygen)", read("id_ed25519.pub"), ""},
		{"certificate PEM", pemOf("CERTIFICATE", certDER), ""},
		{"certificate DER", certDER, ""},
		{"RSA public key PEM", pemOf("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)), ""},
		{"public key DER", pubDER, ""},
		{"JKS trust store", jks(0xFEEDFEED, 2), ""},
		{"documentation of the PEM format", []byte("To configure TLS, put your key in key.pem:\n\n    -----BEGIN RSA PRIVATE KEY-----\n    ...\n    -----END RSA PRIVATE KEY-----\n"), ""},
		{"a header line alone", []byte("-----BEGIN PRIVATE KEY-----\n"), ""},
		{".npmrc with the token from the environment", []byte("//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n"), ""},
		{".npmrc with a placeholder", []byte("//registry.npmjs.org/:_authToken=<your token>\n"), ""},
		{"AWS documentation example", []byte("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"), ""},
		{"placeholder GitHub token", []byte("export GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"), ""},
		{"prose about machines and passwords", []byte("machine learning is fun\nthe password is stored hashed\nmachine foo\nplease enter your password below\n"), ""},
		{"source code with a password variable", []byte("String password = request.getParameter(\"password\");\nconfig.password = \"\";\n"), ""},
		{"pypirc documentation placeholder", []byte("[pypi]\nusername = __token__\npassword = <your PyPI token>\n"), ""},
		{"a detached signature", []byte("-----BEGIN PGP SIGNATURE-----\n\niHUEABYKAB0WIQQ\n=abcd\n-----END PGP SIGNATURE-----\n"), ""},
		{"a checksum file", []byte("9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043  a.tar.gz\n"), ""},
		{"random binary", random, ""},
		{"README saved as UTF-16", utf16le([]byte("Widget 1.0\r\n\r\nBuild with make.\r\n"), true), ""},
		{"certificate PEM saved as UTF-16", utf16le(certPEM, true), ""},
		{"text with CR line ends", []byte("line one\rline two\r-----BEGIN PRIVATE KEY-----\r...\r"), ""},
		{"base64 of a certificate (kubeconfig client-certificate-data)", kubeconfig("client-certificate-data", certPEM), ""},
		{"age public key and documentation", []byte("Recipient: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\nIdentities start with AGE-SECRET-KEY-1...\n"), ""},
		{"minisign public key", []byte("untrusted comment: minisign public key 9D5A2C3E4F1B0A7D\nRWR9CgofTz5MLFqdmGRdbqoLsxFo2LSj5vfQ/T+YXa1Uy2SXBhbMtnNA\n"), ""},
		{"signify public key", []byte("untrusted comment: signify public key\nRWRCSwAAACqHVbmAUokJcTpgKhRbw+/W+Q7nrVPi3TU1Lx5n5kXmGE8TQgUJ\n"), ""},
		{"a gzip stream", gz(pemOf("RSA PRIVATE KEY", pkcs1)), ""}, // archives are opened by the archive checks, not here
		{"empty", nil, ""},
	}
}

// jks builds a Java key store with one entry of the given tag (1 private
// key, 2 trusted certificate, 3 secret key) in the documented layout.
func jks(magic uint32, tag uint32) []byte {
	var b bytes.Buffer
	w := func(v any) { binary.Write(&b, binary.BigEndian, v) }
	utf := func(s string) { w(uint16(len(s))); b.WriteString(s) }
	w(magic)
	w(uint32(2)) // version
	w(uint32(1)) // entries
	w(tag)
	utf("alias")
	w(uint64(time.Now().UnixMilli()))
	if tag == 2 {
		utf("X.509")
	}
	w(uint32(4))
	b.WriteString("cert")
	b.Write(make([]byte, 20)) // the key store's integrity hash
	return b.Bytes()
}

func TestScannerFindsEveryKindAndNothingElse(t *testing.T) {
	for _, s := range fixtures(t) {
		t.Run(s.name, func(t *testing.T) {
			f := Scan(s.data)
			switch {
			case s.want == "" && f != nil:
				t.Fatalf("false positive: %s", f.Kind)
			case s.want != "" && f == nil:
				t.Fatalf("not recognised")
			case s.want != "" && !strings.Contains(f.Kind, s.want):
				t.Fatalf("kind %q, want it to mention %q", f.Kind, s.want)
			}
			if f != nil {
				if !errors.Is(f, ErrSecret) || !strings.Contains(f.Error(), "compromised") {
					t.Fatalf("the error must say to treat the key as compromised: %v", f)
				}
				// The message never echoes the secret: no 16-byte run of
				// the file appears in it.
				msg := f.Error()
				for i := 0; i+16 <= len(s.data); i += 8 {
					chunk := string(s.data[i : i+16])
					secretish := strings.ContainsAny(chunk, "abcdefghijklmnopqrstuvwxyz0123456789")
					if secretish && strings.Contains(msg, chunk) {
						t.Fatalf("the message echoes the file: %q", chunk)
					}
				}
			}
		})
	}
}

// TestStreamingEqualsWhole feeds every fixture in pieces of several sizes
// (the way an upload arrives) and expects the same verdict as at once.
func TestStreamingEqualsWhole(t *testing.T) {
	for _, s := range fixtures(t) {
		whole := Scan(s.data)
		for _, size := range []int{1, 7, 100, 4096, 64 << 10} {
			sc := NewScanner()
			for i := 0; i < len(s.data); i += size {
				if _, err := sc.Write(s.data[i:min(i+size, len(s.data))]); err != nil {
					break
				}
			}
			sc.Close()
			if (sc.Found() == nil) != (whole == nil) {
				t.Errorf("%s in pieces of %d: %v, at once: %v", s.name, size, sc.Found(), whole)
			}
		}
	}
}

// TestReaderStopsBeforeTheEnd: the reader fails at the end of the stream
// at the latest, so a copy through it never completes with a secret.
func TestReaderStopsBeforeTheEnd(t *testing.T) {
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: bytes.Repeat([]byte{7}, 200)})
	r := NewReader(bytes.NewReader(key))
	n, err := io.Copy(io.Discard, r)
	if !errors.Is(err, ErrSecret) || r.Found() == nil {
		t.Fatalf("copied %d bytes, err %v", n, err)
	}
	// A secret found only at the end (a short DER key) fails at EOF too.
	der := x509.MarshalPKCS1PrivateKey(mustRSA(t))
	r = NewReader(bytes.NewReader(der))
	if _, err := io.Copy(io.Discard, r); !errors.Is(err, ErrSecret) {
		t.Fatalf("DER key: %v", err)
	}
	// Clean input ends with io.EOF as usual (io.Copy reports nil).
	r = NewReader(strings.NewReader("hello\n"))
	if _, err := io.Copy(io.Discard, r); err != nil || r.Found() != nil {
		t.Fatalf("clean input: %v %v", err, r.Found())
	}
}

func mustRSA(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSecretName(t *testing.T) {
	for _, n := range []string{"id_rsa", "id_ed25519", "id_ecdsa", "id_dsa", "id_ed25519_sk", "id_rsa_github", "ID_RSA", ".npmrc", ".pypirc", ".netrc", "_netrc", ".git-credentials", "secring.gpg", "deploy.ppk"} {
		if _, ok := SecretName(n); !ok {
			t.Errorf("ok/%s not recognised", n)
		}
	}
	for _, n := range []string{"id_rsa.pub", "id_ed25519.pub", "identity.txt", "id_card.pdf", "pubring.gpg", "KEYS", "README", ".ppk", "trustcerts.pem"} {
		if kind, ok := SecretName(n); ok {
			t.Errorf("fail/%s taken for %s", n, kind)
		}
	}
}

// BenchmarkScanner measures the scanner over 64 MiB of random bytes (an
// archive: judged by its start), of source-like text, and of text where
// every line holds an anchor (the worst case: every line is looked at).
func BenchmarkScanner(b *testing.B) {
	random := make([]byte, 64<<20)
	rand.Read(random)
	var text, hostile bytes.Buffer
	for text.Len() < 64<<20 {
		text.WriteString("\tif err := doSomething(ctx, name, value); err != nil { // see the configuration\n")
		text.WriteString("\t\treturn fmt.Errorf(\"reading the configuration: %w\", err)\n")
		hostile.WriteString("\tif err := doSomething(ctx, password, machine); err != nil { // default settings\n")
		hostile.WriteString("\t\treturn fmt.Errorf(\"reading the npm_config: %w\", err)\n")
	}
	for _, c := range []struct {
		name string
		data []byte
	}{{"binary", random}, {"text", text.Bytes()}, {"anchors-on-every-line", hostile.Bytes()}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				s := NewScanner()
				for i := 0; i < len(c.data); i += 1 << 20 {
					s.Write(c.data[i:min(i+1<<20, len(c.data))])
				}
				if s.Close() != nil {
					b.Fatal("false positive")
				}
			}
		})
	}
}
