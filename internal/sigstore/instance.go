package sigstore

import (
	_ "embed"
	"errors"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
)

// MaxSigningConfigSize bounds signing-configuration files; real ones are
// about 2 KiB.
const MaxSigningConfigSize = 1 << 20

// publicGoodSigningConfigJSON says where the public-good instance signs
// (Fulcio, Rekor, the timestamp authority, the OIDC provider); it is the
// signing_config.v0.2.json Sigstore distributes through TUF.
//
//go:embed roots/public-good-signing-config.json
var publicGoodSigningConfigJSON []byte

// stagingSigningConfigJSON is the same for Sigstore's staging instance.
//
//go:embed roots/staging-signing-config.json
var stagingSigningConfigJSON []byte

// Instance is a Sigstore deployment trel signs with: its signing
// configuration (which services to call) and the trusted root every bundle
// made with it must verify against before trel writes it.
type Instance struct {
	// Name is "public-good", "staging" or the name given to a private one.
	Name   string
	Root   NamedRoot
	config *root.SigningConfig
}

// InstanceOptions choose an instance the way the command line does:
// --staging picks Sigstore's staging instance instead of public-good;
// SigningConfig and TrustedRoot (file paths) replace either half.
type InstanceOptions struct {
	Staging       bool
	SigningConfig string // signing_config v0.2 JSON file
	TrustedRoot   string // trusted_root.json file
	// Name names the files' instance ("private" when empty): the files
	// may be an update of an embedded instance (trel sigstore update-root).
	Name string
}

// LoadInstance assembles an instance from embedded and given parts. A
// private instance needs both files; with only one of them, the other half
// is the embedded public-good (or staging) one, which is rarely what you
// want for a private deployment but is what the conformance protocol means.
func LoadInstance(o InstanceOptions) (*Instance, error) {
	name, configJSON, nr := RootPublicGood, publicGoodSigningConfigJSON, PublicGoodRoot()
	if o.Staging {
		name, configJSON, nr = RootStaging, stagingSigningConfigJSON, StagingRoot()
	}
	given := o.Name
	if given == "" {
		given = "private"
	}
	if o.SigningConfig != "" {
		data, err := readBounded(o.SigningConfig, MaxSigningConfigSize)
		if err != nil {
			return nil, fmt.Errorf("reading the signing configuration: %w", err)
		}
		configJSON, name = data, given
	}
	if o.TrustedRoot != "" {
		r, err := LoadTrustedRootFile(given, o.TrustedRoot)
		if err != nil {
			return nil, err
		}
		nr, name = r, given
	}
	return NewInstance(name, configJSON, nr)
}

// NewInstance parses a signing configuration (signing_config v0.2) and
// pairs it with a trusted root.
func NewInstance(name string, signingConfigJSON []byte, nr NamedRoot) (*Instance, error) {
	if nr.root == nil {
		return nil, errors.New("sigstore: the instance's trusted root was not loaded with LoadTrustedRoot")
	}
	if len(signingConfigJSON) > MaxSigningConfigSize {
		return nil, fmt.Errorf("the signing configuration is %d bytes, more than the %d allowed", len(signingConfigJSON), MaxSigningConfigSize)
	}
	cfg, err := root.NewSigningConfigFromJSON(signingConfigJSON)
	if err != nil {
		return nil, fmt.Errorf("not a Sigstore signing configuration (signing_config v0.2 JSON, mediaType %s): %w", root.SigningConfigMediaType02, err)
	}
	return &Instance{Name: name, Root: nr, config: cfg}, nil
}

// OIDCIssuer is the OIDC provider where people sign in to get an identity
// token for this instance (e.g. https://oauth2.sigstore.dev/auth), or ""
// when the configuration names none.
func (in *Instance) OIDCIssuer(now time.Time) string {
	s, err := root.SelectService(in.config.OIDCProviderURLs(), []uint32{1}, now)
	if err != nil {
		return ""
	}
	return s.URL
}

// services are the endpoints one signing uses, chosen from the signing
// configuration by API version, validity at now and its selectors.
type services struct {
	fulcio string // "" for key-based signing
	tsas   []string
	rekors []root.Service
}

// selectServices picks Fulcio (keyless only), the timestamp authorities and
// the Rekor logs. Rekor v2 gives no signed time of its own, so a
// configuration that leads to Rekor v2 without a timestamp authority is
// refused rather than producing bundles nobody can verify.
func (in *Instance) selectServices(keyless, withRekor bool, now time.Time) (services, error) {
	var s services
	if keyless {
		f, err := root.SelectService(in.config.FulcioCertificateAuthorityURLs(), sign.FulcioAPIVersions, now)
		if err != nil {
			return s, fmt.Errorf("the signing configuration of %s names no usable certificate authority (Fulcio): %w", in.Name, err)
		}
		s.fulcio = f.URL
	}
	if len(in.config.TimestampAuthorityURLs()) > 0 {
		tsas, err := root.SelectServices(in.config.TimestampAuthorityURLs(), in.config.TimestampAuthorityURLsConfig(), sign.TimestampAuthorityAPIVersions, now)
		if err != nil {
			return s, fmt.Errorf("the signing configuration of %s names no usable timestamp authority: %w", in.Name, err)
		}
		for _, t := range tsas {
			s.tsas = append(s.tsas, t.URL)
		}
	}
	if withRekor && len(in.config.RekorLogURLs()) > 0 {
		logs, err := root.SelectServices(in.config.RekorLogURLs(), in.config.RekorLogURLsConfig(), sign.RekorAPIVersions, now)
		if err != nil {
			return s, fmt.Errorf("the signing configuration of %s names no usable transparency log (Rekor): %w", in.Name, err)
		}
		s.rekors = logs
	}
	if withRekor && len(s.rekors) == 0 {
		return s, fmt.Errorf("the signing configuration of %s names no transparency log (Rekor): every keyless signature must be logged", in.Name)
	}
	for _, r := range s.rekors {
		if r.MajorAPIVersion == 2 && len(s.tsas) == 0 {
			return s, fmt.Errorf("the signing configuration of %s uses Rekor v2 (%s), which gives no signed time, but names no timestamp authority", in.Name, r.URL)
		}
	}
	if !withRekor && len(s.tsas) == 0 {
		return s, fmt.Errorf("the signing configuration of %s names no timestamp authority, and a key-based signature needs one for its time", in.Name)
	}
	return s, nil
}

// SigningInstance is the instance a server signs key-based bundles with:
// the signing configuration file (the embedded public-good one when empty)
// with one of the verifier's trusted roots, by name (public-good when
// empty), so that the checks verify what the server makes.
func SigningInstance(v *Verifier, signingConfigPath, rootName string) (*Instance, error) {
	if rootName == "" {
		rootName = RootPublicGood
	}
	var nr *NamedRoot
	for i := range v.roots {
		if v.roots[i].Name == rootName {
			nr = &v.roots[i]
		}
	}
	if nr == nil {
		return nil, fmt.Errorf("no trusted root is named %q (known: %v): add it with --sigstore-root %s=FILE", rootName, v.RootNames(), rootName)
	}
	configJSON, name := publicGoodSigningConfigJSON, RootPublicGood
	if signingConfigPath != "" {
		data, err := readBounded(signingConfigPath, MaxSigningConfigSize)
		if err != nil {
			return nil, fmt.Errorf("reading the signing configuration: %w", err)
		}
		configJSON, name = data, rootName
	}
	return NewInstance(name, configJSON, *nr)
}
