package sigstore

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// The VirtualSigstore's validity windows are relative to now, so these
// bundles are minted at test time rather than stored.

const (
	mintIdentity = "release-manager@example.org"
	mintIssuer   = "https://accounts.example.org"
)

func newVirtualSigstore(t testing.TB) *ca.VirtualSigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// virtualRoot writes a trusted_root.json for vs and loads it the way an
// operator's file would be. fulcio, when not nil, supplies the certificate
// authority instead (to test certificates from an untrusted CA). The root
// has no CT logs: the virtual CA's certificates carry no SCTs, as in
// private instances without certificate transparency.
func virtualRoot(t testing.TB, name string, vs, fulcio *ca.VirtualSigstore) NamedRoot {
	t.Helper()
	nr, err := LoadTrustedRoot(name, virtualRootJSON(t, vs, fulcio))
	if err != nil {
		t.Fatal(err)
	}
	return nr
}

func virtualRootJSON(t testing.TB, vs, fulcio *ca.VirtualSigstore) []byte {
	t.Helper()
	if fulcio == nil {
		fulcio = vs
	}
	logs := map[string]*root.TransparencyLog{}
	for _, l := range vs.RekorLogs() {
		// The virtual log's ID is hex text; a trusted root stores raw bytes.
		raw, err := hex.DecodeString(string(l.ID))
		if err != nil {
			t.Fatal(err)
		}
		copied := *l
		copied.ID = raw
		logs[hex.EncodeToString(raw)] = &copied
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		fulcio.FulcioCertificateAuthorities(), nil, vs.TimestampingAuthorities(), logs)
	if err != nil {
		t.Fatal(err)
	}
	data, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

type mintOptions struct {
	dropLogEntries bool // a bundle with no transparency-log entry
	secondDSSESig  bool // a DSSE envelope with two signatures
	shiftLogTime   bool // integrated time changed after the log signed it
}

// serialize turns a VirtualSigstore entity into bundle JSON.
func serialize(t testing.TB, vs *ca.VirtualSigstore, e *ca.TestEntity, opts mintOptions) []byte {
	t.Helper()
	vc, err := e.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := e.SignatureContent()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := e.TlogEntries()
	if err != nil {
		t.Fatal(err)
	}
	timestamps, err := e.Timestamps()
	if err != nil {
		t.Fatal(err)
	}

	mediaType := MediaTypeV01
	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_Certificate{
			Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw},
		},
		TimestampVerificationData: &protobundle.TimestampVerificationData{},
	}
	for _, ts := range timestamps {
		vm.TimestampVerificationData.Rfc3161Timestamps = append(vm.TimestampVerificationData.Rfc3161Timestamps,
			&protocommon.RFC3161SignedTimestamp{SignedTimestamp: ts})
	}
	for _, entry := range entries {
		if opts.dropLogEntries {
			break
		}
		tle := proto.Clone(entry.TransparencyLogEntry()).(*protorekor.TransparencyLogEntry)
		if tle.KindVersion == nil {
			var kv struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := json.Unmarshal(tle.CanonicalizedBody, &kv); err != nil {
				t.Fatal(err)
			}
			tle.KindVersion = &protorekor.KindVersion{Kind: kv.Kind, Version: kv.APIVersion}
		}
		if entry.HasInclusionPromise() && tle.InclusionPromise == nil {
			// tlog.Entry keeps its SET private: sign the same payload again.
			set, err := vs.RekorSignPayload(tlog.RekorPayload{
				Body:           base64.StdEncoding.EncodeToString(tle.CanonicalizedBody),
				IntegratedTime: tle.IntegratedTime,
				LogIndex:       tle.LogIndex,
				LogID:          hex.EncodeToString(tle.LogId.KeyId),
			})
			if err != nil {
				t.Fatal(err)
			}
			tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
		}
		if opts.shiftLogTime {
			tle.IntegratedTime -= 3600
		}
		if tle.InclusionProof != nil {
			mediaType = MediaTypeV03
		}
		vm.TlogEntries = append(vm.TlogEntries, tle)
	}

	pb := &protobundle.Bundle{MediaType: mediaType, VerificationMaterial: vm}
	if env := sc.EnvelopeContent(); env != nil {
		raw := env.RawEnvelope()
		payload, err := base64.StdEncoding.DecodeString(raw.Payload)
		if err != nil {
			t.Fatal(err)
		}
		d := &protodsse.Envelope{Payload: payload, PayloadType: raw.PayloadType}
		for _, s := range raw.Signatures {
			sig, err := base64.StdEncoding.DecodeString(s.Sig)
			if err != nil {
				t.Fatal(err)
			}
			d.Signatures = append(d.Signatures, &protodsse.Signature{Sig: sig, Keyid: s.KeyID})
		}
		if opts.secondDSSESig {
			d.Signatures = append(d.Signatures, d.Signatures[0])
		}
		pb.Content = &protobundle.Bundle_DsseEnvelope{DsseEnvelope: d}
	} else {
		ms := sc.MessageSignatureContent()
		pb.Content = &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{
				Algorithm: protocommon.HashAlgorithm(protocommon.HashAlgorithm_value[ms.DigestAlgorithm()]),
				Digest:    ms.Digest(),
			},
			Signature: ms.Signature(),
		}}
	}
	data, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func digestOf(data []byte) Artifact {
	s256 := sha256.Sum256(data)
	s512 := sha512.Sum512(data)
	return Artifact{SHA256: s256[:], SHA512: s512[:]}
}

func statementFor(name string, a Artifact) []byte {
	return []byte(fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":%q,"digest":{"sha256":%q}}],"predicateType":"https://example.org/release/v1","predicate":{}}`,
		name, hex.EncodeToString(a.SHA256)))
}

func mustLoad(t testing.TB, data []byte) *Bundle {
	t.Helper()
	b, err := LoadBundle(data)
	if err != nil {
		t.Fatalf("LoadBundle(minted): %v\n%s", err, data)
	}
	return b
}

func TestMintedBundles(t *testing.T) {
	vs := newVirtualSigstore(t)
	virtual := virtualRoot(t, "private", vs, nil)
	other := newVirtualSigstore(t)
	v, err := NewVerifier(PublicGoodRoot(), virtual)
	if err != nil {
		t.Fatal(err)
	}

	artifactBytes := []byte("apache-foo-1.0.0-src.tar.gz contents\n")
	artifact := digestOf(artifactBytes)
	statement := statementFor("apache-foo-1.0.0-src.tar.gz", artifact)

	sign := func(t testing.TB) *ca.TestEntity {
		e, err := vs.Sign(mintIdentity, mintIssuer, artifactBytes)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	attest := func(t testing.TB) *ca.TestEntity {
		e, err := vs.AttestAtTime(mintIdentity, mintIssuer, statement, time.Now().Add(5*time.Minute), true)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}

	cases := []struct {
		name     string
		bundle   func(t testing.TB) []byte
		artifact Artifact
		verifier *Verifier
		valid    bool
		code     ReasonCode
		time     string
	}{
		{
			name:     "message signature with SET and TSA timestamp verifies",
			bundle:   func(t testing.TB) []byte { return serialize(t, vs, sign(t), mintOptions{}) },
			artifact: artifact, verifier: v, valid: true, time: TimeSourceTSA,
		},
		{
			name:     "DSSE v0.3 with inclusion proof verifies by statement subject",
			bundle:   func(t testing.TB) []byte { return serialize(t, vs, attest(t), mintOptions{}) },
			artifact: artifact, verifier: v, valid: true, time: TimeSourceTSA,
		},
		{
			name: "DSSE with a Rekor v2 entry verifies with the TSA time",
			bundle: func(t testing.TB) []byte {
				e, err := vs.AttestHashedRekordV2(mintIdentity, mintIssuer, statement)
				if err != nil {
					t.Fatal(err)
				}
				return serialize(t, vs, e, mintOptions{})
			},
			artifact: artifact, verifier: v, valid: true, time: TimeSourceTSA,
		},
		{
			name:     "tampered artifact is a digest mismatch",
			bundle:   func(t testing.TB) []byte { return serialize(t, vs, sign(t), mintOptions{}) },
			artifact: digestOf(append(artifactBytes, '!')), verifier: v, code: ReasonArtifactMismatch,
		},
		{
			name:     "DSSE for another artifact is a digest mismatch",
			bundle:   func(t testing.TB) []byte { return serialize(t, vs, attest(t), mintOptions{}) },
			artifact: digestOf([]byte("other file")), verifier: v, code: ReasonArtifactMismatch,
		},
		{
			name: "certificate expired at signing time",
			bundle: func(t testing.TB) []byte {
				// The leaf is valid for 10 minutes from now; log it 30 minutes later.
				e, err := vs.SignAtTime(mintIdentity, mintIssuer, artifactBytes, time.Now().Add(30*time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				return serialize(t, vs, e, mintOptions{})
			},
			artifact: artifact, verifier: v, code: ReasonCertificateExpired,
		},
		{
			name:     "untrusted root: production only",
			bundle:   func(t testing.TB) []byte { return serialize(t, vs, sign(t), mintOptions{}) },
			artifact: artifact, verifier: DefaultVerifier(), code: ReasonUnknownLog,
		},
		{
			name:     "untrusted root: another private instance",
			bundle:   func(t testing.TB) []byte { return serialize(t, vs, sign(t), mintOptions{}) },
			artifact: artifact, verifier: mustVerifier(t, virtualRoot(t, "other", other, nil)), code: ReasonUnknownLog,
		},
		{
			name:     "certificate from a CA the root does not trust",
			bundle:   func(t testing.TB) []byte { return serialize(t, vs, sign(t), mintOptions{}) },
			artifact: artifact, verifier: mustVerifier(t, virtualRoot(t, "wrong-ca", vs, other)), code: ReasonCertificateInvalid,
		},
		{
			name:     "log entry altered after logging (SET no longer verifies)",
			bundle:   func(t testing.TB) []byte { return serialize(t, vs, sign(t), mintOptions{shiftLogTime: true}) },
			artifact: artifact, verifier: v, code: ReasonLogEntryInvalid,
		},
		{
			name:     "missing transparency-log entry",
			bundle:   func(t testing.TB) []byte { return serialize(t, vs, sign(t), mintOptions{dropLogEntries: true}) },
			artifact: artifact, verifier: v, code: ReasonNoLogEntry,
		},
		{
			name:     "two DSSE signatures",
			bundle:   func(t testing.TB) []byte { return serialize(t, vs, attest(t), mintOptions{secondDSSESig: true}) },
			artifact: artifact, verifier: v, code: ReasonDSSESignatureCount,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := mustLoad(t, tc.bundle(t))
			res, err := tc.verifier.Verify(b, tc.artifact, nil)
			if err != nil {
				t.Fatalf("internal error: %v", err)
			}
			if res.Valid != tc.valid {
				t.Fatalf("Valid = %v (%s: %s; %s), want %v", res.Valid, res.ReasonCode, res.Reason, res.Detail, tc.valid)
			}
			if !tc.valid {
				if res.ReasonCode != tc.code {
					t.Fatalf("ReasonCode = %s (%s; %s), want %s", res.ReasonCode, res.Reason, res.Detail, tc.code)
				}
				return
			}
			if res.RootName != "private" || res.Identity != mintIdentity || res.Issuer != mintIssuer {
				t.Fatalf("root=%q identity=%q issuer=%q", res.RootName, res.Identity, res.Issuer)
			}
			if res.TimeSource != tc.time || time.Since(res.SignedAt).Abs() > time.Hour {
				t.Fatalf("time source %q at %v, want %q near now", res.TimeSource, res.SignedAt, tc.time)
			}
		})
	}
}

func mustVerifier(t testing.TB, roots ...NamedRoot) *Verifier {
	t.Helper()
	v, err := NewVerifier(roots...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMintedIdentityStage proves the two stages stay apart: a valid bundle
// from an untrusted signer is Valid, and only MatchIdentity refuses it.
func TestMintedIdentityStage(t *testing.T) {
	vs := newVirtualSigstore(t)
	v := mustVerifier(t, virtualRoot(t, "private", vs, nil))
	data := []byte("artifact")
	e, err := vs.Sign(mintIdentity, mintIssuer, data)
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(mustLoad(t, serialize(t, vs, e, mintOptions{})), digestOf(data), nil)
	if err != nil || !res.Valid {
		t.Fatalf("Verify: %v %+v", err, res)
	}

	cases := []struct {
		name    string
		ids     []Identity
		matched bool
		explain []string
	}{
		{"right identity and issuer", []Identity{{Issuer: mintIssuer, Subject: mintIdentity}}, true, []string{mintIdentity}},
		{"wrong identity", []Identity{{Issuer: mintIssuer, Subject: "someone-else@example.org"}}, false,
			[]string{"signed by " + mintIdentity, "subject is " + mintIdentity, "trel sigstore identity add --issuer https://accounts.example.org --subject release-manager@example.org"}},
		{"wrong issuer", []Identity{{Issuer: "https://github.com/login/oauth", Subject: mintIdentity}}, false,
			[]string{"issuer is " + mintIssuer, "trel sigstore identity add"}},
		{"no identities", nil, false, []string{"no identities are trusted yet", "trel sigstore identity add"}},
		{"second identity matches", []Identity{{Issuer: mintIssuer, Subject: "x@example.org"}, {Issuer: mintIssuer, SubjectRegexp: `.*@example\.org`}}, true, []string{"a trusted identity"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			matched, why := MatchIdentity(res, tc.ids)
			if (matched != nil) != tc.matched {
				t.Fatalf("matched = %v, want %v (%s)", matched, tc.matched, why)
			}
			for _, want := range tc.explain {
				if !strings.Contains(why, want) {
					t.Errorf("explanation %q lacks %q", why, want)
				}
			}
		})
	}
}
