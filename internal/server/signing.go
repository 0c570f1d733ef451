package server

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"trel/internal/signing"
	"trel/internal/translog"
)

// openSigning loads the master key (when configured) and opens the public
// log in DATA/log, whose checkpoint key lives in DATA/log-signer.key.
// Without a master key the log still opens (published manifests go there)
// but server-side signing reports itself unavailable.
func openSigning(ctx context.Context, app *App, cfg Config) (*translog.Log, signing.MasterKey, error) {
	var master signing.MasterKey
	var err error
	switch {
	case cfg.MasterKeyFile != "":
		if master, err = signing.LoadMasterKey(cfg.MasterKeyFile); err != nil {
			return nil, master, fmt.Errorf("--master-key-file: %w", err)
		}
	case cfg.MasterKeyEnv != "":
		master, err = signing.MasterKeyFromEnv(cfg.MasterKeyEnv)
		if err != nil && !errors.Is(err, signing.ErrNoMasterKey) {
			return nil, master, fmt.Errorf("master key from $%s: %w", cfg.MasterKeyEnv, err)
		}
	}
	origin := "trel.localhost/log"
	if u, err := url.Parse(publicURL(app)); err == nil && u.Host != "" {
		origin = strings.ReplaceAll(u.Host, "+", "-") + "/log"
	}
	signer, err := translog.LoadOrCreateSigner(filepath.Join(app.DataDir, "log-signer.key"), origin)
	if err != nil {
		return nil, master, fmt.Errorf("the public log's key: %w", err)
	}
	log, err := translog.Open(ctx, filepath.Join(app.DataDir, "log"), signer, translog.Options{})
	if err != nil {
		return nil, master, fmt.Errorf("opening the public log: %w", err)
	}
	return log, master, nil
}

func publicURL(app *App) string {
	if app.PublicURL != "" {
		return app.PublicURL
	}
	return DefaultPublicURL
}

// manifestLog puts release manifests into the public log. A manifest is
// signed by no key: its entry carries an all-zero key fingerprint, and the
// SHA-512 and SHA-256 of the manifest.
type manifestLog struct{ log *translog.Log }

func (m manifestLog) AppendManifest(ctx context.Context, manifest []byte) (uint64, error) {
	s512 := sha512.Sum512(manifest)
	s256 := sha256.Sum256(manifest)
	return m.log.Append(ctx, translog.Entry{Kind: translog.KindReleaseManifest, KeyFingerprint: strings.Repeat("0", 40),
		ArtifactSHA512: hex.EncodeToString(s512[:]), TransactionSHA256: hex.EncodeToString(s256[:]), Time: time.Now()})
}
