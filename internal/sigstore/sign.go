package sigstore

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/sign"

	"trel/internal/idtoken"
)

// InTotoPayloadType is the DSSE payload type of in-toto statements.
const InTotoPayloadType = "application/vnd.in-toto+json"

// MaxStatementSize bounds the in-toto statements trel signs, so that the
// bundle stays under MaxBundleSize once base64-encoded.
const MaxStatementSize = 512 << 10

// ServiceTimeout bounds each call to Fulcio, a timestamp authority or Rekor.
const ServiceTimeout = 30 * time.Second

// SignerOptions say how to sign: keyless with an OIDC identity token (a
// short-lived Fulcio certificate, a Rekor entry and timestamps, as the
// instance's signing configuration says), or with a long-lived ECDSA P-256
// key (a public-key hint and timestamps, no Rekor entry: the caller logs
// the signature in its own log).
type SignerOptions struct {
	IdentityToken string
	Key           *ecdsa.PrivateKey
	// KeyName labels the key in verification results.
	KeyName string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Signer makes bundles for one identity (or key) with one instance. A
// keyless Signer holds one ephemeral key and its Fulcio certificate, valid
// about 10 minutes, for every file signed in one go (as sigstore-python
// does).
type Signer struct {
	inst     *Instance
	kp       *ecKeypair
	cert     []byte // DER; nil for key-based
	key      *PublicKey
	svc      services
	token    string // only to redact it from errors
	now      func() time.Time
	verifier *Verifier
}

// Signed is one bundle, already verified against the instance's trusted
// root.
type Signed struct {
	// JSON is the bundle (v0.3) as it goes into FILE.sigstore.json.
	JSON []byte
	// Result is trel's verification of the bundle: signer identity or key,
	// log index, signing time.
	Result *Result
}

// NewSigner prepares signing. Keyless: it checks that the token is a JWT
// that has not expired, makes an ephemeral ECDSA P-256 key and gets its
// certificate from Fulcio, so that a refused token fails before anything is
// signed. Errors never contain the token.
func (in *Instance) NewSigner(ctx context.Context, o SignerOptions) (*Signer, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	s := &Signer{inst: in, now: now, token: o.IdentityToken}
	s.verifier = &Verifier{roots: []NamedRoot{in.Root}}
	switch {
	case (o.IdentityToken == "") == (o.Key == nil):
		return nil, errors.New("sigstore: sign with exactly one of an identity token and a key")
	case o.Key != nil:
		if o.Key.Curve != elliptic.P256() {
			return nil, errors.New("sigstore: key-based signing needs an ECDSA P-256 key")
		}
		svc, err := in.selectServices(false, false, now())
		if err != nil {
			return nil, err
		}
		s.svc = svc
		kp, err := newKeypair(o.Key)
		if err != nil {
			return nil, err
		}
		s.kp = kp
		name := o.KeyName
		if name == "" {
			name = "signing key"
		}
		pk := PublicKey{Name: name, Fingerprint: kp.fingerprint, key: &o.Key.PublicKey, Unlogged: true}
		s.key = &pk
		return s, nil
	}

	info, err := idtoken.Inspect(o.IdentityToken)
	if err != nil {
		return nil, err
	}
	if err := info.CheckFresh(now(), 10*time.Second); err != nil {
		return nil, err
	}
	svc, err := in.selectServices(true, true, now())
	if err != nil {
		return nil, err
	}
	s.svc = svc
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sigstore: making the ephemeral key: %w", err)
	}
	if s.kp, err = newKeypair(priv); err != nil {
		return nil, err
	}
	fulcio := sign.NewFulcio(&sign.FulcioOptions{BaseURL: svc.fulcio, Timeout: ServiceTimeout, Retries: 1})
	cert, err := fulcio.GetCertificate(ctx, s.kp, &sign.CertificateProviderOptions{IDToken: o.IdentityToken})
	if err != nil {
		return nil, s.serviceError("the certificate authority (Fulcio)", svc.fulcio,
			"did not issue a certificate for this identity token (is it meant for the audience sigstore, from an issuer this instance trusts, and unexpired?)", err)
	}
	s.cert = cert
	return s, nil
}

// Identity is the certificate's identity (keyless) or the key's name.
func (s *Signer) Identity() string {
	if s.key != nil {
		return s.key.Name
	}
	c, err := x509.ParseCertificate(s.cert)
	if err != nil {
		return ""
	}
	switch {
	case len(c.EmailAddresses) > 0:
		return c.EmailAddresses[0]
	case len(c.URIs) > 0:
		return c.URIs[0].String()
	}
	return ""
}

// SignDigest makes a message-signature bundle over an artifact's SHA-256
// digest (the artifact itself is never needed), then verifies it.
func (s *Signer) SignDigest(ctx context.Context, sha256Digest []byte) (*Signed, error) {
	if len(sha256Digest) != sha256.Size {
		return nil, fmt.Errorf("sigstore: a SHA-256 digest is 32 bytes, not %d", len(sha256Digest))
	}
	sig, err := ecdsa.SignASN1(rand.Reader, s.kp.priv, sha256Digest)
	if err != nil {
		return nil, fmt.Errorf("sigstore: signing: %w", err)
	}
	b := &protobundle.Bundle{Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
		MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: sha256Digest},
		Signature:     sig,
	}}}
	return s.finish(ctx, b, sig, Artifact{SHA256: sha256Digest})
}

// SignStatement makes a DSSE bundle over an in-toto statement (JSON with
// at least one subject digest), then verifies it against the statement's
// first subject.
func (s *Signer) SignStatement(ctx context.Context, statement []byte) (*Signed, error) {
	subject, err := statementSubject(statement)
	if err != nil {
		return nil, err
	}
	content := &sign.DSSEData{Data: statement, PayloadType: InTotoPayloadType}
	sig, _, err := s.kp.SignData(ctx, content.PreAuthEncoding())
	if err != nil {
		return nil, fmt.Errorf("sigstore: signing: %w", err)
	}
	b := &protobundle.Bundle{}
	content.Bundle(b, sig, nil, protocommon.HashAlgorithm_SHA2_256)
	return s.finish(ctx, b, sig, subject)
}

// finish adds the verification material, timestamps and log entries (in
// the order sigstore-go's sign.Bundle uses), serializes the bundle and
// verifies it with trel's own verifier before handing it out.
func (s *Signer) finish(ctx context.Context, b *protobundle.Bundle, sig []byte, a Artifact) (*Signed, error) {
	b.MediaType = MediaTypeV03
	var verifierPEM []byte
	if s.cert != nil {
		b.VerificationMaterial = &protobundle.VerificationMaterial{Content: &protobundle.VerificationMaterial_Certificate{
			Certificate: &protocommon.X509Certificate{RawBytes: s.cert}}}
		verifierPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert})
	} else {
		b.VerificationMaterial = &protobundle.VerificationMaterial{Content: &protobundle.VerificationMaterial_PublicKey{
			PublicKey: &protocommon.PublicKeyIdentifier{Hint: string(s.kp.GetHint())}}}
		p, err := s.kp.GetPublicKeyPem()
		if err != nil {
			return nil, err
		}
		verifierPEM = []byte(p)
	}
	for _, url := range s.svc.tsas {
		tsa := sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: url, Timeout: ServiceTimeout, Retries: 1})
		ts, err := tsa.GetTimestamp(ctx, sig)
		if err != nil {
			return nil, s.serviceError("the timestamp authority", url, "did not timestamp the signature", err)
		}
		if b.VerificationMaterial.TimestampVerificationData == nil {
			b.VerificationMaterial.TimestampVerificationData = &protobundle.TimestampVerificationData{}
		}
		tvd := b.VerificationMaterial.TimestampVerificationData
		tvd.Rfc3161Timestamps = append(tvd.Rfc3161Timestamps, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: ts})
	}
	for _, log := range s.svc.rekors {
		rekor := sign.NewRekor(&sign.RekorOptions{BaseURL: log.URL, Version: log.MajorAPIVersion, Timeout: ServiceTimeout, Retries: 1})
		if err := rekor.GetTransparencyLogEntry(ctx, verifierPEM, b); err != nil {
			return nil, s.serviceError(fmt.Sprintf("the transparency log (Rekor v%d)", log.MajorAPIVersion), log.URL, "did not log the signature", err)
		}
	}
	data, err := (&sgbundle.Bundle{Bundle: b}).MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("sigstore: writing the bundle: %w", err)
	}
	loaded, err := LoadBundle(data)
	if err != nil {
		return nil, fmt.Errorf("sigstore: the bundle just made does not load: %w", err)
	}
	var keys []PublicKey
	if s.key != nil {
		keys = []PublicKey{*s.key}
	}
	res, err := s.verifier.Verify(loaded, a, keys)
	if err != nil {
		return nil, err
	}
	if !res.Valid {
		return nil, fmt.Errorf("the bundle just made does not verify against the trusted root of %s, so it was not written: %s (%s)", s.inst.Name, res.Reason, res.Detail)
	}
	return &Signed{JSON: data, Result: res}, nil
}

// serviceError words a failed call to a Sigstore service (what, at url),
// telling an unreachable service from a refusal, without the token.
func (s *Signer) serviceError(what, url, refused string, err error) error {
	msg := strings.TrimSpace(idtoken.Redact(err.Error(), s.token))
	if len(msg) > 600 {
		msg = msg[:600] + "..."
	}
	var ue *neturl.Error
	if errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cannot reach %s at %s (check the network and the signing configuration): %s", what, url, msg)
	}
	return fmt.Errorf("%s at %s %s: %s", what, url, refused, msg)
}

// statementSubject reads the first subject digest of an in-toto statement.
func statementSubject(statement []byte) (Artifact, error) {
	if len(statement) > MaxStatementSize {
		return Artifact{}, fmt.Errorf("the in-toto statement is %d bytes, more than the %d allowed", len(statement), MaxStatementSize)
	}
	var st struct {
		Type    string `json:"_type"`
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		PredicateType string `json:"predicateType"`
	}
	if err := json.Unmarshal(statement, &st); err != nil {
		return Artifact{}, fmt.Errorf("the in-toto statement is not JSON: %w", err)
	}
	if !strings.HasPrefix(st.Type, "https://in-toto.io/Statement/") {
		return Artifact{}, fmt.Errorf("not an in-toto statement: _type is %q, want https://in-toto.io/Statement/v1", truncate(st.Type, 80))
	}
	if st.PredicateType == "" {
		return Artifact{}, errors.New("the in-toto statement has no predicateType")
	}
	for _, sub := range st.Subject {
		var a Artifact
		for alg, hexDigest := range sub.Digest {
			d, err := hex.DecodeString(strings.ToLower(hexDigest))
			if err != nil {
				continue
			}
			switch strings.ToLower(alg) {
			case "sha256":
				a.SHA256 = d
			case "sha512":
				a.SHA512 = d
			}
		}
		if a.validate() == nil {
			return a, nil
		}
	}
	return Artifact{}, errors.New("the in-toto statement names no subject with a sha256 or sha512 digest")
}

// Statement is the in-toto statement `trel sign --dsse` signs for a file:
// its name and digests as the subject, with the in-toto release predicate
// (https://in-toto.io/attestation/release/v0.1), empty.
func Statement(name string, a Artifact) ([]byte, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	digest := map[string]string{}
	if len(a.SHA256) > 0 {
		digest["sha256"] = fmt.Sprintf("%x", a.SHA256)
	}
	if len(a.SHA512) > 0 {
		digest["sha512"] = fmt.Sprintf("%x", a.SHA512)
	}
	return json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []map[string]any{{"name": name, "digest": digest}},
		"predicateType": "https://in-toto.io/attestation/release/v0.1",
		"predicate":     map[string]any{},
	})
}

// ecKeypair is sigstore-go's Keypair for an ECDSA P-256 key: SHA-256,
// with the base64 SHA-256 of the public key's DER as its hint.
type ecKeypair struct {
	priv        *ecdsa.PrivateKey
	hint        []byte
	fingerprint string
}

func newKeypair(priv *ecdsa.PrivateKey) (*ecKeypair, error) {
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("sigstore: encoding the public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return &ecKeypair{priv: priv, hint: []byte(base64.StdEncoding.EncodeToString(sum[:])), fingerprint: fingerprint(der)}, nil
}

func (k *ecKeypair) GetHashAlgorithm() protocommon.HashAlgorithm {
	return protocommon.HashAlgorithm_SHA2_256
}

func (k *ecKeypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
}

func (k *ecKeypair) GetHint() []byte         { return k.hint }
func (k *ecKeypair) GetKeyAlgorithm() string { return "ECDSA" }

func (k *ecKeypair) GetPublicKey() crypto.PublicKey { return &k.priv.PublicKey }

func (k *ecKeypair) GetPublicKeyPem() (string, error) {
	der, err := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// SignData hashes data with SHA-256 and signs the digest.
func (k *ecKeypair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	sum := sha256.Sum256(data)
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, sum[:])
	return sig, sum[:], err
}
