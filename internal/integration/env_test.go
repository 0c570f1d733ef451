package integration

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trel/client"
)

// TestServeFromEnvironment configures `trel serve` and the admin commands
// with TREL_DATA, TREL_ADDR and TREL_MAX_FILE_SIZE instead of flags.
func TestServeFromEnvironment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "from-env")
	addr := freeAddr(t)
	env := append(baseEnv(dir), "TREL_DATA="+data, "TREL_ADDR="+addr, "TREL_MAX_FILE_SIZE=2KiB")

	out, errb := &syncBuffer{}, &syncBuffer{}
	cmd := exec.Command(trelBin, "serve")
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = env, dir, out, errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("the server did not die within 10s of SIGKILL")
		}
	})
	up := eventually(15*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if !up {
		t.Fatalf("trel serve configured from the environment did not come up on %s:\n%s\n%s", addr, out, errb)
	}
	if !eventually(5*time.Second, func() bool { return strings.Contains(out.String(), "--data "+data+" --username admin") }) {
		t.Errorf("serve should print the admin-token hint for %s; printed:\n%s", data, out)
	}
	if _, err := os.Stat(filepath.Join(data, "trel.db")); err != nil {
		t.Errorf("TREL_DATA should hold the database: %v", err)
	}

	// The admin commands read TREL_DATA too.
	op := exec.Command(trelBin, "admin", "create-token", "--username", "admin")
	op.Env, op.Dir = env, dir
	tok, err := op.Output()
	if err != nil {
		t.Fatalf("admin create-token with TREL_DATA: %v", err)
	}
	c := client.New("http://"+addr, strings.TrimSpace(string(tok)))
	if u, err := c.Me(ctx); err != nil || u.Username != "admin" || !u.Admin {
		t.Fatalf("the token from TREL_DATA: %+v %v", u, err)
	}
	if _, err := c.CreateCommittee(ctx, "env", "Env"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateProject(ctx, "envp", "env", "Env project"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartRelease(ctx, "envp", "1.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadContent(ctx, "envp", "1.0", strings.NewReader(strings.Repeat("x", 2048)), -1); err != nil {
		t.Errorf("an upload at TREL_MAX_FILE_SIZE should pass: %v", err)
	}
	_, err = c.UploadContent(ctx, "envp", "1.0", strings.NewReader(strings.Repeat("x", 2049)), -1)
	apiError(t, "an upload over TREL_MAX_FILE_SIZE", err, 413, "too_large", "larger than the limit of 2048 bytes")
}
