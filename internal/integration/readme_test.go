package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestREADMEFirstSteps runs the README's first-steps block verbatim, as
// pasted into a fresh shell (bash, stopping at the first failure) in a
// directory holding the trel binary and a fresh server's ./trel-data:
// from an empty server to a published release that a downloader verifies.
func TestREADMEFirstSteps(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "<!-- first-steps -->\n```sh\n")
	block, _, closed := strings.Cut(after, "\n```\n")
	if !ok || !closed {
		t.Fatal("README.md has no first-steps block (a ```sh block after <!-- first-steps -->)")
	}

	dir := t.TempDir()
	bin, err := os.ReadFile(trelBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "trel"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, filepath.Join(dir, "trel-data"))
	t.Cleanup(func() {
		kill := exec.Command("gpgconf", "--kill", "gpg-agent")
		kill.Env = append(os.Environ(), "GNUPGHOME="+filepath.Join(dir, "demo-gnupg"))
		kill.Run()
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", block)
	// A fresh shell: its own HOME, no trel settings but the server's
	// address (TREL_SERVER, which the block reads for the same purpose).
	cmd.Env = append(baseEnv(home), "TREL_SERVER="+srv.url)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's first steps failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Signed in to " + srv.url + " as admin.",
		"You (admin) now own key",
		"Created revision 1 of tomcat-server 11.0.0 (2 files).",
		"Created revision 2 of tomcat-server 11.0.0 (3 files).",
		"0 blocker",
		"Your +1 is recorded.",
		"The vote passed.",
		"Published tomcat-server 11.0.0 (revision 2, 3 files)",
		"VERIFIED: tomcat-server-11.0.0.txt",
		"VERIFIED: tomcat-server 11.0.0",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the first steps did not print %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "NOT VERIFIED") {
		t.Errorf("a verification failed:\n%s", out)
	}
}
