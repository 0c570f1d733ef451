package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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

// replicaID returns the name of this replica (DIR/replica-id, made at the
// first start): the upload leases a process takes carry it, so that the
// replica drops what a crashed predecessor on the same data directory
// held.
func replicaID(dir string) (string, error) {
	p := filepath.Join(dir, "replica-id")
	if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	if err := os.WriteFile(p, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	return id, nil
}
