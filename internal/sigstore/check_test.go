package sigstore

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseArtifactArg(t *testing.T) {
	const hex64 = "a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf"
	cases := []struct {
		name    string
		arg     string
		digest  string
		path    string
		wantErr bool
	}{
		{"digest", "sha256:" + hex64, hex64, "", false},
		{"upper-case hex digest", "sha256:" + strings.ToUpper(hex64), hex64, "", false},
		{"relative path", "dist/foo-1.0.tar.gz", "", "dist/foo-1.0.tar.gz", false},
		{"path that only looks like a prefix", "sha256-foo.txt", "", "sha256-foo.txt", false},
		{"short digest", "sha256:abcd", "", "", true},
		{"non-hex digest", "sha256:" + strings.Repeat("g", 64), "", "", true},
		{"empty", "", "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			digest, path, err := ParseArtifactArg(tc.arg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if hex.EncodeToString(digest) != tc.digest || path != tc.path {
				t.Fatalf("got digest=%x path=%q", digest, path)
			}
		})
	}
}

func TestDigestFileStreamsBothDigests(t *testing.T) {
	// Larger than io.Copy's buffer, so more than one read is digested.
	data := bytes.Repeat([]byte("0123456789abcdef"), 10000)
	path := filepath.Join(t.TempDir(), "artifact")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := DigestFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s256, s512 := sha256.Sum256(data), sha512.Sum512(data)
	if !bytes.Equal(a.SHA256, s256[:]) || !bytes.Equal(a.SHA512, s512[:]) {
		t.Fatal("digests differ from one-shot hashing")
	}
	if _, err := DigestFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing file digested")
	}
}

func TestVerifyBundleConformance(t *testing.T) {
	py := func(name string) string { return td("sigstore-python", name) }
	stagingArtifactDigest := "sha256:" + hex.EncodeToString(fileArtifact(t, py("bundle_v3.txt")).SHA256)

	cases := []struct {
		name    string
		opts    ConformanceOptions
		wantErr string // "" means verified (exit 0)
	}{
		{"production bundle with identity and file", ConformanceOptions{
			Bundle: py("bundle_v3_github.whl.sigstore"), Artifact: py("bundle_v3_github.whl"),
			CertificateIdentity:   "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2",
			CertificateOIDCIssuer: issuerGitHubActions,
		}, ""},
		{"staging bundle with digest argument", ConformanceOptions{
			Bundle: py("bundle_v3.txt.sigstore"), Artifact: stagingArtifactDigest, Staging: true,
			CertificateIdentity: "william@yossarian.net", CertificateOIDCIssuer: issuerGitHubOAuth,
		}, ""},
		{"staging bundle with --trusted-root file", ConformanceOptions{
			Bundle: py("bundle_v3.txt.sigstore"), Artifact: py("bundle_v3.txt"), TrustedRoot: td("roots", "staging.json"),
			CertificateIdentity: "william@yossarian.net", CertificateOIDCIssuer: issuerGitHubOAuth,
		}, ""},
		{"staging bundle without --staging", ConformanceOptions{
			Bundle: py("bundle_v3.txt.sigstore"), Artifact: py("bundle_v3.txt"),
			CertificateIdentity: "william@yossarian.net", CertificateOIDCIssuer: issuerGitHubOAuth,
		}, "unknown log"},
		{"wrong identity", ConformanceOptions{
			Bundle: py("bundle_v3.txt.sigstore"), Artifact: py("bundle_v3.txt"), Staging: true,
			CertificateIdentity: "william@yossarian.net.evil", CertificateOIDCIssuer: issuerGitHubOAuth,
		}, "not a trusted identity"},
		{"wrong issuer", ConformanceOptions{
			Bundle: py("bundle_v3.txt.sigstore"), Artifact: py("bundle_v3.txt"), Staging: true,
			CertificateIdentity: "william@yossarian.net", CertificateOIDCIssuer: issuerGitHubActions,
		}, "issuer is"},
		{"wrong file", ConformanceOptions{
			Bundle: py("bundle_v3.txt.sigstore"), Artifact: py("bundle_v3_alt.txt"), Staging: true,
			CertificateIdentity: "william@yossarian.net", CertificateOIDCIssuer: issuerGitHubOAuth,
		}, "does not match the signed digest"},
		{"sha256 digest argument for a statement that lists only sha512", ConformanceOptions{
			Bundle: td("sigstore-go", "bundle-publish.json"), Key: td("sigstore-go", "publish_key.pub"),
			Artifact: "sha256:" + strings.Repeat("0", 64),
		}, "no sha256 or sha512 digest"},
		{"certificate bundle with --key", ConformanceOptions{
			Bundle: py("bundle_v3_github.whl.sigstore"), Artifact: py("bundle_v3_github.whl"), Key: td("other_key.pub"),
		}, "signed with a certificate"},
		{"invalid media type", ConformanceOptions{
			Bundle: py("bundle_invalid_version.txt.sigstore"), Artifact: py("bundle_v3.txt"), Staging: true,
			CertificateIdentity: "a", CertificateOIDCIssuer: "b",
		}, "unsupported media type"},
		{"missing bundle flag", ConformanceOptions{Artifact: "x", Key: "k"}, "--bundle is required"},
		{"identity and key together", ConformanceOptions{Bundle: "b", Artifact: "x", Key: "k", CertificateIdentity: "i", CertificateOIDCIssuer: "u"}, "not both"},
		{"identity without issuer", ConformanceOptions{Bundle: "b", Artifact: "x", CertificateIdentity: "i"}, "go together"},
		{"neither identity nor key", ConformanceOptions{Bundle: "b", Artifact: "x"}, "is required"},
		{"missing artifact file", ConformanceOptions{
			Bundle: py("bundle_v3.txt.sigstore"), Artifact: py("nope.txt"), Staging: true,
			CertificateIdentity: "william@yossarian.net", CertificateOIDCIssuer: issuerGitHubOAuth,
		}, "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyBundleConformance(tc.opts)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("VerifyBundleConformance: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestVerifyFile(t *testing.T) {
	v := mustVerifier(t, PublicGoodRoot(), StagingRoot())
	whl := td("sigstore-python", "bundle_v3_github.whl")
	trusted := []Identity{{
		Issuer:        issuerGitHubActions,
		SubjectRegexp: `https://github\.com/trailofbits/rfc8785\.py/\.github/workflows/release\.yml@refs/tags/.*`,
		RefRegexp:     `refs/tags/.*`, SourceRepository: "https://github.com/trailofbits/rfc8785.py",
	}}

	cases := []struct {
		name    string
		file    string
		bundle  string
		ids     []Identity
		trusted bool
		code    ReasonCode
	}{
		{"trusted workflow release", whl, whl + ".sigstore", trusted, true, ReasonValid},
		{"valid but untrusted signer", whl, whl + ".sigstore", []Identity{{Issuer: issuerGitHubActions, Subject: "x"}}, false, ReasonValid},
		{"bundle for another file", td("sigstore-python", "bundle_v3.txt"), whl + ".sigstore", trusted, false, ReasonArtifactMismatch},
		{"bundle that does not load", whl, td("sigstore-python", "bundle_no_checkpoint.txt.sigstore"), trusted, false, ReasonBundleInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			verdict, err := v.VerifyFile(tc.file, tc.bundle, tc.ids, nil)
			if err != nil {
				t.Fatal(err)
			}
			if verdict.Trusted != tc.trusted || verdict.Result.ReasonCode != tc.code || verdict.Explanation == "" {
				t.Fatalf("got trusted=%v code=%s (%s), want trusted=%v code=%s",
					verdict.Trusted, verdict.Result.ReasonCode, verdict.Explanation, tc.trusted, tc.code)
			}
			if tc.trusted && verdict.Matched == nil {
				t.Fatal("trusted verdict without the matched identity")
			}
		})
	}
	if _, err := v.VerifyFile(td("missing"), whl+".sigstore", trusted, nil); err == nil {
		t.Fatal("missing artifact file gave a verdict, want an I/O error")
	}
	if _, err := v.VerifyFile(whl, td("missing.sigstore"), trusted, nil); err == nil {
		t.Fatal("missing bundle file gave a verdict, want an I/O error")
	}
}

func TestCheckTrustsRegisteredKey(t *testing.T) {
	path := td("sigstore-go", "bundle-publish.json")
	b := loadBundleFile(t, path)
	a := statementArtifact(t, path)
	verdict, err := DefaultVerifier().Check(b, a, nil, []PublicKey{
		loadKey(t, "other", td("other_key.pub")),
		loadKey(t, "npm", td("sigstore-go", "publish_key.pub")),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !verdict.Trusted || verdict.Result.KeyName != "npm" || !strings.Contains(verdict.Explanation, "npm") {
		t.Fatalf("got %+v / %+v", verdict, verdict.Result)
	}
}
