package sigstore

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// Names of the embedded trusted roots.
const (
	RootPublicGood = "public-good"
	RootStaging    = "staging"
)

// MaxTrustedRootSize bounds trusted-root files; real ones are under 10 KiB.
const MaxTrustedRootSize = 1 << 20

// publicGoodJSON is the current production trusted root (with the 2025
// timestamp authority); sigstore-go's own embedded copy is older.
//
//go:embed roots/public-good.json
var publicGoodJSON []byte

// stagingJSON is the Sigstore staging trusted root, used by --staging.
//
//go:embed roots/staging.json
var stagingJSON []byte

// NamedRoot is a trusted root with the name an operator gave it. Results
// report the name of the root a bundle verified against.
type NamedRoot struct {
	Name string
	root *root.TrustedRoot
}

// LoadTrustedRoot parses a trusted root (trusted_root.json, media type
// application/vnd.dev.sigstore.trustedroot+json;version=0.1) and names it.
func LoadTrustedRoot(name string, data []byte) (NamedRoot, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return NamedRoot{}, errors.New("trusted root needs a name")
	}
	if len(data) > MaxTrustedRootSize {
		return NamedRoot{}, fmt.Errorf("trusted root %q is %d bytes, more than the %d allowed", name, len(data), MaxTrustedRootSize)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return NamedRoot{}, fmt.Errorf("trusted root %q is not a valid Sigstore trusted root: %w", name, err)
	}
	if len(tr.RekorLogs()) == 0 {
		// Every bundle must be logged, so a root without logs verifies nothing.
		return NamedRoot{}, fmt.Errorf("trusted root %q has no transparency logs", name)
	}
	return NamedRoot{Name: name, root: tr}, nil
}

// LoadTrustedRootFile reads and parses a trusted root from a file.
func LoadTrustedRootFile(name, path string) (NamedRoot, error) {
	data, err := readBounded(path, MaxTrustedRootSize)
	if err != nil {
		return NamedRoot{}, fmt.Errorf("reading trusted root %q: %w", name, err)
	}
	return LoadTrustedRoot(name, data)
}

// Embedded roots are parsed once; a parsed root is read-only and shared.
var (
	publicGoodRoot = sync.OnceValue(func() NamedRoot { return mustEmbeddedRoot(RootPublicGood, publicGoodJSON) })
	stagingRoot    = sync.OnceValue(func() NamedRoot { return mustEmbeddedRoot(RootStaging, stagingJSON) })
)

// PublicGoodRoot returns the embedded production trusted root.
func PublicGoodRoot() NamedRoot {
	return publicGoodRoot()
}

// StagingRoot returns the embedded Sigstore staging trusted root.
func StagingRoot() NamedRoot {
	return stagingRoot()
}

// mustEmbeddedRoot panics because an embedded root that does not parse is a
// build defect, caught by the tests, never a runtime condition.
func mustEmbeddedRoot(name string, data []byte) NamedRoot {
	r, err := LoadTrustedRoot(name, data)
	if err != nil {
		panic(fmt.Sprintf("sigstore: embedded trusted root: %v", err))
	}
	return r
}

// errTooLarge marks files over the size limit: bad input, not an I/O failure.
var errTooLarge = errors.New("file is larger than allowed")

// readBounded reads a whole file but refuses files larger than limit, so a
// hostile upload cannot make us allocate without bound.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w (%d bytes)", path, errTooLarge, limit)
	}
	return data, nil
}
