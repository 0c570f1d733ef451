package verify

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
	"path/filepath"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/encoding/protojson"

	"trel/internal/sigstore"
)

// No public key-based bundle comes with its artifact, so one is minted
// here: an ECDSA signature over the artifact's SHA-256, logged in a
// virtual Rekor (sigstore-go's pkg/testing/ca) whose trusted root is
// written next to it.

func newECKey(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// virtualRootJSON is the trusted root of vs (its log IDs decoded from hex).
func virtualRootJSON(t *testing.T, vs *ca.VirtualSigstore) []byte {
	t.Helper()
	logs := map[string]*root.TransparencyLog{}
	for _, l := range vs.RekorLogs() {
		raw, err := hex.DecodeString(string(l.ID))
		if err != nil {
			t.Fatal(err)
		}
		copied := *l
		copied.ID = raw
		logs[hex.EncodeToString(raw)] = &copied
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(), nil, vs.TimestampingAuthorities(), logs)
	if err != nil {
		t.Fatal(err)
	}
	data, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// mintKeyBundle signs artifact with priv and logs it in vs as a
// hashedrekord entry with a signed entry timestamp.
func mintKeyBundle(t *testing.T, vs *ca.VirtualSigstore, priv *ecdsa.PrivateKey, pubPEM, artifact []byte) []byte {
	t.Helper()
	digest := sha256.Sum256(artifact)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
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
	set, err := vs.RekorSignPayload(tlog.RekorPayload{Body: b64(body), IntegratedTime: integrated, LogIndex: 3, LogID: logID})
	if err != nil {
		t.Fatal(err)
	}
	pb := &protobundle.Bundle{
		MediaType: sigstore.MediaTypeV01,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: "release-key"}},
			TlogEntries: []*protorekor.TransparencyLogEntry{{
				LogIndex:          3,
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

func TestVerifyKeyBasedBundleWithPEMKey(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	priv, pubPEM := newECKey(t)
	_, otherPEM := newECKey(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		return writeFile(t, filepath.Join(dir, name), data)
	}
	artifact := []byte("signed with a long-lived key\n")
	a := write("tool-1.0.bin", artifact)
	bundle := write("tool-1.0.bin.bundle", mintKeyBundle(t, vs, priv, pubPEM, artifact))
	key := write("release.pub", pubPEM)
	other := write("other.pub", otherPEM)
	trustedRoot := write("trusted_root.json", virtualRootJSON(t, vs))
	tampered := write("tampered.bin", append(artifact, 'x'))
	// An OpenPGP signature next to the artifact is not checked with the
	// PEM key; it is noted instead.
	write("tool-1.0.bin.asc", []byte("not checked"))

	tests := []struct {
		name   string
		opts   Options
		wantOK bool
		code   string
	}{
		{"the signing key verifies", Options{Artifact: a, Bundle: bundle, Key: key, TrustedRoot: trustedRoot}, true, ""},
		{"another key is refused", Options{Artifact: a, Bundle: bundle, Key: other, TrustedRoot: trustedRoot}, false, string(sigstore.ReasonKeyNotRegistered)},
		{"a tampered artifact is refused", Options{Artifact: tampered, Bundle: bundle, Key: key, TrustedRoot: trustedRoot}, false, string(sigstore.ReasonArtifactMismatch)},
		{"the production root does not know the virtual log", Options{Artifact: a, Bundle: bundle, Key: key}, false, string(sigstore.ReasonUnknownLog)},
		{"an identity is not a key", Options{Artifact: a, Bundle: bundle, CertificateIdentity: "rm@example.org", CertificateOIDCIssuer: "https://github.com/login/oauth", TrustedRoot: trustedRoot}, false, string(sigstore.ReasonKeyNotRegistered)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Verify(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK != tt.wantOK || len(rep.Verifications) != 1 || rep.Verifications[0].Kind != KindSigstore {
				t.Fatalf("report = %+v", rep)
			}
			v := rep.Verifications[0]
			if v.Code != tt.code {
				t.Errorf("code = %q (%s), want %q", v.Code, v.Message, tt.code)
			}
			if tt.wantOK && (v.Details == nil || v.Details.KeyFingerprint == "" || v.Details.LogIndex != 3) {
				t.Errorf("details = %+v", v.Details)
			}
		})
	}

	// The note about the unchecked .asc.
	rep, err := Verify(tests[0].opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reportMentions(rep, "tool-1.0.bin.asc was not checked") {
		t.Errorf("no note about the unchecked .asc: %+v", rep.Notes)
	}
}
