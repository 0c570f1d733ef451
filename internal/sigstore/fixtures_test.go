package sigstore

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const (
	issuerGitHubActions = "https://token.actions.githubusercontent.com"
	issuerGitHubOAuth   = "https://github.com/login/oauth"
	sigstoreJSRelease   = "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
)

// allRootsVerifier trusts every root in the fixtures, so each case also
// proves that the result names the root the bundle belongs to.
func allRootsVerifier(t testing.TB) *Verifier {
	t.Helper()
	v, err := NewVerifier(PublicGoodRoot(), StagingRoot(), loadRootFile(t, "scaffolding", td("roots", "scaffolding.json")))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type fixtureCase struct {
	bundle   string // path under testdata
	artifact func(t testing.TB) Artifact
	keys     []string // PEM files under testdata

	// Expected outcome: loadErr for bundles LoadBundle must reject,
	// otherwise a valid result or an invalid one with code.
	loadErr  string
	valid    bool
	code     ReasonCode
	root     string
	identity string
	issuer   string
	time     string
}

func fromFile(parts ...string) func(t testing.TB) Artifact {
	return func(t testing.TB) Artifact { return fileArtifact(t, td(parts...)) }
}

func fromStatement(parts ...string) func(t testing.TB) Artifact {
	return func(t testing.TB) Artifact { return statementArtifact(t, td(parts...)) }
}

func fixtureCases() map[string]fixtureCase {
	jsStatement := func(t testing.TB) Artifact {
		return statementJSONArtifact(t, readFile(t, td("sigstore-js", "statement.json")))
	}
	cases := map[string]fixtureCase{
		// sigstore-python
		"python v0.2 github workflow identity, production": {
			bundle: "sigstore-python/bundle_v3_github.whl.sigstore", artifact: fromFile("sigstore-python", "bundle_v3_github.whl"),
			valid: true, root: RootPublicGood, issuer: issuerGitHubActions,
			identity: "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2", time: TimeSourceIntegrated,
		},
		"python v0.1 email identity, staging": {
			bundle: "sigstore-python/bundle.txt.sigstore", artifact: fromFile("sigstore-python", "bundle.txt"),
			valid: true, root: RootStaging, issuer: issuerGitHubOAuth, identity: "a@tny.town", time: TimeSourceIntegrated,
		},
		"python v0.3 email identity, staging": {
			bundle: "sigstore-python/bundle_v3.txt.sigstore", artifact: fromFile("sigstore-python", "bundle_v3.txt"),
			valid: true, root: RootStaging, issuer: issuerGitHubOAuth, identity: "william@yossarian.net", time: TimeSourceIntegrated,
		},
		"python v0.3 alternative media type, staging": {
			bundle: "sigstore-python/bundle_v3_alt.txt.sigstore", artifact: fromFile("sigstore-python", "bundle_v3_alt.txt"),
			valid: true, root: RootStaging, issuer: issuerGitHubOAuth, identity: "william@yossarian.net", time: TimeSourceIntegrated,
		},
		"python rekor v2 entry with TSA timestamp, staging": {
			bundle: "sigstore-python/staging-rekor-v2.txt.sigstore.json", artifact: fromFile("sigstore-python", "staging-rekor-v2.txt"),
			valid: true, root: RootStaging, issuer: issuerGitHubOAuth, identity: "jku@goto.fi", time: TimeSourceTSA,
		},
		"python DSSE with rekor v2 entry, staging": {
			bundle: "sigstore-python/a.dsse.staging-rekor-v2.txt.sigstore.json", artifact: fromStatement("sigstore-python", "a.dsse.staging-rekor-v2.txt.sigstore.json"),
			valid: true, root: RootStaging, issuer: issuerGitHubActions, time: TimeSourceTSA,
			identity: "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
		},
		"python DSSE statement names a different file than the one shipped": {
			bundle: "sigstore-python/a.dsse.staging-rekor-v2.txt.sigstore.json", artifact: fromFile("sigstore-python", "a.dsse.staging-rekor-v2.txt"),
			code: ReasonArtifactMismatch,
		},
		"python CVE-2022-36056 log entry inconsistent with bundle": {
			bundle: "sigstore-python/bundle_cve_2022_36056.txt.sigstore", artifact: fromFile("sigstore-python", "bundle_cve_2022_36056.txt"),
			code: ReasonLogEntryInvalid,
		},
		"python no signed time (proof only, no promise, no TSA)": {
			bundle: "sigstore-python/bundle_v3_no_signed_time.txt.sigstore.json", artifact: fromFile("sigstore-python", "bundle_v3_no_signed_time.txt"),
			code: ReasonNoTrustedTime,
		},
		"python no transparency-log entry": {
			bundle: "sigstore-python/bundle_no_log_entry.txt.sigstore", artifact: fromFile("sigstore-python", "bundle_no_log_entry.txt"),
			code: ReasonNoLogEntry,
		},
		"python no checkpoint rejected at load": {
			bundle: "sigstore-python/bundle_no_checkpoint.txt.sigstore", loadErr: "no checkpoint",
		},
		"python invalid media type rejected at load": {
			bundle: "sigstore-python/bundle_invalid_version.txt.sigstore", loadErr: `unsupported media type "this is completely wrong"`,
		},

		// sigstore-go
		"go v0.1 npm provenance with chain, sha512 from statement": {
			bundle: "sigstore-go/bundle-provenance.json", artifact: fromStatement("sigstore-go", "bundle-provenance.json"),
			valid: true, root: RootPublicGood, issuer: issuerGitHubActions, identity: sigstoreJSRelease, time: TimeSourceIntegrated,
		},
		"go key-based npm publish bundle with its key": {
			bundle: "sigstore-go/bundle-publish.json", artifact: fromStatement("sigstore-go", "bundle-publish.json"),
			keys:  []string{"sigstore-go/publish_key.pub"},
			valid: true, root: RootPublicGood, time: TimeSourceIntegrated,
		},
		"go key-based bundle with another key": {
			bundle: "sigstore-go/bundle-publish.json", artifact: fromStatement("sigstore-go", "bundle-publish.json"),
			keys: []string{"other_key.pub"},
			code: ReasonKeyNotRegistered,
		},
		"go key-based bundle with no key registered": {
			bundle: "sigstore-go/bundle-publish.json", artifact: fromStatement("sigstore-go", "bundle-publish.json"),
			code: ReasonKeyNotRegistered,
		},
		"go sigstore.js 2.0.0 provenance": {
			bundle: "sigstore-go/sigstore.js@2.0.0-provenance.sigstore.json", artifact: fromStatement("sigstore-go", "sigstore.js@2.0.0-provenance.sigstore.json"),
			valid: true, root: RootPublicGood, issuer: issuerGitHubActions, identity: sigstoreJSRelease, time: TimeSourceIntegrated,
		},
		"go DSSE email identity": {
			bundle: "sigstore-go/dsse.sigstore.json", artifact: fromStatement("sigstore-go", "dsse.sigstore.json"),
			valid: true, root: RootPublicGood, issuer: issuerGitHubOAuth, identity: "brian@dehamer.com", time: TimeSourceIntegrated,
		},
		"go DSSE with two signatures": {
			bundle: "sigstore-go/dsse-2sigs.sigstore.json", artifact: fromStatement("sigstore-go", "dsse-2sigs.sigstore.json"),
			code: ReasonDSSESignatureCount,
		},
		"go othername SAN from a private instance": {
			bundle: "sigstore-go/othername.sigstore.json", artifact: func(t testing.TB) Artifact {
				return messageDigestArtifact(t, td("sigstore-go", "othername.sigstore.json"))
			},
			valid: true, root: "scaffolding", issuer: "http://oidc.local:8080", identity: "foo!oidc.local", time: TimeSourceIntegrated,
		},

		// pypi-attestations
		"pypi attestation github identity, production": {
			bundle: "pypi-attestations/pypi_attestation_models-0.0.4a2.tar.gz.sigstore", artifact: fromFile("pypi-attestations", "pypi_attestation_models-0.0.4a2.tar.gz"),
			valid: true, root: RootPublicGood, issuer: issuerGitHubActions, time: TimeSourceIntegrated,
			identity: "https://github.com/trailofbits/pypi-attestation-models/.github/workflows/release.yml@refs/tags/v0.0.4a2",
		},
		"pypi attestation email identity, staging": {
			bundle: "pypi-attestations/rfc8785-0.1.2-py3-none-any.whl.sigstore", artifact: fromFile("pypi-attestations", "rfc8785-0.1.2-py3-none-any.whl"),
			valid: true, root: RootStaging, issuer: issuerGitHubOAuth, identity: "william@yossarian.net", time: TimeSourceIntegrated,
		},

		// gh-cli
		"gh-cli v0.3 bundle for the npm tarball": {
			bundle: "gh-cli/sigstore-js-2.1.0-bundle.json", artifact: fromFile("gh-cli", "sigstore-js-2.1.0.tgz"),
			valid: true, root: RootPublicGood, issuer: issuerGitHubActions, identity: sigstoreJSRelease, time: TimeSourceIntegrated,
		},
		"gh-cli v0.1 bundle for the npm tarball": {
			bundle: "gh-cli/sigstore-js-2.1.0-bundle-v0.1.json", artifact: fromFile("gh-cli", "sigstore-js-2.1.0.tgz"),
			valid: true, root: RootPublicGood, issuer: issuerGitHubActions, identity: sigstoreJSRelease, time: TimeSourceIntegrated,
		},
	}

	// sigstore-js: every version x DSSE/in-toto x proof variant.
	for _, name := range []string{
		"bundleV01-dsse-no-proof.sigstore", "bundleV01-dsse-with-proof.sigstore", "bundleV01-full-cert-chain.sigstore",
		"bundleV01-intoto-no-proof.sigstore", "bundleV01-intoto-with-proof.sigstore", "bundleV02-dsse.sigstore",
		"bundleV02-intoto.sigstore", "bundleV03-dsse.sigstore", "bundleV03-intoto.sigstore",
	} {
		cases["sigstore-js "+name] = fixtureCase{
			bundle: "sigstore-js/" + name, artifact: jsStatement,
			valid: true, root: RootPublicGood, issuer: issuerGitHubOAuth, identity: "brian@dehamer.com", time: TimeSourceIntegrated,
		}
	}
	return cases
}

func TestFixtureBundlesVerifyAsDocumented(t *testing.T) {
	v := allRootsVerifier(t)
	for name, tc := range fixtureCases() {
		t.Run(name, func(t *testing.T) {
			b, err := LoadBundleFile(td(tc.bundle))
			if tc.loadErr != "" {
				if err == nil {
					t.Fatalf("LoadBundle accepted a bundle it must reject")
				}
				if !errors.Is(err, ErrInvalidBundle) || !strings.Contains(err.Error(), tc.loadErr) {
					t.Fatalf("LoadBundle error = %q, want ErrInvalidBundle mentioning %q", err, tc.loadErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadBundle: %v", err)
			}
			var keys []PublicKey
			for _, k := range tc.keys {
				keys = append(keys, loadKey(t, k, td(k)))
			}
			a := tc.artifact(t)
			res, err := v.Verify(b, a, keys)
			if err != nil {
				t.Fatalf("Verify returned an internal error: %v", err)
			}
			if res.Valid != tc.valid {
				t.Fatalf("Valid = %v (%s: %s; %s), want %v", res.Valid, res.ReasonCode, res.Reason, res.Detail, tc.valid)
			}
			if res.BundleVersion == "" {
				t.Errorf("BundleVersion is empty")
			}
			if !tc.valid {
				if res.ReasonCode != tc.code {
					t.Fatalf("ReasonCode = %s (%s; %s), want %s", res.ReasonCode, res.Reason, res.Detail, tc.code)
				}
				if res.Reason == "" || res.Identity != "" {
					t.Errorf("invalid result must have a reason and no identity: %+v", res)
				}
				return
			}
			if res.ReasonCode != ReasonValid || res.RootName != tc.root || res.Identity != tc.identity || res.Issuer != tc.issuer {
				t.Fatalf("got code=%s root=%q identity=%q issuer=%q, want root=%q identity=%q issuer=%q",
					res.ReasonCode, res.RootName, res.Identity, res.Issuer, tc.root, tc.identity, tc.issuer)
			}
			if res.TimeSource != tc.time || res.SignedAt.IsZero() || res.SignedAt.Year() < 2022 {
				t.Errorf("time = %s %v, want source %s and a real time", res.TimeSource, res.SignedAt, tc.time)
			}
			if res.LogIndex <= 0 || res.LogID == "" {
				t.Errorf("log index %d / id %q not reported", res.LogIndex, res.LogID)
			}
			if len(tc.keys) > 0 && (!res.KeyBased() || !strings.HasPrefix(res.KeyFingerprint, "SHA256:")) {
				t.Errorf("key-based result lacks fingerprint: %+v", res)
			}

			// The same bundle for a tampered artifact must fail.
			tampered := Artifact{SHA256: flip(a.SHA256), SHA512: flip(a.SHA512)}
			if len(a.SHA256) == 0 {
				tampered.SHA256 = nil
			}
			if len(a.SHA512) == 0 {
				tampered.SHA512 = nil
			}
			bad, err := v.Verify(b, tampered, keys)
			if err != nil {
				t.Fatalf("Verify(tampered): internal error %v", err)
			}
			if bad.Valid || bad.ReasonCode != ReasonArtifactMismatch {
				t.Fatalf("tampered artifact: Valid=%v code=%s (%s), want %s", bad.Valid, bad.ReasonCode, bad.Detail, ReasonArtifactMismatch)
			}
		})
	}
}

// TestEveryFixtureBundleIsCovered fails when a bundle is added to testdata
// without an expected result.
func TestEveryFixtureBundleIsCovered(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range fixtureCases() {
		covered[tc.bundle] = true
	}
	var missing []string
	err := filepath.WalkDir("testdata", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata", path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() || strings.HasPrefix(rel, "roots/") || strings.HasPrefix(rel, "fuzz/") {
			return nil
		}
		isBundle := strings.HasSuffix(rel, ".sigstore") || strings.HasSuffix(rel, ".sigstore.json") ||
			strings.HasSuffix(rel, "bundle.json") || strings.HasSuffix(rel, "-bundle-v0.1.json") ||
			strings.HasPrefix(filepath.Base(rel), "bundle-")
		if isBundle && !covered[rel] {
			missing = append(missing, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("fixture bundles without an expected result: %v", missing)
	}
	if len(covered) < 30 {
		t.Fatalf("only %d fixture bundles covered", len(covered))
	}
}
