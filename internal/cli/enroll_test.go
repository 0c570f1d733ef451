package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"trel/internal/core"
	"trel/internal/server"
)

func TestAdminEnrollPrintsAOneTimeLink(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(args, strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, _, stderr := run("admin", "create-user", "--data", dir, "--username", "alice", "--email", "alice@example.org"); code != 0 {
		t.Fatalf("create-user: %d %s", code, stderr)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		prefix   string
		inStderr string
	}{
		{"default public URL", []string{"admin", "enroll", "--data", dir, "--username", "alice"}, 0, "http://localhost:8080/enroll/", ""},
		{"configured public URL", []string{"admin", "enroll", "--data", dir, "--username", "alice", "--public-url", "https://trel.example.org"}, 0, "https://trel.example.org/enroll/", ""},
		{"unknown user", []string{"admin", "enroll", "--data", dir, "--username", "nobody"}, 1, "", "no user named"},
		{"IP address as public URL", []string{"admin", "enroll", "--data", dir, "--username", "alice", "--public-url", "http://127.0.0.1:8080"}, 1, "", "not an IP address"},
		// A missing required flag is a usage error.
		{"username missing", []string{"admin", "enroll", "--data", dir}, 2, "", "username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if tt.prefix != "" && (!strings.HasPrefix(stdout, tt.prefix) || len(strings.TrimSpace(stdout)) != len(tt.prefix)+43) {
				t.Errorf("stdout %q, want a link starting with %s and a 43-character token", stdout, tt.prefix)
			}
			if !strings.Contains(stderr, tt.inStderr) {
				t.Errorf("stderr %q, want it to mention %q", stderr, tt.inStderr)
			}
		})
	}
}

// TestAdminEnrollUsesTheStoredPublicURL: `trel serve` stores its public
// URL; `trel admin enroll` then needs no flag to make a link that works.
func TestAdminEnrollUsesTheStoredPublicURL(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := Main([]string{"admin", "create-user", "--data", dir, "--username", "alice", "--email", "alice@example.org"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("create-user: %s", errb.String())
	}
	app, err := server.Open(context.Background(), dir, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Core.RecordPublicURL(context.Background(), "https://trel.example.org"); err != nil {
		t.Fatal(err)
	}
	app.Close()
	out.Reset()
	if code := Main([]string{"admin", "enroll", "--data", dir, "--username", "alice"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("enroll: %s", errb.String())
	}
	if !strings.HasPrefix(out.String(), "https://trel.example.org/enroll/") {
		t.Errorf("the link %q does not use the stored public URL", out.String())
	}
}
