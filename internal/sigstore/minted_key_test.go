package sigstore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/encoding/protojson"
)

// VirtualSigstore only signs with certificates, so key-based bundles are
// built here: an ECDSA signature over the artifact digest, logged in the
// virtual Rekor as a hashedrekord entry with a signed entry timestamp.
func newTestKey(t testing.TB, name string) (*ecdsa.PrivateKey, PublicKey, []byte) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pub, err := ParsePublicKeyPEM(name, pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub, pemBytes
}

func mintKeyBundle(t testing.TB, vs *ca.VirtualSigstore, priv *ecdsa.PrivateKey, artifact []byte) []byte {
	t.Helper()
	digest := sha256.Sum256(artifact)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	b64 := base64.StdEncoding.EncodeToString
	body := []byte(fmt.Sprintf(`{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"%x"}},"signature":{"content":"%s","publicKey":{"content":"%s"}}}}`,
		digest, b64(sig), b64(pubPEM)))

	logID, err := vs.RekorLogID()
	if err != nil {
		t.Fatal(err)
	}
	rawLogID, err := hex.DecodeString(logID)
	if err != nil {
		t.Fatal(err)
	}
	integrated := time.Now().Unix()
	set, err := vs.RekorSignPayload(tlog.RekorPayload{Body: b64(body), IntegratedTime: integrated, LogIndex: 7, LogID: logID})
	if err != nil {
		t.Fatal(err)
	}
	pb := &protobundle.Bundle{
		MediaType: MediaTypeV01,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: "release-key"}},
			TlogEntries: []*protorekor.TransparencyLogEntry{{
				LogIndex:          7,
				LogId:             &protocommon.LogId{KeyId: rawLogID},
				KindVersion:       &protorekor.KindVersion{Kind: "hashedrekord", Version: "0.0.1"},
				IntegratedTime:    integrated,
				InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: set},
				CanonicalizedBody: body,
			}},
		},
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: digest[:]},
			Signature:     sig,
		}},
	}
	data, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestMintedKeyBundles(t *testing.T) {
	vs := newVirtualSigstore(t)
	v := mustVerifier(t, PublicGoodRoot(), virtualRoot(t, "private", vs, nil))
	priv, releaseKey, _ := newTestKey(t, "release")
	_, otherKey, _ := newTestKey(t, "other")
	artifact := []byte("signed with a long-lived key\n")
	b := mustLoad(t, mintKeyBundle(t, vs, priv, artifact))

	cases := []struct {
		name     string
		artifact Artifact
		keys     []PublicKey
		valid    bool
		code     ReasonCode
	}{
		{"registered key verifies", digestOf(artifact), []PublicKey{releaseKey}, true, ReasonValid},
		{"registered key found among others", digestOf(artifact), []PublicKey{otherKey, releaseKey}, true, ReasonValid},
		{"another key fails", digestOf(artifact), []PublicKey{otherKey}, false, ReasonKeyNotRegistered},
		{"no key fails", digestOf(artifact), nil, false, ReasonKeyNotRegistered},
		{"tampered artifact fails", digestOf(append(artifact, 'x')), []PublicKey{releaseKey}, false, ReasonArtifactMismatch},
		{"tampered artifact reported even after another key", digestOf(append(artifact, 'x')), []PublicKey{otherKey, releaseKey}, false, ReasonArtifactMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := v.Verify(b, tc.artifact, tc.keys)
			if err != nil {
				t.Fatal(err)
			}
			if res.Valid != tc.valid || res.ReasonCode != tc.code {
				t.Fatalf("got valid=%v code=%s (%s; %s), want %v %s", res.Valid, res.ReasonCode, res.Reason, res.Detail, tc.valid, tc.code)
			}
			if tc.valid && (res.KeyFingerprint != releaseKey.Fingerprint || res.KeyName != "release" || res.RootName != "private" || res.Identity != "") {
				t.Fatalf("valid key result misreported: %+v", res)
			}
		})
	}
}

func TestConformanceWithKeyAndTrustedRoot(t *testing.T) {
	vs := newVirtualSigstore(t)
	priv, _, pemBytes := newTestKey(t, "release")
	_, _, otherPEM := newTestKey(t, "other")
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	artifact := []byte("conformance artifact\n")
	opts := ConformanceOptions{
		Bundle:      write("a.txt.sigstore.json", mintKeyBundle(t, vs, priv, artifact)),
		Key:         write("key.pub", pemBytes),
		TrustedRoot: write("trusted_root.json", virtualRootJSON(t, vs, nil)),
		Artifact:    write("a.txt", artifact),
	}
	if err := VerifyBundleConformance(opts); err != nil {
		t.Fatalf("file argument: %v", err)
	}
	withDigest := opts
	withDigest.Artifact = "sha256:" + hex.EncodeToString(digestOf(artifact).SHA256)
	if err := VerifyBundleConformance(withDigest); err != nil {
		t.Fatalf("digest argument: %v", err)
	}
	otherKey := opts
	otherKey.Key = write("other.pub", otherPEM)
	if err := VerifyBundleConformance(otherKey); err == nil || !strings.Contains(err.Error(), "registered public key") {
		t.Fatalf("other key: %v", err)
	}
	production := opts
	production.TrustedRoot = ""
	if err := VerifyBundleConformance(production); err == nil || !strings.Contains(err.Error(), "unknown log") {
		t.Fatalf("production root: %v", err)
	}
}
