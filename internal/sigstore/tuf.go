package sigstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sigstore/sigstore-go/pkg/tuf"
)

// TUF target names of Sigstore's trusted material.
const (
	TrustedRootTarget   = "trusted_root.json"
	SigningConfigTarget = "signing_config.v0.2.json"
)

// TUFOptions locate a Sigstore TUF repository.
type TUFOptions struct {
	// Staging picks Sigstore's staging repository and its TUF root.
	Staging bool
	// URL replaces the repository: a mirror of public-good or staging,
	// or with Root a private instance's.
	URL string
	// Root is another TUF trust anchor (root.json): the material is then a
	// private instance's. When empty, the TUF root sigstore-go embeds for
	// public-good or staging anchors the update.
	Root []byte
	// CacheDir keeps the TUF metadata between runs (required: TUF's
	// rollback protection needs the last versions seen).
	CacheDir string
}

// Refreshed is the trusted material a TUF update brought, already checked
// to load.
type Refreshed struct {
	Name          string // public-good, staging or private
	TrustedRoot   []byte
	SigningConfig []byte // nil when the repository has none
}

// FetchFromTUF runs a TUF update (root rotation, timestamp, snapshot,
// targets, each signature and version checked by go-tuf) and returns the
// instance's trusted root and signing configuration. Nothing is trusted
// that does not chain to the TUF root.
func FetchFromTUF(o TUFOptions) (*Refreshed, error) {
	if o.CacheDir == "" {
		return nil, errors.New("sigstore: a TUF update needs a cache directory")
	}
	name, url, anchor := RootPublicGood, tuf.DefaultMirror, tuf.DefaultRoot()
	if o.Staging {
		name, url, anchor = RootStaging, tuf.StagingMirror, tuf.StagingRoot()
	}
	if o.URL != "" {
		url = o.URL // a mirror, anchored in the same TUF root
	}
	if len(o.Root) > 0 {
		name, anchor = "private", o.Root
	}
	if err := os.MkdirAll(o.CacheDir, 0o700); err != nil {
		return nil, err
	}
	c, err := tuf.New(&tuf.Options{Root: anchor, RepositoryBaseURL: url, CachePath: filepath.Join(o.CacheDir, "tuf"),
		DisableConsistentSnapshot: !consistentSnapshot(anchor)})
	if err != nil {
		return nil, fmt.Errorf("updating from the TUF repository %s: %w", url, err)
	}
	tr, err := c.GetTarget(TrustedRootTarget)
	if err != nil {
		return nil, fmt.Errorf("the TUF repository %s: %w", url, err)
	}
	nr, err := LoadTrustedRoot(name, tr)
	if err != nil {
		return nil, fmt.Errorf("the TUF repository %s serves a %s that trel cannot use: %w", url, TrustedRootTarget, err)
	}
	out := &Refreshed{Name: name, TrustedRoot: tr}
	if sc, err := c.GetTarget(SigningConfigTarget); err == nil {
		if _, err := NewInstance(name, sc, nr); err != nil {
			return nil, fmt.Errorf("the TUF repository %s serves a %s that trel cannot use: %w", url, SigningConfigTarget, err)
		}
		out.SigningConfig = sc
	}
	return out, nil
}

// consistentSnapshot reads the TUF root's consistent_snapshot flag: a
// repository without consistent snapshots serves targets by name.
func consistentSnapshot(rootJSON []byte) bool {
	var r struct {
		Signed struct {
			ConsistentSnapshot bool `json:"consistent_snapshot"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(rootJSON, &r); err != nil {
		return true
	}
	return r.Signed.ConsistentSnapshot
}
