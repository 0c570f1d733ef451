package sigstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
)

// MaxBundleSize bounds bundle files. Real bundles are 2-12 KiB; 1 MiB leaves
// room for large DSSE payloads while keeping parsing cheap.
const MaxBundleSize = 1 << 20

// ErrInvalidBundle marks every LoadBundle failure: the input is not a bundle
// trel can verify. Callers report it as an invalid signature, not an
// internal error.
var ErrInvalidBundle = errors.New("invalid Sigstore bundle")

// Bundle media types trel accepts. v0.3 has two spellings in the wild.
const (
	MediaTypeV01    = "application/vnd.dev.sigstore.bundle+json;version=0.1"
	MediaTypeV02    = "application/vnd.dev.sigstore.bundle+json;version=0.2"
	MediaTypeV03    = "application/vnd.dev.sigstore.bundle.v0.3+json"
	MediaTypeV03Alt = "application/vnd.dev.sigstore.bundle+json;version=0.3"
)

var mediaTypeVersions = map[string]string{
	MediaTypeV01:    "v0.1",
	MediaTypeV02:    "v0.2",
	MediaTypeV03:    "v0.3",
	MediaTypeV03Alt: "v0.3",
}

// Bundle is a parsed, structurally valid Sigstore bundle. It has not been
// verified: see Verifier.Verify.
type Bundle struct {
	// MediaType is the bundle's media type as written in the file.
	MediaType string
	// Version is "v0.1", "v0.2" or "v0.3".
	Version string

	mu    sync.Mutex // held while verifying; see Verifier.Verify
	inner *sgbundle.Bundle
}

// HasCertificate reports whether the bundle is signed with a Fulcio-style
// certificate (true) or a bare public key (false).
func (b *Bundle) HasCertificate() bool {
	return b.inner.GetVerificationMaterial().GetPublicKey() == nil
}

// IsDSSE reports whether the bundle carries a DSSE envelope (usually an
// in-toto statement) rather than a plain message signature.
func (b *Bundle) IsDSSE() bool {
	return b.inner.GetDsseEnvelope() != nil
}

// LoadBundle parses a Sigstore bundle (JSON) and checks its structure:
// size, media type (v0.1 to v0.3), signature content, verification
// material and transparency-log entries. Every error wraps ErrInvalidBundle
// and says in plain English what is wrong.
func LoadBundle(data []byte) (*Bundle, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: the file is empty", ErrInvalidBundle)
	}
	if len(data) > MaxBundleSize {
		return nil, fmt.Errorf("%w: %d bytes is more than the %d allowed", ErrInvalidBundle, len(data), MaxBundleSize)
	}

	// Read the media type first: sigstore-go's messages for a wrong one
	// are terse, and this is the most common mistake (wrong file).
	var head struct {
		MediaType *string `json:"mediaType"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %w", ErrInvalidBundle, err)
	}
	if head.MediaType == nil || *head.MediaType == "" {
		return nil, fmt.Errorf("%w: no mediaType field, so this is not a Sigstore bundle", ErrInvalidBundle)
	}
	mediaType := *head.MediaType
	version, ok := mediaTypeVersions[mediaType]
	if !ok {
		return nil, fmt.Errorf("%w: unsupported media type %q; trel accepts Sigstore bundles v0.1, v0.2 and v0.3 (%s)",
			ErrInvalidBundle, truncate(mediaType, 100), MediaTypeV03)
	}

	var inner sgbundle.Bundle
	if err := inner.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidBundle, explainLoadError(err), err)
	}
	// Parse the certificate or key and the signature now, so that a
	// bundle that loads is one the verifier can at least start on.
	if _, err := inner.VerificationContent(); err != nil {
		return nil, fmt.Errorf("%w: the signing certificate or key cannot be read: %w", ErrInvalidBundle, err)
	}
	if _, err := inner.SignatureContent(); err != nil {
		return nil, fmt.Errorf("%w: the signature cannot be read: %w", ErrInvalidBundle, err)
	}
	return &Bundle{MediaType: mediaType, Version: version, inner: &inner}, nil
}

// LoadBundleFile reads a bundle file (NAME.sigstore, NAME.sigstore.json,
// NAME.bundle) and parses it with LoadBundle.
func LoadBundleFile(path string) (*Bundle, error) {
	data, err := readBounded(path, MaxBundleSize)
	if errors.Is(err, errTooLarge) {
		return nil, fmt.Errorf("%w: %w", ErrInvalidBundle, err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading bundle: %w", err)
	}
	return LoadBundle(data)
}

// explainLoadError turns sigstore-go's structural errors into sentences.
func explainLoadError(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "missing required checkpoint"), strings.Contains(msg, "checkpoint empty"):
		return "the transparency-log inclusion proof has no checkpoint (signed tree head)"
	case strings.Contains(msg, "inclusion promises missing"):
		return "a v0.1 bundle must carry an inclusion promise (signed entry timestamp) for its log entry"
	case strings.Contains(msg, "inclusion proof missing"):
		return "a v0.2 or later bundle must carry an inclusion proof for its log entry"
	case strings.Contains(msg, "cannot be X.509 certificate chain"):
		return "a v0.3 bundle must carry a single leaf certificate, not a certificate chain"
	case errors.Is(err, sgbundle.ErrMissingVerificationMaterial):
		return "the bundle has no verification material (certificate or public key)"
	case errors.Is(err, sgbundle.ErrMissingBundleContent):
		return "the bundle has neither a message signature nor a DSSE envelope"
	case errors.Is(err, sgbundle.ErrUnsupportedMediaType):
		return "unsupported bundle version"
	case strings.Contains(msg, "too many tlog entries"):
		return "the bundle has too many transparency-log entries"
	case strings.Contains(msg, "kind and version mismatch"):
		return "a transparency-log entry's kind does not match its body"
	case strings.Contains(msg, "proto:"):
		return "the JSON does not follow the Sigstore bundle schema"
	default:
		return "the bundle is malformed"
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
