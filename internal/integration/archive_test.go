package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"trel/internal/domain"
	"trel/internal/testutil/archivetest"
)

// TestArchiveChecksThroughTheCLI: the archive policy fields through `trel
// policy set`, an incubating committee through `trel committee
// incubating`, the results in `trel checks`, and `trel verify --archive`
// on the downloader's machine, against a local tagged repository.
func TestArchiveChecksThroughTheCLI(t *testing.T) {
	w := newWorld(t)
	w.alice.fails(t, 2, []string{"invalid size"}, "policy", "set", "widget", "--max-unpacked-size", "lots")
	w.alice.fails(t, 1, []string{"source repository", "https"}, "policy", "set", "widget", "--source-repo", "file:///etc", "--source-tag", "v{version}")
	w.alice.fails(t, 1, []string{"{version}"}, "policy", "set", "widget", "--source-repo", "https://git.example.org/w.git", "--source-tag", "v1")
	out := w.alice.ok(t, "policy", "set", "widget", "--license", "Apache-2.0", "--allowed-licenses", "MIT,BSD-3-Clause",
		"--binary-pattern", "*-bin.*", "--binary-pattern", "*.jar", "--source-pattern", "*-src.*",
		"--header-ignore", "docs/**", "--max-unpacked-size", "64MiB", "--max-members", "1000", "--max-ratio", "100")
	if !strings.Contains(out, "third-party licences allowed: MIT,BSD-3-Clause") || !strings.Contains(out, "unpacked 67108864 bytes, 1000 members, ratio 100") {
		t.Fatalf("policy set: %s", out)
	}
	var pol domain.Policy
	w.carol.okJSON(t, &pol, "policy", "show", "widget")
	if pol.Archive.MaxMembers != 1000 || strings.Join(pol.BinaryPatterns, " ") != "*-bin.* *.jar" || pol.Archive.HeaderIgnore[0] != "docs/**" {
		t.Fatalf("policy: %+v", pol)
	}

	w.alice.fails(t, 1, []string{"administrator"}, "committee", "incubating", "demo")
	if out := w.admin.ok(t, "committee", "incubating", "demo"); !strings.Contains(out, "must carry a DISCLAIMER") {
		t.Fatalf("incubating: %s", out)
	}
	if out := w.carol.ok(t, "committee", "show", "demo"); !strings.Contains(out, "Incubating") {
		t.Fatalf("show: %s", out)
	}

	w.alice.ok(t, "release", "start", "widget", "3.0")
	dir := t.TempDir()
	art := filepath.Join(dir, "widget-3.0-src.tar.gz")
	writeFile(t, art, archivetest.SourceTarGz(t, "widget-3.0-src", nil))
	w.bob.ok(t, "upload", "widget", "3.0", art)
	r := w.bob.run(t, "checks", "wait", "widget", "3.0", "--timeout", "60s")
	if r.code != 1 || !strings.Contains(r.stdout, "no DISCLAIMER") || !strings.Contains(r.stdout, "LICENSE is the Apache-2.0 licence") ||
		!strings.Contains(r.stdout, "all inside widget-3.0-src/") {
		t.Fatalf("checks: %s", r)
	}
	w.admin.ok(t, "committee", "incubating", "demo", "--off")
	r = w.bob.run(t, "checks", "wait", "widget", "3.0", "--timeout", "60s")
	if strings.Contains(r.stdout, "DISCLAIMER") {
		t.Fatalf("after --off: %s", r)
	}

	// Offline: the same checks on the downloaded file, against the tag.
	repo := filepath.Join(dir, "repo")
	os.MkdirAll(repo, 0o755)
	cmd := exec.Command("sh", "-euc", `tar -xzf `+art+` && cd widget-3.0-src && git init -q && git add -A &&
		git -c user.name=rm -c user.email=rm@example.org commit -qm r && git tag v3.0`)
	cmd.Dir = repo
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, msg)
	}
	res := w.carol.run(t, "verify", art, "--archive", "--source-repo", filepath.Join(repo, "widget-3.0-src"), "--source-tag", "v{version}", "--version", "3.0", "--incubating")
	if res.code != 1 || !strings.Contains(res.stdout, "matches tag v3.0") || !strings.Contains(res.stdout, "no DISCLAIMER") {
		t.Fatalf("verify --archive: %s", res)
	}
	w.carol.fails(t, 2, []string{"--source-tag"}, "verify", art, "--archive", "--source-repo", repo)
}
