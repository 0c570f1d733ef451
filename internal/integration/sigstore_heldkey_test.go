package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"trel/internal/api"
	"trel/internal/domain"
	"trel/internal/testutil/archivetest"
)

// TestHeldKeySigstoreBundles: a key trel holds makes key-based Sigstore
// bundles after the same passkey approval as OpenPGP signatures: the
// approval commits to the kind and the SHA-256 signed; each bundle carries
// a public-key hint and a timestamp from the instance's TSA, is in trel's
// public log, verifies with sigstore-go against the key, and counts in the
// checks only while the project's policy accepts server-made signatures.
func TestHeldKeySigstoreBundles(t *testing.T) {
	inst := privateSigstore(t)
	ctx := context.Background()
	mk := filepath.Join(t.TempDir(), "master.key")
	newUser(t, "op").ok(t, "admin", "create-master-key", "--out", mk)
	w := newWorld(t, "--master-key-file", mk, "--sigstore-root", "private="+inst.TrustedRootPath,
		"--sigstore-signing-config", inst.SigningConfigPath, "--sigstore-signing-root", "private")
	authn := addPasskey(t, w.data, "alice")
	r := w.alice.runIn(t, w.alice.home, signingPassword+"\n", "signing-key", "create", "--committee", "demo", "--json")
	if r.code != 0 {
		t.Fatalf("create: %s", r)
	}
	var key domain.Key
	json.Unmarshal([]byte(r.stdout), &key)
	w.alice.ok(t, "policy", "set", "widget", "--require", "sigstore")
	w.alice.ok(t, "release", "start", "widget", "1.0")
	dir := t.TempDir()
	art := filepath.Join(dir, "widget-1.0.tar.gz")
	data := archivetest.SourceTarGz(t, "widget-1.0", pseudoRandom("held-sigstore", 1<<20))
	writeFile(t, art, data)
	writeFile(t, art+".sha512", []byte(sha512Line(data, "widget-1.0.tar.gz")))
	w.bob.ok(t, "upload", "widget", "1.0", art, art+".sha512")

	begin := func(kind string) *api.SignPlan {
		t.Helper()
		p, err := w.aliceC.BeginSigning(ctx, api.SignRequest{Project: "widget", Version: "1.0", Key: key.Fingerprint, Kind: kind})
		if err != nil {
			t.Fatalf("begin %s: %v", kind, err)
		}
		return p
	}
	assert := func(p *api.SignPlan) []byte {
		t.Helper()
		a, err := authn.Assert(p.PublicKey, true)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if _, err := w.aliceC.BeginSigning(ctx, api.SignRequest{Project: "widget", Version: "1.0", Key: key.Fingerprint, Kind: "x509"}); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Fatalf("an unknown kind: %v", err)
	}
	// An approval of an OpenPGP signature cannot complete a Sigstore request.
	pgp, sig := begin("openpgp"), begin("sigstore")
	if _, err := w.aliceC.CompleteSigning(ctx, sig.RequestID, api.SignCompletion{Ceremony: pgp.Ceremony, Assertion: assert(pgp), Password: signingPassword}); err == nil || !strings.Contains(err.Error(), "approved something else") {
		t.Fatalf("an OpenPGP approval used for Sigstore: %v", err)
	}

	p := begin("sigstore")
	var compact bytes.Buffer
	json.Compact(&compact, p.Transaction)
	if !strings.Contains(compact.String(), `"kind":"sigstore"`) || !strings.Contains(compact.String(), `"sha256":"`) {
		t.Fatalf("the approved transaction must name the kind and the SHA-256: %s", compact.String())
	}
	start := time.Now()
	res, err := w.aliceC.CompleteSigning(ctx, p.RequestID, api.SignCompletion{Ceremony: p.Ceremony, Assertion: assert(p), Password: signingPassword})
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	t.Logf("held-key Sigstore bundle (TSA timestamp, trel log) took %s", time.Since(start))
	if len(res.Files) != 1 || res.Revision == nil {
		t.Fatalf("result: %+v", res)
	}
	dl := t.TempDir()
	bundlePath := filepath.Join(dl, "widget-1.0.tar.gz.sigstore.json")
	w.bob.ok(t, "download", "widget", "1.0", "widget-1.0.tar.gz.sigstore.json", "-o", bundlePath)
	raw := readFile(t, bundlePath)
	var b struct {
		VM struct {
			PublicKey   *struct{ Hint string }             `json:"publicKey"`
			TSA         *struct{ Rfc3161Timestamps []any } `json:"timestampVerificationData"`
			TlogEntries []any                              `json:"tlogEntries"`
		} `json:"verificationMaterial"`
	}
	json.Unmarshal(raw, &b)
	if b.VM.PublicKey == nil || b.VM.PublicKey.Hint == "" || b.VM.TSA == nil || len(b.VM.TSA.Rfc3161Timestamps) != 1 || len(b.VM.TlogEntries) != 0 {
		t.Fatalf("bundle: %s", raw)
	}
	// In trel's public log.
	if out := w.carol.ok(t, "log", "verify", bundlePath); !strings.Contains(out, "Inclusion proven") {
		t.Fatalf("log verify: %s", out)
	}
	// sigstore-go verifies it with the published Sigstore key and the TSA.
	var keys []domain.HeldSigstoreKey
	w.alice.okJSON(t, &keys, "signing-key", "sigstore-keys")
	if len(keys) != 1 || keys[0].Fingerprint != key.Fingerprint {
		t.Fatalf("sigstore-keys: %+v", keys)
	}
	sum := sha256.Sum256(data)
	if err := verifyWithKey(t, inst.TrustedRootJSON, raw, keys[0].PublicKey, sum[:]); err != nil {
		t.Fatalf("sigstore-go refuses the held key's bundle: %v", err)
	}
	// trel verify --key wants a Rekor entry, and says where these are logged.
	pemPath := filepath.Join(dl, "held.pem")
	writeFile(t, pemPath, []byte(keys[0].PublicKey))
	if r := w.carol.run(t, "verify", art, "--bundle", bundlePath, "--key", pemPath, "--trusted-root", inst.TrustedRootPath); r.code != 1 || !strings.Contains(r.stdout, "trel log verify") {
		t.Fatalf("trel verify --key of a held key's bundle: %s", r)
	}
	other := sha256.Sum256([]byte("other"))
	if verifyWithKey(t, inst.TrustedRootJSON, raw, keys[0].PublicKey, other[:]) == nil {
		t.Fatal("the bundle verified for another artifact")
	}

	if rr := w.bob.run(t, "checks", "wait", "widget", "1.0", "--timeout", "60s"); rr.code != 0 {
		t.Fatalf("checks: %s\n%s", rr, w.bob.ok(t, "checks", "list", "widget", "1.0"))
	}
	if list := w.bob.ok(t, "checks", "list", "widget", "1.0"); !strings.Contains(list, "held by trel for alice") || !strings.Contains(list, "meets the project's policy") {
		t.Fatalf("checks:\n%s", list)
	}
	// A policy that refuses server-made signatures: the bundle no longer counts.
	w.alice.ok(t, "policy", "set", "widget", "--accept-server-signed=false")
	if rr := w.bob.run(t, "checks", "wait", "widget", "1.0", "--timeout", "60s"); rr.code != 1 {
		t.Fatalf("checks under a policy refusing server-made signatures: %s", rr)
	}
	if list := w.bob.ok(t, "checks", "list", "widget", "1.0"); !strings.Contains(list, "does not accept server-made signatures") {
		t.Fatalf("checks:\n%s", list)
	}
	// Under that policy, no signature is made at all: the request is
	// refused before any approval, saying what to change.
	if _, err := w.aliceC.BeginSigning(ctx, api.SignRequest{Project: "widget", Version: "1.0", Key: key.Fingerprint, Kind: "sigstore"}); err == nil ||
		!strings.Contains(err.Error(), "does not accept signatures made by keys trel holds") || !strings.Contains(err.Error(), "--accept-server-signed") {
		t.Fatalf("signing under a policy refusing held keys: %v", err)
	}
	// Accepted again. The same artifact and bundle also go into release
	// 2.0, which stays a draft while 1.0 is published.
	w.alice.ok(t, "policy", "set", "widget", "--accept-server-signed=true")
	if rr := w.bob.run(t, "checks", "wait", "widget", "1.0", "--timeout", "60s"); rr.code != 0 {
		t.Fatalf("checks with the policy restored: %s", rr)
	}
	w.alice.ok(t, "release", "start", "widget", "2.0")
	w.bob.ok(t, "upload", "widget", "2.0", art, art+".sha512", bundlePath)
	if rr := w.bob.run(t, "checks", "wait", "widget", "2.0", "--timeout", "60s"); rr.code != 0 {
		t.Fatalf("checks of 2.0: %s", rr)
	}

	// Published, the server-made bundle verifies for downloaders with the
	// public key the manifest records (trel verify --release).
	w.alice.ok(t, "policy", "set", "widget", "--accept-server-signed=true", "--min-vote-hours", "0", "--min-binding-votes", "1")
	if rr := w.bob.run(t, "checks", "wait", "widget", "1.0", "--timeout", "60s"); rr.code != 0 {
		t.Fatalf("checks: %s", rr)
	}
	w.alice.ok(t, "vote", "start", "widget", "1.0")
	w.alice.ok(t, "vote", "cast", "widget", "1.0", "+1")
	w.alice.ok(t, "vote", "resolve", "widget", "1.0")
	w.alice.ok(t, "release", "publish", "widget", "1.0")
	out := w.carol.ok(t, "verify", "--release", w.srv.url+"/downloads/demo/widget/1.0/", "--trusted-root", inst.TrustedRootPath)
	if !strings.Contains(out, "VERIFIED: widget 1.0") || !strings.Contains(out, "Sigstore key "+keys[0].KeyID) {
		t.Fatalf("verify --release of a server-signed release:\n%s", out)
	}
	// Then the held key is revoked: its bundle no longer counts in the
	// draft, whatever the reason of the revocation.
	if r := w.alice.runIn(t, w.alice.home, signingPassword+"\n", "signing-key", "revoke", key.Fingerprint, "--reason", "superseded"); r.code != 0 {
		t.Fatalf("revoke: %s", r)
	}
	if rr := w.bob.run(t, "checks", "wait", "widget", "2.0", "--timeout", "60s"); rr.code != 1 {
		t.Fatalf("checks after the held key was revoked: %s", rr)
	}
	if list := w.bob.ok(t, "checks", "list", "widget", "2.0"); !strings.Contains(list, "held key "+key.Fingerprint+" was revoked") {
		t.Fatalf("checks:\n%s", list)
	}
}

// verifyWithKey checks a key-based bundle with sigstore-go: the key, a
// TSA timestamp from the trusted root, no transparency log.
func verifyWithKey(t *testing.T, trustedRoot, bundleJSON []byte, pemKey string, digest []byte) error {
	t.Helper()
	tr, err := root.NewTrustedRootFromJSON(trustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(pemKey))
	if err != nil {
		t.Fatal(err)
	}
	v, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	k := root.NewExpiringKey(v, time.Time{}, time.Time{})
	tm := root.TrustedMaterialCollection{tr, root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return k, nil })}
	var b sgbundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return err
	}
	sv, err := verify.NewVerifier(tm, verify.WithSignedTimestamps(1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = sv.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), verify.WithKey()))
	return err
}
