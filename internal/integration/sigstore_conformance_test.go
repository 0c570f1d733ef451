package integration

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"trel/internal/testutil/sigstoretest"
)

// conformanceClient drives trel the way sigstore-conformance's
// test/client.py drives a client: sign-bundle and verify-bundle with the
// arguments in the protocol's order. The suite itself is Python (pytest)
// and PyPI is out of reach here, so its five signing cases are reproduced
// below, against the private instance: every call carries --trusted-root
// (and sign-bundle --signing-config), where the suite would use staging.
type conformanceClient struct {
	t     *testing.T
	u     *user
	dir   string
	inst  *sigstoretest.Instance
	token string // stays out of every argument list: passed as @FILE
	email string
}

func newConformanceClient(t *testing.T) *conformanceClient {
	inst := privateSigstore(t)
	dir := t.TempDir()
	for _, f := range []string{"a.txt", "statement.json"} {
		writeFile(t, filepath.Join(dir, f), readFile(t, filepath.Join("testdata", "conformance", f)))
	}
	c := &conformanceClient{t: t, u: newUser(t, "conformance"), dir: dir, inst: inst, email: "conformance@example.org"}
	c.token = inst.OIDC.EmailToken(c.email)
	return c
}

// sign is client.sign(materials): sign-bundle [--in-toto] --identity-token
// TOKEN --bundle FILE [--trusted-root R] [--signing-config S] FILE.
func (c *conformanceClient) sign(input, bundle string, inToto bool) {
	c.t.Helper()
	args := []string{"sigstore", "sign-bundle"}
	if inToto {
		args = append(args, "--in-toto")
	}
	args = append(args, "--identity-token", "@"+tokenFile(c.t, c.token), "--bundle", bundle,
		"--trusted-root", c.inst.TrustedRootPath, "--signing-config", c.inst.SigningConfigPath, input)
	if r := c.u.runIn(c.t, c.dir, "", args...); r.code != 0 {
		c.t.Fatalf("sign-bundle: %s", r)
	}
}

// verify is client.verify(materials) (FILE) or verify_digest (sha256:HEX).
func (c *conformanceClient) verify(bundle, fileOrDigest string) {
	c.t.Helper()
	r := c.u.runIn(c.t, c.dir, "", "sigstore", "verify-bundle", "--bundle", bundle, "--certificate-identity", c.email,
		"--certificate-oidc-issuer", c.inst.OIDC.URL, "--trusted-root", c.inst.TrustedRootPath, fileOrDigest)
	if r.code != 0 {
		c.t.Fatalf("verify-bundle %s: %s", fileOrDigest, r)
	}
}

// selftest stands for the suite's selftest client (sigstore-python): an
// independent verifier, here sigstore-go's, with the same identity.
func (c *conformanceClient) selftest(bundle, artifact string) {
	c.t.Helper()
	tr, err := root.NewTrustedRootFromJSON(c.inst.TrustedRootJSON)
	if err != nil {
		c.t.Fatal(err)
	}
	var b sgbundle.Bundle
	if err := b.UnmarshalJSON(readFile(c.t, filepath.Join(c.dir, bundle))); err != nil {
		c.t.Fatalf("selftest: the bundle does not parse: %v", err)
	}
	v, err := verify.NewVerifier(tr, verify.WithTransparencyLog(1), verify.WithSignedTimestamps(1))
	if err != nil {
		c.t.Fatal(err)
	}
	id, _ := verify.NewShortCertificateIdentity(c.inst.OIDC.URL, "", c.email, "")
	f, err := os.Open(filepath.Join(c.dir, artifact))
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	if _, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifact(f), verify.WithCertificateIdentity(id))); err != nil {
		c.t.Fatalf("selftest verify: %v", err)
	}
}

// bundleJSON is the part of a bundle the cases inspect.
type bundleJSON struct {
	MessageSignature     json.RawMessage           `json:"messageSignature"`
	DSSEEnvelope         *struct{ Payload []byte } `json:"dsseEnvelope"`
	VerificationMaterial struct {
		Certificate *struct {
			RawBytes []byte `json:"rawBytes"`
		} `json:"certificate"`
		X509CertificateChain *struct {
			Certificates []struct {
				RawBytes []byte `json:"rawBytes"`
			} `json:"certificates"`
		} `json:"x509CertificateChain"`
		TlogEntries []struct {
			KindVersion struct{ Kind, Version string } `json:"kindVersion"`
		} `json:"tlogEntries"`
	} `json:"verificationMaterial"`
}

func (c *conformanceClient) read(bundle string) bundleJSON {
	var b bundleJSON
	if err := json.Unmarshal(readFile(c.t, filepath.Join(c.dir, bundle)), &b); err != nil {
		c.t.Fatal(err)
	}
	return b
}

// TestConformanceSigning reproduces sigstore-conformance's signing cases
// (test_simple.py, test_bundle.py; test_sign_does_not_produce_root runs
// twice there, once per artifact input type).
func TestConformanceSigning(t *testing.T) {
	c := newConformanceClient(t)

	t.Run("test_simple", func(t *testing.T) {
		c.t = t
		c.sign("a.txt", "simple.sigstore.json", false)
		c.verify("simple.sigstore.json", "a.txt")
		c.selftest("simple.sigstore.json", "a.txt")
	})

	for _, input := range []string{"PATH", "DIGEST"} {
		t.Run("test_sign_does_not_produce_root["+input+"]", func(t *testing.T) {
			c.t = t
			bundle := "noroot-" + input + ".sigstore.json"
			c.sign("a.txt", bundle, false)
			b := c.read(bundle)
			if b.MessageSignature == nil || b.DSSEEnvelope != nil {
				t.Fatal("want a message signature and no DSSE envelope")
			}
			var certs [][]byte
			switch vm := b.VerificationMaterial; {
			case vm.X509CertificateChain != nil:
				for _, c := range vm.X509CertificateChain.Certificates {
					certs = append(certs, c.RawBytes)
				}
			case vm.Certificate != nil:
				certs = append(certs, vm.Certificate.RawBytes)
			default:
				t.Fatal("expected certs in either x509CertificateChain or certificate")
			}
			for _, der := range certs {
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					t.Fatal(err)
				}
				if cert.BasicConstraintsValid && cert.IsCA {
					t.Fatalf("the bundle carries a CA certificate: %s", cert.Subject)
				}
			}
			// The suite's verify_bundle fixture is parametrized over the
			// input type; verify both ways here.
			target := "a.txt"
			if input == "DIGEST" {
				sum := sha256.Sum256(readFile(t, filepath.Join(c.dir, "a.txt")))
				target = "sha256:" + hex.EncodeToString(sum[:])
			}
			c.verify(bundle, target)
		})
	}

	t.Run("test_sign_verify_rekor2", func(t *testing.T) {
		c.t = t
		c.sign("a.txt", "rekor2.sigstore.json", false)
		b := c.read("rekor2.sigstore.json")
		if len(b.VerificationMaterial.TlogEntries) == 0 {
			t.Fatal("no tlog entry")
		}
		if kv := b.VerificationMaterial.TlogEntries[0].KindVersion; kv.Kind != "hashedrekord" || kv.Version != "0.0.2" {
			t.Fatalf("kind/version %+v, want hashedrekord 0.0.2 (Rekor v2)", kv)
		}
		c.verify("rekor2.sigstore.json", "a.txt")
		c.selftest("rekor2.sigstore.json", "a.txt")
	})

	t.Run("test_sign_verify_dsse", func(t *testing.T) {
		c.t = t
		c.sign("statement.json", "dsse.sigstore.json", true)
		b := c.read("dsse.sigstore.json")
		if b.DSSEEnvelope == nil || b.MessageSignature != nil {
			t.Fatal("want a DSSE envelope and no message signature")
		}
		if !bytes.Equal(b.DSSEEnvelope.Payload, readFile(t, filepath.Join(c.dir, "statement.json"))) {
			t.Fatal("the DSSE payload is not the statement")
		}
		// Verified against the statement's subject, a.txt.
		c.verify("dsse.sigstore.json", "a.txt")
		c.selftest("dsse.sigstore.json", "a.txt")
	})
}
