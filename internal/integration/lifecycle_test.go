package integration

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"trel/client"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/testutil/archivetest"
	"trel/internal/testutil/gpgtest"
)

// TestReleaseLifecycle is issue 7's story through the CLI against a real
// server: policy set, release composed, signed with `trel sign`, checks
// pass, a concern acknowledged, vote started, votes cast, resolved,
// published; the downloads tree and manifest are checked, and each
// refusal along the way.
func TestReleaseLifecycle(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	// A test project: no minimum vote duration, one binding +1 suffices.
	out := w.alice.ok(t, "policy", "set", "widget", "--min-vote-hours", "0", "--min-binding-votes", "1", "--require", "openpgp")
	if !strings.Contains(out, "version 1") {
		t.Fatalf("policy set: %s", out)
	}
	w.bob.fails(t, 1, []string{"member"}, "policy", "set", "widget", "--min-vote-hours", "1")
	if out := w.carol.ok(t, "policy", "history", "widget"); !strings.Contains(out, "version 1, by alice") {
		t.Fatalf("history: %s", out)
	}
	w.alice.fails(t, 1, []string{"require"}, "policy", "set", "widget", "--require", "nothing")

	w.alice.ok(t, "release", "start", "widget", "1.0")
	g := gpgtest.New(t)
	fpr := g.GenKey(t, "", "Alice <alice@example.org>", "ed25519", "sign", "2y")
	dir := t.TempDir()
	secret := filepath.Join(dir, "alice-secret.asc")
	writeFile(t, secret, g.Run(t, "", "--armor", "--export-secret-keys", fpr))
	pub := filepath.Join(dir, "alice.asc")
	writeFile(t, pub, g.Export(t, fpr))
	w.alice.ok(t, "keys", "add", pub, "--committee", "demo")
	proof := filepath.Join(dir, "challenge.asc")
	writeFile(t, proof, g.Sign(t, "", fpr, []byte(w.alice.ok(t, "keys", "challenge", fpr))))
	w.alice.ok(t, "keys", "prove", fpr, "--signature", proof)

	artifact := archivetest.SourceTarGz(t, "widget-1.0-src", pseudoRandom("lifecycle", 2<<20))
	art := filepath.Join(dir, "widget-1.0-src.tar.gz")
	writeFile(t, art, artifact)
	d := sha512.Sum512(artifact)
	writeFile(t, art+".sha512", []byte(hex.EncodeToString(d[:])+"  widget-1.0-src.tar.gz\n"))
	writeFile(t, art+".sha1", []byte("0000000000000000000000000000000000000000  widget-1.0-src.tar.gz\n")) // deprecated: a concern
	w.bob.ok(t, "upload", "widget", "1.0", art, art+".sha512", art+".sha1")

	// Unsigned: the policy requires OpenPGP, so the vote cannot start.
	if r := w.bob.run(t, "checks", "wait", "widget", "1.0", "--timeout", "60s"); r.code != 1 || !strings.Contains(r.stdout, "requires an OpenPGP signature") {
		t.Fatalf("unsigned: %s", r)
	}
	w.alice.fails(t, 1, []string{"vote cannot start", "blocker"}, "vote", "start", "widget", "1.0")

	w.alice.ok(t, "sign", art, "--key", secret, "--upload", "widget/1.0")
	if r := w.bob.run(t, "checks", "wait", "widget", "1.0", "--timeout", "60s"); r.code != 0 {
		t.Fatalf("signed: %s", r)
	}
	// The deprecated .sha1 is a concern that must be acknowledged first,
	// by a release manager.
	w.alice.fails(t, 1, []string{"unacknowledged concern", "trel checks ack"}, "vote", "start", "widget", "1.0")
	w.bob.fails(t, 1, []string{"release manager"}, "checks", "ack", "widget", "1.0", "--checker", "paths", "--path", "widget-1.0-src.tar.gz.sha1", "--comment", "ok")
	w.alice.ok(t, "checks", "ack", "widget", "1.0", "--checker", "paths", "--path", "widget-1.0-src.tar.gz.sha1", "--comment", "kept for old mirrors")
	w.bob.fails(t, 1, []string{"release manager"}, "vote", "start", "widget", "1.0")
	if out := w.alice.ok(t, "vote", "start", "widget", "1.0"); !strings.Contains(out, "revision 2") {
		t.Fatalf("vote start: %s", out)
	}

	// The voted revision is frozen.
	w.bob.fails(t, 1, []string{"no longer a draft"}, "upload", "widget", "1.0", art+".sha512", "--to", "late")
	w.bob.ok(t, "vote", "cast", "widget", "1.0", "+1", "--comment", "checked the source")
	w.carol.ok(t, "vote", "cast", "widget", "1.0", "-1")
	var tally domain.Tally
	w.carol.okJSON(t, &tally, "vote", "tally", "widget", "1.0")
	if tally.BindingPlus != 0 || tally.NonBindingPlus != 1 || tally.NonBindingMin != 1 || tally.Passing {
		t.Fatalf("before alice: %+v", tally)
	}
	w.alice.ok(t, "vote", "cast", "widget", "1.0", "+1")
	w.alice.fails(t, 1, []string{"phase candidate", "vote passed"}, "release", "publish", "widget", "1.0")
	if out := w.alice.ok(t, "vote", "resolve", "widget", "1.0"); !strings.Contains(out, "passed") {
		t.Fatalf("resolve: %s", out)
	}

	var m core.Manifest
	w.alice.okJSON(t, &m, "release", "publish", "widget", "1.0")
	if m.Revision != 2 || len(m.Files) != 4 || m.Vote == nil || m.Vote.BindingPlus != 1 || m.LogIndex == nil {
		t.Fatalf("manifest: %+v", m)
	}
	signed := false
	for _, f := range m.Files {
		if f.Path == "widget-1.0-src.tar.gz" {
			signed = len(f.Signers) == 1 && f.Signers[0]["fingerprint"] == fpr && f.SHA512 == hex.EncodeToString(d[:])
		}
	}
	if !signed {
		t.Fatalf("the manifest does not name the signer: %+v", m.Files)
	}
	get := func(p string) (int, []byte) {
		resp, err := http.Get(w.srv.url + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, body := get("/downloads/demo/widget/1.0/widget-1.0-src.tar.gz"); code != 200 || string(body) != string(artifact) {
		t.Fatalf("download: %d, %d bytes", code, len(body))
	}
	code, body := get("/downloads/demo/widget/1.0/trel-release-manifest.json")
	var served core.Manifest
	if code != 200 || json.Unmarshal(body, &served) != nil || served.Revision != 2 {
		t.Fatalf("manifest: %d %s", code, body)
	}
	if code, body := get("/downloads/demo/KEYS"); code != 200 || !strings.Contains(string(body), fpr) {
		t.Fatalf("KEYS next to the release: %d", code)
	}
	// Published: immutable, public, history kept.
	w.alice.fails(t, 1, []string{"no longer a draft"}, "upload", "widget", "1.0", art+".sha512", "--to", "late")
	w.alice.fails(t, 1, []string{"phase released"}, "release", "publish", "widget", "1.0")
	anon := client.New(w.srv.url, "")
	rel, err := anon.Release(ctx, "widget", "1.0")
	if err != nil || rel.Phase != domain.PhaseReleased {
		t.Fatalf("public release: %+v %v", rel, err)
	}
	if revs, err := anon.ListRevisions(ctx, "widget", "1.0"); err != nil || len(revs) != 2 {
		t.Fatalf("history: %d %v", len(revs), err)
	}
}

// TestFailedVoteReturnsToDraft: a vote without enough binding +1 fails and
// the release becomes a draft again; a new vote is a new round.
func TestFailedVoteReturnsToDraft(t *testing.T) {
	w := newWorld(t)
	w.alice.ok(t, "policy", "set", "widget", "--min-vote-hours", "0", "--min-binding-votes", "1",
		"--unsigned", "*.txt=notes are fine", "--checksums", "sha512")
	w.alice.ok(t, "release", "start", "widget", "2.0")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "NOTES.txt"), []byte("notes"))
	w.bob.ok(t, "upload", "widget", "2.0", filepath.Join(dir, "NOTES.txt"))
	// A release needs one signed artifact beside its notes.
	s := aliceSigner(t, w)
	artifact := archivetest.SourceTarGz(t, "widget-2.0", pseudoRandom("widget-2.0", 4096))
	d := sha512.Sum512(artifact)
	put(t, w.aliceC, "2.0", map[string][]byte{
		"widget-2.0.tar.gz":        artifact,
		"widget-2.0.tar.gz.asc":    s.g.Sign(t, "", s.fpr, artifact),
		"widget-2.0.tar.gz.sha512": []byte(hex.EncodeToString(d[:]) + "  widget-2.0.tar.gz\n"),
	})
	if r := w.bob.run(t, "checks", "wait", "widget", "2.0", "--timeout", "60s"); r.code != 0 || !strings.Contains(r.stdout, "NOTES.txt may be published without signature") {
		t.Fatalf("checks: %s", r)
	}
	w.alice.ok(t, "vote", "start", "widget", "2.0")
	w.alice.ok(t, "vote", "cast", "widget", "2.0", "-1", "--comment", "missing LICENSE")
	if out := w.alice.ok(t, "vote", "resolve", "widget", "2.0", "--yes"); !strings.Contains(out, "failed") {
		t.Fatalf("resolve: %s", out)
	}
	if out := w.alice.ok(t, "release", "show", "widget", "2.0"); !strings.Contains(out, "draft") {
		t.Fatalf("phase: %s", out)
	}
	if out := w.alice.ok(t, "vote", "start", "widget", "2.0"); !strings.Contains(out, "Vote 2") {
		t.Fatalf("second round: %s", out)
	}
}
