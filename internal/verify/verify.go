package verify

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"trel/internal/sigstore"
)

// Kinds of verification in a Report.
const (
	KindOpenPGP  = "openpgp"
	KindChecksum = "checksum"
	KindSigstore = "sigstore"
)

// ErrUsage is wrapped by every error Verify returns because the options
// contradict each other or lack something required: the caller made a
// mistake, the artifact was not judged.
var ErrUsage = errors.New("invalid options")

// maxKeyFileSize bounds a key or KEYS file (the openpgp package's default).
const maxKeyFileSize = 4 << 20

// Options says what to verify. Only Artifact is required; the other files
// are looked up next to it when not given.
type Options struct {
	// Artifact is the downloaded file.
	Artifact string
	// Signature is an OpenPGP detached signature (armored or binary);
	// default ARTIFACT.asc when it exists.
	Signature string
	// Keys is a KEYS file (any number of public keys); Key a single public
	// key file. At most one of them is used for OpenPGP. When Bundle is set
	// and no certificate identity is given, Key is instead the PEM public
	// key of a key-based Sigstore bundle.
	Keys string
	Key  string
	// Checksum is a .sha512 or .sha256 file; default ARTIFACT.sha512 and
	// ARTIFACT.sha256, each checked when it exists.
	Checksum string
	// Bundle is a Sigstore bundle; default ARTIFACT.sigstore,
	// ARTIFACT.sigstore.json or ARTIFACT.bundle, looked up only when a
	// certificate identity or issuer is given.
	Bundle string
	// CertificateIdentity (the certificate's subject alternative name) and
	// CertificateOIDCIssuer are matched exactly and go together.
	CertificateIdentity   string
	CertificateOIDCIssuer string
	// CertificateIdentityRegexp, instead of CertificateIdentity, matches
	// the identity with a regular expression (as cosign's flag of the same
	// name), anchored at both ends: "https://github.com/org/.*" matches
	// the whole identity, never a part of it.
	CertificateIdentityRegexp string
	// TrustedRoot is a Sigstore trusted_root.json; default the embedded
	// production (public-good) root.
	TrustedRoot string
	// Now is the time OpenPGP signatures are judged at; zero means now.
	// Sigstore certificates are judged at the time the transparency log or
	// a timestamp authority recorded, whatever Now says.
	Now time.Time
}

// sigstoreKeyMode reports whether Key is a PEM key for a key-based bundle
// rather than an OpenPGP key.
func (o Options) sigstoreKeyMode() bool {
	return o.Bundle != "" && o.Key != "" && !o.identityGiven() && o.CertificateOIDCIssuer == ""
}

// identityGiven reports whether an expected certificate identity (exact or
// a regular expression) was given.
func (o Options) identityGiven() bool {
	return o.CertificateIdentity != "" || o.CertificateIdentityRegexp != ""
}

// identityPattern compiles the anchored identity regexp.
func (o Options) identityPattern() (*regexp.Regexp, error) {
	return regexp.Compile(`\A(?:` + o.CertificateIdentityRegexp + `)\z`)
}

// openPGPKeysGiven reports whether a key for OpenPGP signatures was given.
func (o Options) openPGPKeysGiven() bool {
	return o.Keys != "" || (o.Key != "" && !o.sigstoreKeyMode())
}

// sigstoreRequested reports whether the caller asked for Sigstore.
func (o Options) sigstoreRequested() bool {
	return o.Bundle != "" || o.identityGiven() || o.CertificateOIDCIssuer != ""
}

func (o Options) validate() error {
	switch {
	case o.Artifact == "":
		return fmt.Errorf("%w: no artifact given", ErrUsage)
	case o.Keys != "" && o.Key != "" && !o.sigstoreKeyMode():
		return fmt.Errorf("%w: give either --keys (a KEYS file) or --key (one public key file), not both", ErrUsage)
	case o.CertificateIdentity != "" && o.CertificateIdentityRegexp != "":
		return fmt.Errorf("%w: give --certificate-identity (exact) or --certificate-identity-regexp, not both", ErrUsage)
	case o.identityGiven() != (o.CertificateOIDCIssuer != ""):
		return fmt.Errorf("%w: --certificate-identity (or --certificate-identity-regexp) and --certificate-oidc-issuer go together: give both", ErrUsage)
	case o.Bundle != "" && !o.identityGiven() && o.Key == "":
		return fmt.Errorf("%w: a Sigstore bundle needs the signer to expect: --certificate-identity with --certificate-oidc-issuer, or --key with a PEM public key for a key-based bundle", ErrUsage)
	case o.TrustedRoot != "" && !o.sigstoreRequested():
		return fmt.Errorf("%w: --trusted-root is only used to verify a Sigstore bundle", ErrUsage)
	}
	if o.CertificateIdentityRegexp != "" {
		if _, err := o.identityPattern(); err != nil {
			return fmt.Errorf("%w: --certificate-identity-regexp %q is not a valid regular expression: %v", ErrUsage, o.CertificateIdentityRegexp, err)
		}
	}
	return nil
}

// Report is the outcome of Verify.
type Report struct {
	Artifact string `json:"artifact"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"` // hex
	SHA512   string `json:"sha512"` // hex
	// Verifications lists every check that ran, in the order OpenPGP,
	// checksum, Sigstore.
	Verifications []Verification `json:"verifications"`
	// Notes explain inputs that were not found and so not checked.
	Notes []string `json:"notes,omitempty"`
	// OK is true only when every verification passed and at least one
	// signature (OpenPGP or Sigstore) verified.
	OK bool `json:"ok"`
	// Reason explains the verdict in one sentence.
	Reason string `json:"reason"`
}

// Verification is one check of the artifact against one file.
type Verification struct {
	Kind    string   `json:"kind"` // KindOpenPGP, KindChecksum or KindSigstore
	File    string   `json:"file"` // the signature, checksum or bundle file
	OK      bool     `json:"ok"`
	Code    string   `json:"code,omitempty"` // machine-readable reason of a failure
	Message string   `json:"message"`        // plain English
	Details *Details `json:"details,omitempty"`
	Notes   []string `json:"notes,omitempty"`
	// RejectedKeyBlocks says why blocks of the KEYS or key file gave no
	// usable key (OpenPGP only).
	RejectedKeyBlocks []string `json:"rejectedKeyBlocks,omitempty"`
}

// Details describe who signed, for signature verifications.
type Details struct {
	// OpenPGP.
	SignerFingerprint string    `json:"signerFingerprint,omitempty"` // primary key
	SubkeyFingerprint string    `json:"subkeyFingerprint,omitempty"` // when a subkey signed
	IssuerKeyID       string    `json:"issuerKeyID,omitempty"`       // as named by the signature
	IssuerFingerprint string    `json:"issuerFingerprint,omitempty"` // as named by the signature
	UserIDs           []string  `json:"userIDs,omitempty"`
	SignatureTime     time.Time `json:"signatureTime,omitzero"`
	HashAlgorithm     string    `json:"hashAlgorithm,omitempty"`
	// Owner is who the KEYS file says holds the key (trel's KEYS files
	// name the proven owner or the committee's automation key).
	Owner    string `json:"owner,omitempty"`
	Historic string `json:"historic,omitempty"`

	// Sigstore.
	Identity       string `json:"identity,omitempty"`
	Issuer         string `json:"issuer,omitempty"`
	KeyFingerprint string `json:"keyFingerprint,omitempty"` // key-based bundles
	TrustedRoot    string `json:"trustedRoot,omitempty"`
	LogIndex       int64  `json:"logIndex,omitempty"`
	TimeSource     string `json:"timeSource,omitempty"`
}

// Verify checks the artifact against every signature, checksum file and
// bundle given or found next to it. An error means the options were wrong
// (errors.Is ErrUsage), a file could not be read, or a key file holds
// private key material (errors.Is ErrPrivateKeyMaterial of package openpgp); a failed
// verification is not an error but a Report with OK false.
func Verify(opts Options) (*Report, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	st, err := os.Stat(opts.Artifact)
	if err != nil {
		return nil, fmt.Errorf("artifact: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: artifact %s is not a regular file", ErrUsage, opts.Artifact)
	}

	// Keys first: private key material is refused before anything else.
	pgpKeys, err := loadOpenPGPKeys(opts)
	if err != nil {
		return nil, err
	}
	var sigKey *sigstore.PublicKey
	if opts.sigstoreKeyMode() {
		k, err := loadSigstoreKey(opts.Key)
		if err != nil {
			return nil, err
		}
		sigKey = &k
	}

	rep := &Report{Artifact: opts.Artifact, Verifications: []Verification{}}
	sigFile, note := findSignature(opts)
	if note != "" {
		rep.Notes = append(rep.Notes, note)
	}
	sumFiles, note := findChecksums(opts)
	if note != "" {
		rep.Notes = append(rep.Notes, note)
	}
	bundleFile, note := findBundle(opts)
	if note != "" {
		rep.Notes = append(rep.Notes, note)
	}

	d, err := hashFile(opts.Artifact)
	if err != nil {
		return nil, err
	}
	rep.Size = d.size
	rep.SHA256 = hex.EncodeToString(d.sha256)
	rep.SHA512 = hex.EncodeToString(d.sha512)

	if sigFile != "" {
		v, err := checkOpenPGP(opts, sigFile, pgpKeys, d)
		if err != nil {
			return nil, err
		}
		rep.Verifications = append(rep.Verifications, v)
	}
	for _, f := range sumFiles {
		v, err := checkChecksum(opts, f, d)
		if err != nil {
			return nil, err
		}
		rep.Verifications = append(rep.Verifications, v)
	}
	if bundleFile != "" {
		v, err := checkSigstore(opts, bundleFile, sigKey, d)
		if err != nil {
			return nil, err
		}
		rep.Verifications = append(rep.Verifications, v)
	}

	rep.OK, rep.Reason = verdict(rep)
	return rep, nil
}

// verdict decides the overall outcome.
func verdict(rep *Report) (bool, string) {
	failed, signed := 0, 0
	for _, v := range rep.Verifications {
		switch {
		case !v.OK:
			failed++
		case v.Kind == KindOpenPGP || v.Kind == KindSigstore:
			signed++
		}
	}
	switch {
	case failed > 0:
		return false, fmt.Sprintf("%d of %d verifications failed", failed, len(rep.Verifications))
	case len(rep.Verifications) == 0:
		return false, "nothing to verify the artifact with: " + strings.Join(rep.Notes, "; ")
	case signed == 0:
		return false, "no signature was verified: a checksum only shows the download is intact, not who made it; " + strings.Join(rep.Notes, "; ")
	}
	return true, fmt.Sprintf("all %d verifications passed, %d of them signatures", len(rep.Verifications), signed)
}

// findSignature returns the OpenPGP signature to check, or a note saying
// why there is none.
func findSignature(opts Options) (string, string) {
	if opts.Signature != "" {
		return opts.Signature, ""
	}
	def := opts.Artifact + ".asc"
	if isFile(def) {
		if opts.sigstoreRequested() && !opts.openPGPKeysGiven() {
			return "", fmt.Sprintf("%s was not checked: no OpenPGP key given; pass --keys KEYS to check it too", def)
		}
		return def, ""
	}
	if opts.sigstoreRequested() && !opts.openPGPKeysGiven() {
		return "", "" // the caller chose Sigstore only
	}
	return "", fmt.Sprintf("no signature found: expected %s or pass --signature", def)
}

// findChecksums returns the checksum files to check, or a note saying why
// there are none.
func findChecksums(opts Options) ([]string, string) {
	if opts.Checksum != "" {
		return []string{opts.Checksum}, ""
	}
	var found []string
	for _, suffix := range []string{".sha512", ".sha256"} {
		if f := opts.Artifact + suffix; isFile(f) {
			found = append(found, f)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Sprintf("no checksum file found: expected %s.sha512 or %s.sha256, or pass --checksum", opts.Artifact, opts.Artifact)
	}
	return found, ""
}

// bundleSuffixes are the names Sigstore bundles are published under.
var bundleSuffixes = []string{".sigstore", ".sigstore.json", ".bundle"}

// findBundle returns the Sigstore bundle to check, or a note saying why
// there is none. Bundles are only looked for when Sigstore options are
// given: without an expected identity a bundle proves nothing.
func findBundle(opts Options) (string, string) {
	if opts.Bundle != "" {
		return opts.Bundle, ""
	}
	if !opts.sigstoreRequested() {
		return "", ""
	}
	for _, suffix := range bundleSuffixes {
		if f := opts.Artifact + suffix; isFile(f) {
			return f, ""
		}
	}
	return "", fmt.Sprintf("no Sigstore bundle found: expected %s.sigstore, %s.sigstore.json or %s.bundle, or pass --bundle", opts.Artifact, opts.Artifact, opts.Artifact)
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// readBounded reads a whole small file, refusing files over max bytes.
func readBounded(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, max)
	}
	return data, nil
}

// base names a file in messages the way the user will recognise it.
func base(p string) string {
	return filepath.Base(p)
}
