package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"trel/internal/blob"
	"trel/internal/blob/s3"
	"trel/internal/core"
	"trel/internal/downloads"
	"trel/internal/store/sqlstore"
)

// Engines says where trel keeps its state. The zero value of every field
// but DataDir is the embedded default: SQLite in DATA/trel.db, blobs and
// the downloads tree in DATA, the public log in DATA/log.
type Engines struct {
	// DataDir is the data directory; with Database and Blobs set it holds
	// only this replica's local scratch (its serve lock).
	DataDir string
	// Database is empty (SQLite) or a postgres:// URL.
	Database string
	// Blobs is empty (DATA/blobs on local disk) or an s3:// URL; the
	// published downloads tree lives beside the blobs.
	Blobs string
	// LogDir holds the public log (LOG/log) and its checkpoint key
	// (LOG/log-signer.key); empty means DataDir. Replicas share one.
	LogDir string
}

// Replicated reports whether the engines let several replicas run: a
// shared database, blob store and log.
func (e Engines) Replicated() bool { return e.Database != "" }

// Check reports a configuration several replicas could not share.
func (e Engines) Check() error {
	if e.Database != "" && !strings.HasPrefix(e.Database, "postgres://") && !strings.HasPrefix(e.Database, "postgresql://") {
		return errors.New("--database must be a postgres:// URL (without it trel uses SQLite in the data directory)")
	}
	if e.Blobs != "" && !strings.HasPrefix(e.Blobs, "s3://") {
		return errors.New("--blobs must be an s3:// URL (without it trel stores blobs in the data directory)")
	}
	return nil
}

// CheckServe adds what a server on PostgreSQL needs: replicas share the
// blobs and the public log, so neither may stay in one replica's --data.
func (e Engines) CheckServe() error {
	if err := e.Check(); err != nil {
		return err
	}
	if e.Database != "" && e.Blobs == "" {
		return errors.New("with --database postgres://... give --blobs s3://BUCKET?endpoint=...: every replica must reach the same artifacts")
	}
	if e.Database != "" && e.LogDir == "" {
		return errors.New("with --database postgres://... give --log-dir DIR, a directory every replica mounts: the public log lives there")
	}
	return nil
}

func (e Engines) logDir() string {
	if e.LogDir != "" {
		return e.LogDir
	}
	return e.DataDir
}

// OpenEngines opens (creating if needed) the database, the blob store and
// the downloads tree that eng names. It is used by `trel serve` and by the
// `trel admin` commands, which may run beside live servers.
func OpenEngines(ctx context.Context, eng Engines, opt core.Options) (*App, error) {
	if err := eng.Check(); err != nil {
		return nil, err
	}
	if eng.Database == "" || eng.Blobs == "" {
		// The data directory holds the database or the blobs: it must
		// exist. `trel serve` creates it; the admin commands, which may
		// run beside a live server, never do: a mistyped --data must not
		// start an empty trel.
		if err := existingDir(eng.DataDir); err != nil {
			return nil, err
		}
	}
	var st *sqlstore.DB
	var err error
	if eng.Database != "" {
		st, err = sqlstore.OpenPostgres(ctx, eng.Database)
	} else {
		st, err = sqlstore.OpenSQLite(ctx, filepath.Join(eng.DataDir, "trel.db"))
	}
	if err != nil {
		return nil, err
	}
	app := &App{DataDir: eng.DataDir, Engines: eng, Store: st}
	if eng.Blobs != "" {
		b, err := s3.Open(ctx, eng.Blobs)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("--blobs: %w", err)
		}
		app.Blobs, app.cleanBlobs, app.pingBlobs = b, b.Clean, b.Ping
		app.Downloads = downloads.NewBucketTree(s3Bucket{b.Bucket("downloads")})
		app.Archive = downloads.NewBucketTree(s3Bucket{b.Bucket("archive")})
	} else {
		d, err := blob.NewDisk(filepath.Join(eng.DataDir, "blobs"))
		if err != nil {
			st.Close()
			return nil, err
		}
		tree, err := downloads.New(filepath.Join(eng.DataDir, "downloads"), d)
		if err != nil {
			st.Close()
			return nil, err
		}
		if app.Archive, err = downloads.New(filepath.Join(eng.DataDir, "archive"), d); err != nil {
			st.Close()
			return nil, err
		}
		app.Blobs, app.Downloads = d, tree
		app.cleanBlobs = func(context.Context) error { return d.CleanTemp() }
		app.pingBlobs = func(context.Context) error { return d.Ping() }
	}
	app.metrics = newMetrics(st)
	if opt.Meter == nil {
		opt.Meter = app.metrics
	}
	app.Core = core.New(st, app.Blobs, opt)
	app.Core.SetPublisher(app.Downloads, nil)
	app.Core.SetArchiver(downloads.Mover{From: app.Downloads, To: app.Archive})
	return app, nil
}

// s3Bucket adapts an S3 folder to downloads.Bucket.
type s3Bucket struct{ *s3.Bucket }

func (b s3Bucket) OpenKey(ctx context.Context, key string) (downloads.BucketObject, error) {
	o, err := b.Bucket.OpenKey(ctx, key)
	if err != nil {
		return nil, err
	}
	return o, nil
}

// existingDir returns a clear error unless dir is an existing directory.
func existingDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the data directory %s does not exist: give the right one with --data DIR (or TREL_DATA); `trel serve --data DIR` creates a new one", dir)
	}
	if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("the data directory %s is not a directory", dir)
	}
	return nil
}
