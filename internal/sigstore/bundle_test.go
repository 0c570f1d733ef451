package sigstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
)

func TestLoadBundleRejectsWithPlainReasons(t *testing.T) {
	valid := readFile(t, td("sigstore-python", "bundle_v3.txt.sigstore"))
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty input", nil, "the file is empty"},
		{"too large", bytes.Repeat([]byte(" "), MaxBundleSize+1), "more than the"},
		{"not JSON", []byte("-----BEGIN PGP SIGNATURE-----"), "not JSON"},
		{"JSON without media type", []byte(`{"verificationMaterial":{}}`), "no mediaType"},
		{"media type of something else", []byte(`{"mediaType":"application/vnd.in-toto+json"}`), "unsupported media type"},
		{"future bundle version", bytes.Replace(valid, []byte("bundle.v0.3+json"), []byte("bundle.v0.4+json"), 1), "unsupported media type"},
		{"no content", []byte(`{"mediaType":"` + MediaTypeV03 + `","verificationMaterial":{"certificate":{"rawBytes":"AA=="}}}`), "neither a message signature nor a DSSE envelope"},
		{"no verification material", []byte(`{"mediaType":"` + MediaTypeV03 + `","messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"AA=="},"signature":"AA=="}}`), "no verification material"},
		{"unknown field", []byte(`{"mediaType":"` + MediaTypeV03 + `","surprise":1}`), "does not follow the Sigstore bundle schema"},
		{"garbage certificate", []byte(`{"mediaType":"` + MediaTypeV03 + `","verificationMaterial":{"certificate":{"rawBytes":"AAAA"}},"messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"AA=="},"signature":"AA=="}}`), "certificate or key cannot be read"},
		{"v0.3 with a certificate chain", readFile(t, td("sigstore-js", "bundleV02-dsse.sigstore")), ""},
	}
	// A v0.2 bundle relabelled v0.3 keeps its chain, which v0.3 forbids.
	cases[len(cases)-1].data = bytes.Replace(cases[len(cases)-1].data, []byte(MediaTypeV02), []byte(MediaTypeV03), 1)
	cases[len(cases)-1].want = "single leaf certificate"

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := LoadBundle(tc.data)
			if err == nil {
				t.Fatalf("LoadBundle accepted it: %+v", b)
			}
			if !errors.Is(err, ErrInvalidBundle) {
				t.Errorf("error does not wrap ErrInvalidBundle: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestLoadBundleReportsVersion(t *testing.T) {
	cases := map[string]struct {
		version string
		cert    bool
		dsse    bool
	}{
		"sigstore-js/bundleV01-dsse-no-proof.sigstore":              {"v0.1", true, true},
		"sigstore-js/bundleV02-intoto.sigstore":                     {"v0.2", true, true},
		"sigstore-js/bundleV03-dsse.sigstore":                       {"v0.3", true, true},
		"sigstore-python/bundle_v3.txt.sigstore":                    {"v0.3", true, false},
		"sigstore-go/bundle-publish.json":                           {"v0.1", false, true},
		"sigstore-python/staging-rekor-v2.txt.sigstore.json":        {"v0.3", true, false},
		"sigstore-python/bundle_no_log_entry.txt.sigstore":          {"v0.1", true, false},
		"sigstore-python/bundle_cve_2022_36056.txt.sigstore":        {"v0.3", true, false},
		"pypi-attestations/rfc8785-0.1.2-py3-none-any.whl.sigstore": {"v0.3", true, true},
	}
	for path, want := range cases {
		t.Run(path, func(t *testing.T) {
			b := loadBundleFile(t, td(path))
			if b.Version != want.version || b.HasCertificate() != want.cert || b.IsDSSE() != want.dsse {
				t.Fatalf("got version=%s cert=%v dsse=%v, want %+v", b.Version, b.HasCertificate(), b.IsDSSE(), want)
			}
			if mediaTypeVersions[b.MediaType] != b.Version {
				t.Fatalf("media type %q does not map to %s", b.MediaType, b.Version)
			}
		})
	}
}

func TestLoadBundleFileErrors(t *testing.T) {
	if _, err := LoadBundleFile(filepath.Join(t.TempDir(), "missing.sigstore")); err == nil || errors.Is(err, ErrInvalidBundle) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v; want a not-exist I/O error, not an invalid bundle", err)
	}
	big := filepath.Join(t.TempDir(), "big.sigstore")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), MaxBundleSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBundleFile(big); !errors.Is(err, ErrInvalidBundle) {
		t.Fatalf("oversized file: %v; want ErrInvalidBundle", err)
	}
}

func TestVerifyInternalFailuresAreErrors(t *testing.T) {
	v := DefaultVerifier()
	good := loadBundleFile(t, td("sigstore-python", "bundle_v3_github.whl.sigstore"))
	a := fileArtifact(t, td("sigstore-python", "bundle_v3_github.whl"))
	handMade := &Bundle{MediaType: MediaTypeV03, Version: "v0.3", inner: &sgbundle.Bundle{Bundle: &protobundle.Bundle{}}}

	cases := []struct {
		name string
		v    *Verifier
		b    *Bundle
		a    Artifact
	}{
		{"nil bundle", v, nil, a},
		{"bundle not from LoadBundle", v, &Bundle{}, a},
		{"bundle without verification material", v, handMade, a},
		{"no digest", v, good, Artifact{}},
		{"short digest", v, good, Artifact{SHA256: a.SHA256[:16]}},
		{"nil verifier", nil, good, a},
		{"verifier without roots", &Verifier{}, good, a},
	}
	// A nil protobuf inside sigstore-go's bundle makes the library panic;
	// the panic must come back as an error.
	cases = append(cases, struct {
		name string
		v    *Verifier
		b    *Bundle
		a    Artifact
	}{"panic inside the library", v, &Bundle{inner: &sgbundle.Bundle{}}, a})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tc.v.Verify(tc.b, tc.a, nil)
			if err == nil {
				t.Fatalf("got a verdict %+v, want an error", res)
			}
			if res != nil {
				t.Fatalf("got both an error and a result")
			}
			if tc.name == "panic inside the library" && !strings.Contains(err.Error(), "internal error") {
				t.Fatalf("panic not reported as an internal error: %v", err)
			}
		})
	}
}

func TestRoots(t *testing.T) {
	for _, r := range []NamedRoot{PublicGoodRoot(), StagingRoot()} {
		if r.root == nil || len(r.root.RekorLogs()) == 0 || len(r.root.FulcioCertificateAuthorities()) == 0 {
			t.Errorf("embedded root %s is incomplete", r.Name)
		}
	}
	if n := len(PublicGoodRoot().root.TimestampingAuthorities()); n == 0 {
		t.Errorf("embedded production root has no timestamp authority; it should be the 2025 root")
	}
	if got := DefaultVerifier().RootNames(); len(got) != 1 || got[0] != RootPublicGood {
		t.Errorf("DefaultVerifier roots = %v", got)
	}

	if _, err := LoadTrustedRoot("", readFile(t, td("roots", "staging.json"))); err == nil {
		t.Error("unnamed root accepted")
	}
	if _, err := LoadTrustedRoot("x", []byte(`{"mediaType":"nope"}`)); err == nil || !strings.Contains(err.Error(), "not a valid Sigstore trusted root") {
		t.Errorf("bad root: %v", err)
	}
	if _, err := LoadTrustedRoot("x", readFile(t, td("sigstore-python", "bundle_v3.txt.sigstore"))); err == nil {
		t.Error("a bundle was accepted as a trusted root")
	}
	if _, err := LoadTrustedRootFile("x", filepath.Join(t.TempDir(), "nope.json")); err == nil {
		t.Error("missing root file accepted")
	}
	if _, err := NewVerifier(); err == nil {
		t.Error("verifier without roots accepted")
	}
	if _, err := NewVerifier(PublicGoodRoot(), PublicGoodRoot()); err == nil {
		t.Error("duplicate root names accepted")
	}
	if _, err := NewVerifier(NamedRoot{Name: "zero"}); err == nil {
		t.Error("unloaded root accepted")
	}
}

// TestOlderRootStillVerifiesOlderBundles: gh-cli's trusted_root.json
// predates the TSA; bundles from its time verify against it.
func TestOlderRootStillVerifiesOlderBundles(t *testing.T) {
	v := mustVerifier(t, loadRootFile(t, "gh-cli-2023", td("gh-cli", "trusted_root.json")))
	b := loadBundleFile(t, td("gh-cli", "sigstore-js-2.1.0-bundle.json"))
	res, err := v.Verify(b, fileArtifact(t, td("gh-cli", "sigstore-js-2.1.0.tgz")), nil)
	if err != nil || !res.Valid || res.RootName != "gh-cli-2023" {
		t.Fatalf("Verify: %v %+v", err, res)
	}
}

// TestStagingBundleAgainstProduction proves the "wrong root" message.
func TestStagingBundleAgainstProduction(t *testing.T) {
	b := loadBundleFile(t, td("sigstore-python", "bundle_v3.txt.sigstore"))
	res, err := DefaultVerifier().Verify(b, fileArtifact(t, td("sigstore-python", "bundle_v3.txt")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Valid || res.ReasonCode != ReasonUnknownLog || !strings.Contains(res.Reason, "usually the wrong trusted root") || res.RootName != "" {
		t.Fatalf("got %+v", res)
	}
}

func TestPublicKeyParsing(t *testing.T) {
	k := loadKey(t, "npm", td("sigstore-go", "publish_key.pub"))
	// openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64
	if k.Fingerprint != "SHA256:HpCKVUWf5t2sHMvBN+qGMe6DcDL+wqLMxSizjYHxcQg" {
		t.Errorf("fingerprint = %s", k.Fingerprint)
	}
	for name, data := range map[string][]byte{
		"not PEM":     []byte("hello"),
		"certificate": []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
		"bad DER":     []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
	} {
		if _, err := ParsePublicKeyPEM(name, data); err == nil {
			t.Errorf("%s accepted as a public key", name)
		}
	}
}
