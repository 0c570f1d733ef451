package integration

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trel/client"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/testutil/archivetest"
	"trel/internal/testutil/gpgtest"
	"trel/internal/testutil/services"
	"trel/internal/translog"
)

// signer is alice's proven key for the committee "demo".
type signer struct {
	g   *gpgtest.Home
	fpr string
}

func aliceSigner(t *testing.T, w *world) *signer {
	t.Helper()
	ctx := context.Background()
	g := gpgtest.New(t)
	fpr := g.GenKey(t, "", "Alice <alice@example.org>", "ed25519", "sign", "2y")
	if _, err := w.aliceC.AddKeys(ctx, g.Export(t, fpr), []string{"demo"}, false); err != nil {
		t.Fatal(err)
	}
	ch, err := w.aliceC.KeyChallenge(ctx, fpr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.aliceC.ProveKey(ctx, fpr, g.Sign(t, "", fpr, []byte(ch))); err != nil {
		t.Fatal(err)
	}
	return &signer{g: g, fpr: fpr}
}

// put uploads files into one new revision through the API.
func put(t *testing.T, c *client.Client, version string, files map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	var req core.RevisionRequest
	for p, data := range files {
		b, err := c.UploadContent(ctx, "widget", version, bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("uploading %s: %v", p, err)
		}
		req.Changes = append(req.Changes, core.Change{Op: "put", Path: p, SHA256: b.SHA256})
	}
	if _, err := c.CreateRevision(ctx, "widget", version, req); err != nil {
		t.Fatal(err)
	}
}

// previewRelease brings widget VERSION, with a signed artifact and its
// checksum, to the preview phase (its vote passed).
func previewRelease(t *testing.T, w *world, s *signer, version string) {
	t.Helper()
	ctx := context.Background()
	if _, err := w.aliceC.StartRelease(ctx, "widget", version); err != nil {
		t.Fatal(err)
	}
	name := "widget-" + version + ".tar.gz"
	artifact := archivetest.SourceTarGz(t, "widget-"+version, pseudoRandom(name, 64<<10))
	d := sha512.Sum512(artifact)
	put(t, w.aliceC, version, map[string][]byte{
		name:             artifact,
		name + ".asc":    s.g.Sign(t, "", s.fpr, artifact, "--digest-algo", "SHA512"),
		name + ".sha512": []byte(hex.EncodeToString(d[:]) + "  " + name + "\n"),
	})
	waitChecks(t, w.aliceC, version)
	for _, step := range []func() error{
		func() error { _, err := w.aliceC.StartVote(ctx, "widget", version); return err },
		func() error { _, err := w.aliceC.CastVote(ctx, "widget", version, 1, ""); return err },
		func() error { _, err := w.aliceC.ResolveVote(ctx, "widget", version); return err },
	} {
		if err := step(); err != nil {
			t.Fatalf("%s: %v", version, err)
		}
	}
}

func waitChecks(t *testing.T, c *client.Client, version string) *core.ChecksReport {
	t.Helper()
	var rep *core.ChecksReport
	if !eventually(60*time.Second, func() bool {
		var err error
		rep, err = c.Checks(context.Background(), "widget", version, 0)
		return err == nil && rep.Finished
	}) {
		t.Fatalf("the checks of %s did not finish", version)
	}
	return rep
}

// logManifests counts the release-manifest entries in the server's public
// log, read from its static files.
func logManifests(t *testing.T, url string) int {
	t.Helper()
	ctx := context.Background()
	resp, err := http.Get(url + "/log/verifier-key")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fetch, err := translog.HTTPFetcher(url+"/log/", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := translog.NewClient(fetch, strings.TrimSpace(string(key)))
	if err != nil {
		t.Fatal(err)
	}
	var cp *translog.Checkpoint
	if !eventually(10*time.Second, func() bool { cp, err = c.Checkpoint(ctx); return err == nil }) {
		if errors.Is(err, os.ErrNotExist) {
			return 0
		}
		t.Fatal(err)
	}
	n := 0
	for ie, err := range c.Entries(ctx, cp, 0, cp.Size) {
		if err != nil {
			t.Fatal(err)
		}
		if ie.Entry.Kind == translog.KindReleaseManifest {
			n++
		}
	}
	return n
}

// TestPublishSurvivesAKillAtEachStep kills the server (SIGKILL) at each
// step of a publication; after the restart the release is published
// exactly once, its manifest is in the log exactly once and proves its
// inclusion with `trel log verify`, no half-written directory is left, and
// publishing again is refused without touching the log.
func TestPublishSurvivesAKillAtEachStep(t *testing.T) {
	t.Parallel()
	killAtEachStepOfPublish(t)
}

// TestPublishSurvivesAKillAtEachStepOnS3: the same with the blobs and the
// downloads tree in an S3 bucket (the files copied, the manifest last).
func TestPublishSurvivesAKillAtEachStepOnS3(t *testing.T) {
	t.Parallel()
	killAtEachStepOfPublish(t, "--blobs", services.S3(t))
}

func killAtEachStepOfPublish(t *testing.T, serveArgs ...string) {
	ctx := context.Background()
	w := newWorld(t, serveArgs...)
	onDisk := len(serveArgs) == 0
	w.alice.ok(t, "policy", "set", "widget", "--min-vote-hours", "0", "--min-binding-votes", "1")
	s := aliceSigner(t, w)
	steps := []string{"recorded", "logged", "index-recorded", "tree-copied", "tree-written"}
	for i := range steps {
		previewRelease(t, w, s, fmt.Sprintf("%d.0", i+1))
	}
	for i, step := range steps {
		version := fmt.Sprintf("%d.0", i+1)
		t.Run(step, func(t *testing.T) {
			before := logManifests(t, w.srv.url)
			w.srv.stop()
			w.srv.env = []string{"TREL_TEST_CRASH_AT=publish:" + step}
			w.srv = w.srv.restart()
			r := w.alice.run(t, "release", "publish", "widget", version)
			if r.code == 0 {
				t.Fatalf("the publication survived a kill at %s: %s", step, r)
			}
			select {
			case <-w.srv.done:
			case <-time.After(10 * time.Second):
				t.Fatalf("the server did not die at %s", step)
			}
			if step == "tree-copied" && onDisk {
				if !hasPublishTemp(t, w.data) {
					t.Fatalf("a kill before the rename should leave a .publish-* directory (else this step proves nothing)")
				}
			}
			w.srv.env = nil
			w.srv = w.srv.restart()
			rel, err := w.aliceC.Release(ctx, "widget", version)
			if err != nil || rel.Phase != domain.PhaseReleased {
				t.Fatalf("after the restart: %+v %v", rel, err)
			}
			if n := logManifests(t, w.srv.url); n != before+1 {
				t.Fatalf("the log holds %d manifests, want %d", n, before+1)
			}
			if hasPublishTemp(t, w.data) {
				t.Fatal("a .publish-* directory is left")
			}
			w.alice.fails(t, 1, []string{"phase released"}, "release", "publish", "widget", version)
			if n := logManifests(t, w.srv.url); n != before+1 {
				t.Fatalf("a refused retry changed the log: %d manifests", n)
			}
			// The published manifest proves its own inclusion.
			dir := t.TempDir()
			resp, err := http.Get(w.srv.url + "/downloads/demo/widget/" + version + "/trel-release-manifest.json")
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("manifest: %v %v", resp, err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			writeFile(t, filepath.Join(dir, "trel-release-manifest.json"), data)
			out := w.carol.ok(t, "log", "verify", filepath.Join(dir, "trel-release-manifest.json"))
			if !strings.Contains(out, "release manifest at entry") || !strings.Contains(out, "Inclusion proven") {
				t.Fatalf("log verify: %s", out)
			}
			// A changed manifest does not verify.
			writeFile(t, filepath.Join(dir, "trel-release-manifest.json"), bytes.Replace(data, []byte(version), []byte("9.9"), 1))
			w.carol.fails(t, 1, []string{"is not this manifest"}, "log", "verify", filepath.Join(dir, "trel-release-manifest.json"))
		})
	}
}

func hasPublishTemp(t *testing.T, data string) bool {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(data, "downloads", "*", "*", ".publish-*"))
	return len(matches) > 0
}

// TestWhatReachesADownloader is issue 12 from the outside: private keys,
// credentials, hostile and colliding names and the manifest's name are
// refused at upload; binary public keys are accepted and binary private
// keys refused by `trel keys add`; an unsigned .tar.zst blocks the vote
// until the policy or a signature says otherwise; the published tree
// serves every file type whole and in ranges, HTML as a sandboxed
// attachment, and the KEYS file in ranges too.
func TestWhatReachesADownloader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	w.alice.ok(t, "policy", "set", "widget", "--min-vote-hours", "0", "--min-binding-votes", "1")
	if _, err := w.aliceC.StartRelease(ctx, "widget", "1.0"); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(work, name)
		writeFile(t, p, data)
		return p
	}
	revisions := func() int { return revisionCount(t, w.aliceC, "widget", "1.0") }

	t.Run("secrets are refused at upload", func(t *testing.T) {
		g := gpgtest.New(t)
		fpr := g.GenKey(t, "", "Careless <careless@example.org>", "ed25519", "sign", "2y")
		cmd := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(work, "id_ed25519"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
		for name, data := range map[string][]byte{
			"secret.asc": g.Run(t, "", "--armor", "--export-secret-keys", fpr),
			"secret.gpg": g.Run(t, "", "--export-secret-keys", fpr),
			"deploy-key": mustRead(t, filepath.Join(work, "id_ed25519")),
			"npmrc.txt":  []byte("//registry.npmjs.org/:_authToken=npm_R4nd0mT0k3nV4lu3Xyz0123456789abcdEFG\n"),
			"aws.ini":    []byte("[default]\naws_secret_access_key = 9drTJvcXLB89EXsdUfbFqtYsLknz8ZPU5ulH8vRr\n"),
		} {
			r := w.bob.fails(t, 1, []string{"compromised"}, "upload", "widget", "1.0", file(name, data))
			if strings.Contains(r.stderr, string(data[len(data)/2:len(data)/2+8])) {
				t.Errorf("%s: the message echoes the secret", name)
			}
		}
		if n := revisions(); n != 0 {
			t.Fatalf("%d revisions after refused uploads", n)
		}
		// The CLI sends key files as bytes: a binary public key is
		// accepted, a binary private key refused with the warning.
		out := w.bob.ok(t, "keys", "add", file("careless.gpg", g.Run(t, "", "--export", fpr)))
		if !strings.Contains(out, fpr) || !strings.Contains(out, "added") {
			t.Fatalf("binary public key: %s", out)
		}
		w.bob.fails(t, 1, []string{"compromised"}, "keys", "add", filepath.Join(work, "secret.gpg"))
		w.bob.fails(t, 1, []string{"compromised"}, "keys", "add", filepath.Join(work, "deploy-key"))
	})

	t.Run("hostile names are refused, decomposed ones composed", func(t *testing.T) {
		r := w.bob.fails(t, 2, []string{`\u202e`, "bidi"}, "upload", "widget", "1.0", file("evil\u202egz.rat.exe", []byte("MZ")))
		if strings.Contains(r.stderr, "\u202e") {
			t.Error("the message carries the override itself")
		}
		for _, name := range []string{"NUL.txt", "trel-release-manifest.json", "a:b.txt", "notes.txt."} {
			w.bob.fails(t, 2, nil, "upload", "widget", "1.0", file(name, []byte("x")))
		}
		// Straight to the API, past the CLI's own checks.
		b, err := w.bobC.UploadContent(ctx, "widget", "1.0", strings.NewReader("x"), 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"evil\u202egz.rat.exe", "x\u200b.txt", "TREL-RELEASE-MANIFEST.JSON", "COM1"} {
			_, err := w.bobC.CreateRevision(ctx, "widget", "1.0", core.RevisionRequest{Changes: []core.Change{{Op: "put", Path: p, SHA256: b.SHA256}}})
			apiError(t, p, err, 400, "invalid")
		}
		w.bob.ok(t, "upload", "widget", "1.0", file("cafe\u0301.txt", []byte("café\n")))
		if out := w.bob.ok(t, "files", "widget", "1.0"); !strings.Contains(out, "caf\u00e9.txt") {
			t.Fatalf("the NFD name was not composed: %s", out)
		}
		_, err = w.bobC.CreateRevision(ctx, "widget", "1.0", core.RevisionRequest{Changes: []core.Change{{Op: "put", Path: "CAF\u00c9.TXT", SHA256: b.SHA256}}})
		apiError(t, "case collision", err, 409, "conflict", "same file on Windows and macOS")
	})

	t.Run("default-deny content and the signed-artifact rule", func(t *testing.T) {
		w.bob.ok(t, "rm", "widget", "1.0", "caf\u00e9.txt")
		zst := file("widget-1.0.tar.zst", pseudoRandom("zst", 4096))
		notes := file("RELEASE-NOTES.txt", []byte("notes\n"))
		w.bob.ok(t, "upload", "widget", "1.0", zst, notes)
		r := w.bob.run(t, "checks", "wait", "widget", "1.0", "--timeout", "60s")
		if r.code != 1 || !strings.Contains(r.stdout, "widget-1.0.tar.zst has no signature") || !strings.Contains(r.stdout, "RELEASE-NOTES.txt has no signature") {
			t.Fatalf("unsigned .tar.zst and notes: %s", r)
		}
		w.alice.fails(t, 1, []string{"vote cannot start", "widget-1.0.tar.zst"}, "vote", "start", "widget", "1.0")
		out := w.alice.ok(t, "policy", "set", "widget", "--unsigned", "RELEASE-NOTES*.txt=plain-text notes")
		if !strings.Contains(out, "unsigned: RELEASE-NOTES*.txt (plain-text notes)") {
			t.Fatalf("policy set: %s", out)
		}
		w.bob.ok(t, "rm", "widget", "1.0", "widget-1.0.tar.zst")
		r = w.bob.run(t, "checks", "wait", "widget", "1.0", "--timeout", "60s")
		if r.code != 1 || !strings.Contains(r.stdout, "no signed artifact") || strings.Contains(r.stdout, "RELEASE-NOTES.txt has no signature") {
			t.Fatalf("notes alone: %s", r)
		}
		w.alice.fails(t, 1, []string{"no signed artifact"}, "vote", "start", "widget", "1.0")
	})

	t.Run("the published tree serves every type", func(t *testing.T) {
		s := aliceSigner(t, w)
		artifact := pseudoRandom("widget-1.0.tar.zst", 100<<10)
		d := sha512.Sum512(artifact)
		put(t, w.aliceC, "1.0", map[string][]byte{
			"widget-1.0.tar.zst":        artifact,
			"widget-1.0.tar.zst.asc":    s.g.Sign(t, "", s.fpr, artifact, "--digest-algo", "SHA512"),
			"widget-1.0.tar.zst.sha512": []byte(hex.EncodeToString(d[:]) + "  widget-1.0.tar.zst\n"),
			"docs/index.html":           []byte("<script>alert(1)</script>"),
		})
		w.alice.ok(t, "policy", "set", "widget", "--unsigned", "docs/*.html=generated documentation")
		if rep := waitChecks(t, w.aliceC, "1.0"); rep.Summary[domain.StatusBlocker] != 0 {
			t.Fatalf("blockers: %+v", rep.Results)
		}
		w.alice.ok(t, "vote", "start", "widget", "1.0")
		w.alice.ok(t, "vote", "cast", "widget", "1.0", "+1")
		w.alice.ok(t, "vote", "resolve", "widget", "1.0")
		w.alice.ok(t, "release", "publish", "widget", "1.0")
		base := w.srv.url + "/downloads/demo/widget/1.0/"
		want := map[string]string{
			"widget-1.0.tar.zst": "application/zstd", "widget-1.0.tar.zst.asc": "application/pgp-signature",
			"widget-1.0.tar.zst.sha512": "text/plain; charset=utf-8", "RELEASE-NOTES.txt": "application/octet-stream",
			"docs/index.html": "application/octet-stream", "trel-release-manifest.json": "application/json",
		}
		for p, ctype := range want {
			whole := get(t, base+p, nil)
			if whole.code != 200 || whole.header.Get("Content-Type") != ctype || whole.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: %d %q", p, whole.code, whole.header.Get("Content-Type"))
				continue
			}
			part := get(t, base+p, map[string]string{"Range": "bytes=2-", "If-Range": whole.header.Get("ETag")})
			if part.code != 206 || !bytes.Equal(part.body, whole.body[2:]) {
				t.Errorf("%s: range %d", p, part.code)
			}
		}
		html := get(t, base+"docs/index.html", nil)
		if !strings.HasPrefix(html.header.Get("Content-Disposition"), "attachment") || !strings.Contains(html.header.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("HTML in a release: %v", html.header)
		}
		if dir := get(t, base+"docs/", nil); strings.Contains(string(dir.body), "<script>") {
			t.Errorf("docs/ served its index.html: %s", dir.body)
		}
		keys := get(t, w.srv.url+"/downloads/demo/KEYS", nil)
		part := get(t, w.srv.url+"/downloads/demo/KEYS", map[string]string{"Range": "bytes=10-19"})
		if keys.code != 200 || part.code != 206 || !bytes.Equal(part.body, keys.body[10:20]) || keys.header.Get("ETag") == "" {
			t.Errorf("KEYS: %d, range %d", keys.code, part.code)
		}
		if again := get(t, w.srv.url+"/downloads/demo/KEYS", map[string]string{"If-None-Match": keys.header.Get("ETag")}); again.code != 304 {
			t.Errorf("KEYS If-None-Match: %d", again.code)
		}
	})
}

type fetched struct {
	code   int
	header http.Header
	body   []byte
}

func get(t *testing.T, url string, hdr map[string]string) fetched {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fetched{resp.StatusCode, resp.Header, b}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestQuotasAndSweep: trel serve's quotas answer 413 too_large with the
// quota and the usage; content no revision uses is removed by the sweep
// after the grace period, content revisions use stays.
func TestQuotasAndSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, "--release-quota", "10KiB", "--user-quota", "15KiB", "--blob-grace", "2s")
	if _, err := w.aliceC.StartRelease(ctx, "widget", "1.0"); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	used := filepath.Join(work, "used.bin")
	writeFile(t, used, pseudoRandom("used", 6<<10))
	w.bob.ok(t, "upload", "widget", "1.0", used)
	_, err := w.bobC.UploadContent(ctx, "widget", "1.0", bytes.NewReader(pseudoRandom("big", 5<<10)), 5<<10)
	apiError(t, "over the release quota", err, 413, "too_large", "quota of 10.0 KiB", "6.0 KiB used")
	object := func(sha string) string { return filepath.Join(w.data, "blobs", "objects", sha[:2], sha[2:4], sha) }
	if _, err := os.Stat(object(sha256Hex(pseudoRandom("big", 5<<10)))); err != nil {
		t.Fatalf("the refused upload's bytes should be stored until the sweep (else the sweep check proves nothing): %v", err)
	}
	over := filepath.Join(work, "over.bin")
	writeFile(t, over, pseudoRandom("over", 5<<10))
	w.bob.fails(t, 1, []string{"storage quota exceeded", "--release-quota"}, "upload", "widget", "1.0", over)

	// Uploaded, never put into a revision: collected after the grace period.
	unused, err := w.bobC.UploadContent(ctx, "widget", "1.0", strings.NewReader("never used\n"), -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(object(unused.SHA256)); err != nil {
		t.Fatal(err)
	}
	if !eventually(20*time.Second, func() bool { _, err := os.Stat(object(unused.SHA256)); return errors.Is(err, os.ErrNotExist) }) {
		t.Fatal("unused content was not collected")
	}
	if _, err := os.Stat(object(sha256Hex(pseudoRandom("used", 6<<10)))); err != nil {
		t.Fatalf("content a revision uses was collected: %v", err)
	}
	r := w.bob.run(t, "download", "widget", "1.0", "used.bin", "-o", filepath.Join(work, "back.bin"))
	if r.code != 0 {
		t.Fatal(r)
	}
	// The bytes of the uploads the quota refused were never recorded: the
	// sweep removes them too.
	for _, seed := range []string{"big", "over"} {
		sha := sha256Hex(pseudoRandom(seed, 5<<10))
		if !eventually(20*time.Second, func() bool { _, err := os.Stat(object(sha)); return errors.Is(err, os.ErrNotExist) }) {
			t.Errorf("the refused upload %q left its bytes", seed)
		}
	}
}
