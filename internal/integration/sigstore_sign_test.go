package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
	"time"

	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"trel/internal/sigstore"
	"trel/internal/testutil/sigstoretest"
)

// independentVerify checks a bundle with sigstore-go's verifier directly
// (not trel's wrapper): the instance's trusted root, a Rekor entry, a TSA
// timestamp, the exact identity and issuer, and the artifact's digest.
func independentVerify(t *testing.T, inst *sigstoretest.Instance, bundleJSON []byte, digest []byte, email string) error {
	t.Helper()
	tr, err := root.NewTrustedRootFromJSON(inst.TrustedRootJSON)
	if err != nil {
		t.Fatalf("the instance's trusted root: %v", err)
	}
	var b sgbundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return err
	}
	v, err := verify.NewVerifier(tr, verify.WithTransparencyLog(1), verify.WithSignedTimestamps(1))
	if err != nil {
		t.Fatal(err)
	}
	id, err := verify.NewShortCertificateIdentity(inst.OIDC.URL, "", email, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), verify.WithCertificateIdentity(id)))
	return err
}

func privateInstance(t *testing.T, inst *sigstoretest.Instance) *sigstore.Instance {
	t.Helper()
	in, err := sigstore.LoadInstance(sigstore.InstanceOptions{SigningConfig: inst.SigningConfigPath, TrustedRoot: inst.TrustedRootPath})
	if err != nil {
		t.Fatalf("loading the private instance: %v", err)
	}
	return in
}

// TestSigstoreSignLibrary signs a digest keylessly against the private
// instance (Fulcio, TSA, Rekor v2) and checks the bundle with sigstore-go's
// own verifier: right identity and artifact pass; another artifact, another
// identity and another issuer fail.
func TestSigstoreSignLibrary(t *testing.T) {
	inst := privateSigstore(t)
	in := privateInstance(t, inst)
	ctx := context.Background()
	tok := inst.OIDC.EmailToken("rm@example.org")
	start := time.Now()
	s, err := in.NewSigner(ctx, sigstore.SignerOptions{IdentityToken: tok})
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	digest := sha256.Sum256([]byte("the artifact"))
	signed, err := s.SignDigest(ctx, digest[:])
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	t.Logf("keyless signing (Fulcio + TSA + Rekor v2) took %s", time.Since(start))
	r := signed.Result
	if !r.Valid || r.Identity != "rm@example.org" || r.Issuer != inst.OIDC.URL || r.TimeSource != sigstore.TimeSourceTSA || r.LogIndex < 0 {
		t.Fatalf("result: %+v", r)
	}
	var parsed map[string]any
	json.Unmarshal(signed.JSON, &parsed)
	if parsed["mediaType"] != sigstore.MediaTypeV03 || parsed["messageSignature"] == nil {
		t.Fatalf("bundle: %s", signed.JSON)
	}
	if bytes.Contains(signed.JSON, []byte(tok)) {
		t.Fatal("the bundle contains the identity token")
	}
	if err := independentVerify(t, inst, signed.JSON, digest[:], "rm@example.org"); err != nil {
		t.Fatalf("sigstore-go's verifier refuses trel's bundle: %v", err)
	}
	other := sha256.Sum256([]byte("another artifact"))
	if err := independentVerify(t, inst, signed.JSON, other[:], "rm@example.org"); err == nil {
		t.Fatal("a bundle verified for another artifact")
	}
	if err := independentVerify(t, inst, signed.JSON, digest[:], "mallory@example.org"); err == nil {
		t.Fatal("a bundle verified for another identity")
	}
	// The same signer signs a second file with the same certificate.
	d2 := sha256.Sum256([]byte("second"))
	if s2, err := s.SignDigest(ctx, d2[:]); err != nil || s2.Result.LogIndex == r.LogIndex {
		t.Fatalf("second file: %v %+v", err, s2)
	}

	// A DSSE in-toto statement for the artifact.
	st, err := sigstore.Statement("a.txt", sigstore.Artifact{SHA256: digest[:]})
	if err != nil {
		t.Fatal(err)
	}
	dsse, err := s.SignStatement(ctx, st)
	if err != nil {
		t.Fatalf("DSSE: %v", err)
	}
	if !strings.Contains(string(dsse.JSON), `"dsseEnvelope"`) || !dsse.Result.Valid {
		t.Fatalf("DSSE bundle: %s", dsse.JSON)
	}
}
