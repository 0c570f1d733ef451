package server

import (
	"fmt"
	"log/slog"
	"os"
)

// prepareDataDir creates the data directory (owner only) if it does not
// exist, and warns when group or others may read or change an existing
// one. It does not refuse: every file with secrets in it (the database and
// its WAL, draft blobs, the log's signing key) is created 0600 anyway, and
// directories made by packaging or `mkdir` under a 022 umask are common.
func prepareDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating data directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("the data directory %s is not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		log.Warn("the data directory can be read or entered by other users: its files are private (0600), but run `chmod 700` on it to hide even their names",
			"dir", dir, "mode", fmt.Sprintf("%o", perm))
	}
	return nil
}
