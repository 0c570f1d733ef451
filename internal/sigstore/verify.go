package sigstore

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// Artifact identifies the signed file by the digests computed when it was
// uploaded; verification never re-reads the file. At least one digest is
// required; provide both so that any bundle can be checked.
type Artifact struct {
	SHA256 []byte
	SHA512 []byte
}

func (a Artifact) validate() error {
	if len(a.SHA256) == 0 && len(a.SHA512) == 0 {
		return errors.New("artifact has no digest")
	}
	if len(a.SHA256) != 0 && len(a.SHA256) != 32 {
		return fmt.Errorf("artifact SHA-256 digest is %d bytes, want 32", len(a.SHA256))
	}
	if len(a.SHA512) != 0 && len(a.SHA512) != 64 {
		return fmt.Errorf("artifact SHA-512 digest is %d bytes, want 64", len(a.SHA512))
	}
	return nil
}

// ReasonCode is a stable, machine-readable verdict; Reason is its
// plain-English explanation for people.
type ReasonCode string

// Reason codes. Everything except ReasonValid means the bundle is invalid.
const (
	ReasonValid              ReasonCode = "valid"
	ReasonArtifactMismatch   ReasonCode = "artifact-mismatch"
	ReasonUnknownLog         ReasonCode = "unknown-log"
	ReasonNoLogEntry         ReasonCode = "no-tlog-entry"
	ReasonLogEntryInvalid    ReasonCode = "tlog-entry-invalid"
	ReasonCertificateInvalid ReasonCode = "certificate-invalid"
	ReasonCertificateExpired ReasonCode = "certificate-expired"
	ReasonNoTrustedTime      ReasonCode = "no-trusted-time"
	ReasonTimestampInvalid   ReasonCode = "timestamp-invalid"
	ReasonSCTInvalid         ReasonCode = "sct-invalid"
	ReasonSignatureInvalid   ReasonCode = "signature-invalid"
	ReasonDSSESignatureCount ReasonCode = "dsse-signature-count"
	ReasonKeyNotRegistered   ReasonCode = "key-not-registered"
	ReasonUnsupported        ReasonCode = "unsupported"
	ReasonVerificationFailed ReasonCode = "verification-failed"
	// ReasonBundleInvalid is only used by VerifyFile, for a bundle file
	// that LoadBundle rejects.
	ReasonBundleInvalid ReasonCode = "bundle-invalid"
)

// Time sources reported in Result.TimeSource.
const (
	TimeSourceIntegrated = "integrated-time"
	TimeSourceTSA        = "tsa"
)

// Extensions are the Fulcio certificate extensions trel shows and matches
// on (OIDs 1.3.6.1.4.1.57264.1.*). Empty for non-CI identities.
type Extensions struct {
	SourceRepositoryURI                 string `json:"sourceRepositoryURI,omitempty"`
	SourceRepositoryRef                 string `json:"sourceRepositoryRef,omitempty"`
	SourceRepositoryDigest              string `json:"sourceRepositoryDigest,omitempty"`
	SourceRepositoryOwnerURI            string `json:"sourceRepositoryOwnerURI,omitempty"`
	SourceRepositoryVisibilityAtSigning string `json:"sourceRepositoryVisibilityAtSigning,omitempty"`
	BuildSignerURI                      string `json:"buildSignerURI,omitempty"`
	BuildSignerDigest                   string `json:"buildSignerDigest,omitempty"`
	BuildConfigURI                      string `json:"buildConfigURI,omitempty"`
	BuildConfigDigest                   string `json:"buildConfigDigest,omitempty"`
	BuildTrigger                        string `json:"buildTrigger,omitempty"`
	RunnerEnvironment                   string `json:"runnerEnvironment,omitempty"`
	RunInvocationURI                    string `json:"runInvocationURI,omitempty"`
}

// Result is the outcome of the cryptographic stage. When Valid is false,
// only ReasonCode, Reason, Detail and BundleVersion are set.
type Result struct {
	Valid      bool       `json:"valid"`
	ReasonCode ReasonCode `json:"reasonCode"`
	Reason     string     `json:"reason"`
	// Detail is the underlying library error, for logs and bug reports.
	Detail string `json:"detail,omitempty"`

	BundleVersion string `json:"bundleVersion"` // the bundle's media type
	RootName      string `json:"rootName,omitempty"`

	// Certificate-based bundles.
	Identity   string     `json:"identity,omitempty"` // SAN: email, URI or other name
	Issuer     string     `json:"issuer,omitempty"`   // OIDC issuer
	Extensions Extensions `json:"extensions,omitzero"`

	// Key-based bundles.
	KeyName        string `json:"keyName,omitempty"`
	KeyFingerprint string `json:"keyFingerprint,omitempty"`

	TimeSource string    `json:"timeSource,omitempty"` // TimeSourceTSA or TimeSourceIntegrated
	SignedAt   time.Time `json:"signedAt,omitzero"`
	LogIndex   int64     `json:"logIndex"`
	LogID      string    `json:"logID,omitempty"` // hex
}

// KeyBased reports whether a valid result was signed by a registered key
// rather than a certificate.
func (r *Result) KeyBased() bool {
	return r.KeyFingerprint != ""
}

func invalid(code ReasonCode, reason string, cause error) *Result {
	r := &Result{ReasonCode: code, Reason: reason}
	if cause != nil {
		r.Detail = cause.Error()
	}
	return r
}

// Verifier checks bundles against a set of named trusted roots. It is
// immutable and safe for concurrent use.
type Verifier struct {
	roots []NamedRoot
}

// NewVerifier returns a Verifier trusting the given roots, tried in order.
func NewVerifier(roots ...NamedRoot) (*Verifier, error) {
	if len(roots) == 0 {
		return nil, errors.New("a verifier needs at least one trusted root")
	}
	seen := make(map[string]bool)
	for _, r := range roots {
		if r.root == nil {
			return nil, fmt.Errorf("trusted root %q was not loaded with LoadTrustedRoot", r.Name)
		}
		if seen[r.Name] {
			return nil, fmt.Errorf("trusted root name %q is used twice", r.Name)
		}
		seen[r.Name] = true
	}
	return &Verifier{roots: append([]NamedRoot(nil), roots...)}, nil
}

// DefaultVerifier trusts only the embedded production (public-good) root.
func DefaultVerifier() *Verifier {
	return &Verifier{roots: []NamedRoot{PublicGoodRoot()}}
}

// RootNames lists the configured roots in the order they are tried.
func (v *Verifier) RootNames() []string {
	names := make([]string, len(v.roots))
	for i, r := range v.roots {
		names[i] = r.Name
	}
	return names
}

// Verify checks b cryptographically for the artifact a, without any
// identity policy (see MatchIdentity). Key-based bundles verify against
// keys; certificate-based bundles ignore keys. The bundle is valid if it
// verifies against any configured root.
//
// An invalid bundle is a Result with Valid false, never an error. An error
// means trel or the caller has a bug (bad arguments, a panic inside the
// library); callers report it as an exception.
func (v *Verifier) Verify(b *Bundle, a Artifact, keys []PublicKey) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res = nil
			err = fmt.Errorf("sigstore: internal error while verifying: %v\n%s", p, debug.Stack())
		}
	}()
	if v == nil || len(v.roots) == 0 {
		return nil, errors.New("sigstore: verifier has no trusted roots")
	}
	if b == nil || b.inner == nil {
		return nil, errors.New("sigstore: bundle was not loaded with LoadBundle")
	}
	if err := a.validate(); err != nil {
		return nil, fmt.Errorf("sigstore: %w", err)
	}

	// sigstore-go's bundle caches flags while reading its log entries, so
	// one bundle must not be verified by two goroutines at once.
	b.mu.Lock()
	defer b.mu.Unlock()

	res, err = v.verify(b, a, keys)
	if res != nil {
		res.BundleVersion = b.MediaType
	}
	return res, err
}

func (v *Verifier) verify(b *Bundle, a Artifact, keys []PublicKey) (*Result, error) {
	entries, err := b.inner.TlogEntries()
	if err != nil {
		return nil, fmt.Errorf("sigstore: reading log entries of a loaded bundle: %w", err)
	}
	// A bundle without a log entry is only acceptable from a key trel
	// holds (logged in trel's own log), with a signed timestamp.
	logged := len(entries) > 0
	if !logged && (b.HasCertificate() || !anyUnlogged(keys) || !hasTimestamps(b)) {
		return invalid(ReasonNoLogEntry, "the bundle has no transparency-log entry, so nothing proves the signature was published", nil), nil
	}

	artifactPolicy, failure := artifactPolicyFor(b, a)
	if failure != nil {
		return failure, nil
	}

	type attempt struct {
		root NamedRoot
		key  *PublicKey
		tm   root.TrustedMaterial
	}
	var attempts []attempt
	if b.HasCertificate() {
		for _, nr := range v.roots {
			attempts = append(attempts, attempt{root: nr, tm: nr.root})
		}
	} else {
		if len(keys) == 0 {
			return invalid(ReasonKeyNotRegistered, "the bundle is signed with a public key, not a certificate, and no public key is registered", nil), nil
		}
		for _, nr := range v.roots {
			for i := range keys {
				if !logged && !keys[i].Unlogged {
					continue
				}
				keyTM, err := keys[i].trustedMaterial()
				if err != nil {
					return nil, fmt.Errorf("sigstore: %w", err)
				}
				attempts = append(attempts, attempt{root: nr, key: &keys[i], tm: root.TrustedMaterialCollection{nr.root, keyTM}})
			}
		}
	}

	var failures []*Result
	for _, at := range attempts {
		sv, err := verify.NewVerifier(at.tm, verifierOptions(b, at.tm, logged)...)
		if err != nil {
			return nil, fmt.Errorf("sigstore: configuring verifier: %w", err)
		}
		identityPolicy := verify.WithoutIdentitiesUnsafe()
		if at.key != nil {
			identityPolicy = verify.WithKey()
		}
		vr, err := sv.Verify(b.inner, verify.NewPolicy(artifactPolicy, identityPolicy))
		if err != nil {
			f := classify(err, b, at.tm)
			// With the wrong key, either the log entry names another key
			// or the signature does not verify.
			if at.key != nil && (f.ReasonCode == ReasonSignatureInvalid ||
				strings.Contains(f.Detail, "transparency log certificate does not match")) {
				f.ReasonCode = ReasonKeyNotRegistered
				f.Reason = fmt.Sprintf("the bundle is not signed by any of the %d registered public keys", len(keys))
			}
			f.RootName = at.root.Name
			failures = append(failures, f)
			continue
		}
		if !logged {
			return success(vr, -1, "", at.root.Name, at.key)
		}
		return success(vr, entries[0].LogIndex(), entries[0].LogKeyID(), at.root.Name, at.key)
	}
	return pickFailure(failures), nil
}

func anyUnlogged(keys []PublicKey) bool {
	for _, k := range keys {
		if k.Unlogged {
			return true
		}
	}
	return false
}

func hasTimestamps(b *Bundle) bool {
	return len(b.inner.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps()) > 0
}

// pickFailure reports the most informative failure. "Unknown log" only
// means a root did not know the log, and "key not registered" only that a
// key was not the signer; any other reason comes from a root that knew the
// log and a key that matched, and explains more.
func pickFailure(failures []*Result) *Result {
	rank := func(f *Result) int {
		switch f.ReasonCode {
		case ReasonUnknownLog:
			return 0
		case ReasonKeyNotRegistered:
			return 1
		default:
			return 2
		}
	}
	best := failures[0]
	for _, f := range failures[1:] {
		if rank(f) > rank(best) {
			best = f
		}
	}
	if best.ReasonCode == ReasonUnknownLog {
		best.RootName = ""
	}
	return best
}

func success(vr *verify.VerificationResult, logIndex int64, logKeyID, rootName string, key *PublicKey) (*Result, error) {
	r := &Result{
		Valid:      true,
		ReasonCode: ReasonValid,
		Reason:     "the signature, certificate, transparency-log entry and signing time all verify",
		RootName:   rootName,
		LogIndex:   logIndex,
		LogID:      hex.EncodeToString([]byte(logKeyID)),
	}
	switch {
	case key != nil:
		r.KeyName = key.Name
		r.KeyFingerprint = key.Fingerprint
		r.Reason = "the signature verifies with a registered public key and the transparency-log entry verifies"
	case vr.Signature != nil && vr.Signature.Certificate != nil:
		setCertificate(r, vr.Signature.Certificate)
	default:
		return nil, errors.New("sigstore: verified bundle has neither a certificate nor a key")
	}
	// Prefer a TSA time: it is an explicit signed time and the only one
	// Rekor v2 bundles have.
	for _, want := range []string{"TimestampAuthority", "Tlog"} {
		for _, ts := range vr.VerifiedTimestamps {
			if ts.Type == want && r.TimeSource == "" {
				r.SignedAt = ts.Timestamp.UTC()
				r.TimeSource = TimeSourceIntegrated
				if want == "TimestampAuthority" {
					r.TimeSource = TimeSourceTSA
				}
			}
		}
	}
	return r, nil
}

func setCertificate(r *Result, s *certificate.Summary) {
	r.Identity = s.SubjectAlternativeName
	r.Issuer = s.Extensions.Issuer
	e := s.Extensions
	r.Extensions = Extensions{
		SourceRepositoryURI:                 e.SourceRepositoryURI,
		SourceRepositoryRef:                 e.SourceRepositoryRef,
		SourceRepositoryDigest:              e.SourceRepositoryDigest,
		SourceRepositoryOwnerURI:            e.SourceRepositoryOwnerURI,
		SourceRepositoryVisibilityAtSigning: e.SourceRepositoryVisibilityAtSigning,
		BuildSignerURI:                      e.BuildSignerURI,
		BuildSignerDigest:                   e.BuildSignerDigest,
		BuildConfigURI:                      e.BuildConfigURI,
		BuildConfigDigest:                   e.BuildConfigDigest,
		BuildTrigger:                        e.BuildTrigger,
		RunnerEnvironment:                   e.RunnerEnvironment,
		RunInvocationURI:                    e.RunInvocationURI,
	}
}

// verifierOptions picks the time sources to require, following what the
// bundle carries and what the root can check (see docs/PITFALLS.md): the
// log's integrated time when the bundle has an inclusion promise, a TSA
// timestamp when it has one the root can verify, both when it has both.
// Each of these already meets "at least one observer timestamp";
// WithObserverTimestamps on top would list each time twice and check the
// certificate chain twice (half the cost of a verification), so it is only
// used when there is neither, where it fails with "no trusted time".
//
// A bundle of a key trel holds may have no log entry (logged false): then
// only its signed timestamps vouch for the time.
func verifierOptions(b *Bundle, tm root.TrustedMaterial, logged bool) []verify.VerifierOption {
	opts := []verify.VerifierOption{verify.WithoutStatementPredicate()}
	if !logged {
		return append(opts, verify.WithSignedTimestamps(1))
	}
	opts = append(opts, verify.WithTransparencyLog(1))
	if b.HasCertificate() && len(tm.CTLogs()) > 0 {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	hasTSA := hasTimestamps(b) && len(tm.TimestampingAuthorities()) > 0
	hasPromise := b.inner.HasInclusionPromise()
	if hasTSA {
		opts = append(opts, verify.WithSignedTimestamps(1))
	}
	if hasPromise {
		opts = append(opts, verify.WithIntegratedTimestamps(1))
	}
	if !hasTSA && !hasPromise {
		opts = append(opts, verify.WithObserverTimestamps(1))
	}
	return opts
}

// artifactPolicyFor chooses which of the artifact's digests to compare.
// A message signature names its digest algorithm; a DSSE envelope's
// in-toto statement lists subject digests (we prefer sha512, then sha256).
// The returned Result is non-nil when no comparison is possible.
func artifactPolicyFor(b *Bundle, a Artifact) (verify.ArtifactPolicyOption, *Result) {
	if ms := b.inner.GetMessageSignature(); ms != nil {
		alg := ms.GetMessageDigest().GetAlgorithm().String()
		switch {
		case alg == "SHA2_256" && len(a.SHA256) > 0:
			return verify.WithArtifactDigest("sha256", a.SHA256), nil
		case alg == "SHA2_512" && len(a.SHA512) > 0:
			return verify.WithArtifactDigest("sha512", a.SHA512), nil
		default:
			return nil, invalid(ReasonUnsupported, fmt.Sprintf("the bundle signs a %s digest of the artifact, which trel does not have", alg), nil)
		}
	}

	env := b.inner.GetDsseEnvelope()
	if env.GetPayloadType() != "application/vnd.in-toto+json" {
		return nil, invalid(ReasonUnsupported, fmt.Sprintf("the DSSE envelope carries %q, not an in-toto statement naming the artifact", truncate(env.GetPayloadType(), 80)), nil)
	}
	// Unauthenticated at this point: only used to choose an algorithm;
	// sigstore-go compares the digests after checking the signature.
	var statement struct {
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(env.GetPayload(), &statement); err != nil {
		return nil, invalid(ReasonUnsupported, "the DSSE payload is not a readable in-toto statement", err)
	}
	has := map[string]bool{}
	for _, s := range statement.Subject {
		for alg := range s.Digest {
			has[strings.ToLower(alg)] = true
		}
	}
	switch {
	case has["sha512"] && len(a.SHA512) > 0:
		return verify.WithArtifactDigest("sha512", a.SHA512), nil
	case has["sha256"] && len(a.SHA256) > 0:
		return verify.WithArtifactDigest("sha256", a.SHA256), nil
	default:
		return nil, invalid(ReasonArtifactMismatch, "the in-toto statement names no sha256 or sha512 digest that could match this artifact", nil)
	}
}
