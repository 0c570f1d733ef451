package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"trel/client"
	"trel/internal/domain"
	"trel/internal/testutil/services"
)

// TestMigrateStorage copies an embedded installation to PostgreSQL, S3 and
// a log directory, refuses a second copy into the now non-empty target,
// resumes safely, and a replica on the copy serves the same data to the
// same tokens.
func TestMigrateStorage(t *testing.T) {
	pg, blobs, logDir := services.Postgres(t), services.S3(t), t.TempDir()
	w := newWorld(t)
	dir := t.TempDir()
	w.alice.ok(t, "release", "start", "widget", "1.0")
	artifact := pseudoRandom("migrate", 20<<20) // several S3 parts
	art := filepath.Join(dir, "widget-1.0.tar.gz")
	writeFile(t, art, artifact)
	writeFile(t, art+".sha512", []byte(sha512Line(artifact, "widget-1.0.tar.gz")))
	w.bob.ok(t, "upload", "widget", "1.0", art, art+".sha512")
	w.bob.run(t, "checks", "wait", "widget", "1.0", "--timeout", "60s")
	// Tokens made with tokens (a table that references itself), made
	// in the order opposite to their ids' natural copy order would fail.
	var made struct {
		Token  domain.Token `json:"token"`
		Secret string       `json:"secret"`
	}
	w.bob.okJSON(t, &made, "token", "create", "--label", "ci")
	child := newUser(t, "bob-ci").withToken(w.srv.url, made.Secret)
	child.ok(t, "token", "create", "--label", "ci-2")
	checkpoint, err := os.ReadFile(filepath.Join(w.data, "log", "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	w.srv.stop()

	ops := newUser(t, "operator")
	migrate := []string{"admin", "migrate-storage", "--from-data", w.data, "--database", pg, "--blobs", blobs, "--log-dir", logDir}
	out := ops.ok(t, migrate...)
	for _, want := range []string{"table users", "table revisions", "2 verified by SHA-256", "Copy complete"} {
		if !strings.Contains(out, want) {
			t.Fatalf("migrate-storage output lacks %q:\n%s", want, out)
		}
	}
	ops.fails(t, 1, []string{"already holds data", "--resume"}, migrate...)
	if out := ops.ok(t, append(migrate, "--resume")...); !strings.Contains(out, "blobs: 0 copied, 2 verified") {
		t.Fatalf("resume after a complete copy:\n%s", out)
	}

	replica := startServer(t, filepath.Join(t.TempDir(), "replica"), "--database", pg, "--blobs", blobs, "--log-dir", logDir)
	bob := newUser(t, "bob-on-replica").withToken(replica.url, w.bob.token)
	if out := bob.ok(t, "files", "widget", "1.0"); !strings.Contains(out, "widget-1.0.tar.gz") {
		t.Fatalf("files on the copy: %s", out)
	}
	back := filepath.Join(dir, "back")
	bob.ok(t, "download", "widget", "1.0", "widget-1.0.tar.gz", "-o", back)
	if got, _ := os.ReadFile(back); !bytes.Equal(got, artifact) {
		t.Fatal("the copied artifact differs")
	}
	// The same tree: origin, size and root hash (the note's first lines).
	head := func(cp string) string { return strings.Join(strings.SplitN(cp, "\n", 4)[:3], "\n") }
	if got := httpGet(t, replica.url+"/log/checkpoint"); head(got) != head(string(checkpoint)) {
		t.Fatalf("the copied log's checkpoint:\n%s\nwant\n%s", got, checkpoint)
	}
	// New rows get fresh ids after the copied ones (identities moved on).
	c := client.New(replica.url, w.admin.token)
	if _, err := c.CreateCommittee(t.Context(), "after", "After the copy"); err != nil {
		t.Fatalf("a new row on the copy: %v", err)
	}
	if _, err := c.CreateToken(t.Context(), "after", "1d"); err != nil {
		t.Fatalf("a new token on the copy: %v", err)
	}
}
