// Package gpgtest drives real GnuPG in a throw-away home directory, for
// tests that need keys and signatures made by the tool release managers
// actually use. A missing gpg is a test failure, never a skip: the
// project's scripts/setup installs it.
package gpgtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Home is a GNUPGHOME that lives as long as the test.
type Home struct {
	Dir string
}

// New makes a fresh home; gpg's agent is killed when the test ends.
func New(t testing.TB) *Home {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatalf("gpg is required (./scripts/setup installs it): %v", err)
	}
	// A short path: gpg-agent's socket path must fit in sun_path.
	dir, err := os.MkdirTemp("", "gpgt")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o700)
	h := &Home{Dir: dir}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", dir, "--kill", "all").Run()
		os.RemoveAll(dir)
	})
	return h
}

// Run runs gpg non-interactively (at a faked time when at != "", e.g.
// "20200101T000000") and returns stdout; a failure fails the test.
func (h *Home) Run(t testing.TB, at string, args ...string) []byte {
	t.Helper()
	base := []string{"--homedir", h.Dir, "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--yes"}
	if at != "" {
		base = append(base, "--faked-system-time", at)
	}
	cmd := exec.Command("gpg", append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.Bytes()
}

// GenKey creates a key (algo e.g. "ed25519" or "rsa4096", usage e.g.
// "sign" or "default", expire e.g. "2y" or "never") and returns its
// fingerprint.
func (h *Home) GenKey(t testing.TB, at, uid, algo, usage, expire string) string {
	t.Helper()
	h.Run(t, at, "--quick-gen-key", uid, algo, usage, expire)
	out := h.Run(t, "", "--with-colons", "--list-keys", uid)
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "fpr:") {
			return strings.Split(line, ":")[9]
		}
	}
	t.Fatalf("gpg made no key for %s", uid)
	return ""
}

// Export returns the armored public key.
func (h *Home) Export(t testing.TB, fpr string) []byte {
	t.Helper()
	return h.Run(t, "", "--armor", "--export", fpr)
}

// ExportSecret returns the armored secret key (for tests that prove private
// keys are refused).
func (h *Home) ExportSecret(t testing.TB, fpr string) []byte {
	t.Helper()
	return h.Run(t, "", "--armor", "--export-secret-keys", fpr)
}

// Sign makes an armored detached signature of data with the key.
func (h *Home) Sign(t testing.TB, at, fpr string, data []byte, extra ...string) []byte {
	t.Helper()
	in := filepath.Join(h.Dir, "data.bin")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--local-user", fpr, "--armor", "--output", "-"}, extra...)
	return h.Run(t, at, append(args, "--detach-sign", in)...)
}
