package server

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDataDir makes sure only one server uses a data directory: a second
// one would remove the first one's uploads in progress at start-up. The
// lock is released when the process exits, also after kill -9. Admin
// commands do not take it; they are safe beside a running server.
func lockDataDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "serve.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another trel server is already using the data directory %s: stop it first, or give this one its own --data", dir)
	}
	return f, nil
}
