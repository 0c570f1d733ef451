package server

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"trel/internal/signing"
	"trel/internal/translog"
)

// EnableSigning loads the master key (from masterKeyFile, or the
// environment variable masterKeyEnv) and opens the public log in LOG/log,
// whose checkpoint key lives in LOG/log-signer.key (LOG is --log-dir, or
// the data directory), and connects both to
// the core. Without a master key the log still opens (published manifests
// go there) but server-side signing reports itself unavailable. The
// returned function closes the log.
func EnableSigning(ctx context.Context, app *App, masterKeyFile, masterKeyEnv string) (func(), error) {
	tlog, master, err := openSigning(ctx, app, masterKeyFile, masterKeyEnv)
	if err != nil {
		return nil, err
	}
	app.Log = tlog
	app.Core.SetSigning(master, tlog)
	app.Core.SetPublisher(app.Downloads, manifestLog{tlog})
	return func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tlog.Close(closeCtx)
	}, nil
}

func openSigning(ctx context.Context, app *App, masterKeyFile, masterKeyEnv string) (*translog.Log, signing.MasterKey, error) {
	var master signing.MasterKey
	var err error
	switch {
	case masterKeyFile != "":
		if master, err = signing.LoadMasterKey(masterKeyFile); err != nil {
			return nil, master, fmt.Errorf("--master-key-file: %w", err)
		}
	case masterKeyEnv != "":
		master, err = signing.MasterKeyFromEnv(masterKeyEnv)
		if err != nil && !errors.Is(err, signing.ErrNoMasterKey) {
			return nil, master, fmt.Errorf("master key from $%s: %w", masterKeyEnv, err)
		}
	}
	origin := "trel.localhost/log"
	if u, err := url.Parse(publicURL(app)); err == nil && u.Host != "" {
		origin = strings.ReplaceAll(u.Host, "+", "-") + "/log"
	}
	dir := app.Engines.logDir()
	signer, err := translog.LoadOrCreateSigner(filepath.Join(dir, "log-signer.key"), origin)
	if err != nil {
		return nil, master, fmt.Errorf("the public log's key: %w", err)
	}
	log, err := translog.Open(ctx, filepath.Join(dir, "log"), signer, translog.Options{})
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
	return m.log.Append(ctx, translog.ManifestEntry(manifest, time.Now()))
}

func (m manifestLog) NextIndex(ctx context.Context) (uint64, error) { return m.log.NextIndex(ctx) }

func (m manifestLog) FindManifest(ctx context.Context, manifest []byte, from uint64) (uint64, bool, error) {
	return m.log.FindManifest(ctx, manifest, from)
}
