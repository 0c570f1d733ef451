package integration

import (
	"path/filepath"
	"strings"
	"testing"

	"trel/internal/testutil/archivetest"
)

// TestSigstoreSignUpload: `trel sign --sigstore --upload` against a real
// server that trusts the private instance's root (--sigstore-root): the
// artifact the release lacks and both bundles land as one revision, and the
// checks accept them under a policy that requires Sigstore and trusts the
// signer's identity. A bundle by an identity the project does not trust is
// a blocker.
func TestSigstoreSignUpload(t *testing.T) {
	inst := privateSigstore(t)
	w := newWorld(t, "--sigstore-root", "private="+inst.TrustedRootPath)
	w.alice.ok(t, "policy", "set", "widget", "--require", "sigstore")
	w.alice.ok(t, "sigstore", "identity", "add", "widget", "--issuer", inst.OIDC.URL, "--subject", "alice@example.org")
	w.alice.ok(t, "release", "start", "widget", "1.0")

	dir := t.TempDir()
	tgz, zip := filepath.Join(dir, "widget-1.0.tar.gz"), filepath.Join(dir, "widget-1.0.zip")
	tgzData, zipData := archivetest.SourceTarGz(t, "widget-1.0", pseudoRandom("upload-tgz", 1<<20)), archivetest.SourceZip(t, "widget-1.0", nil)
	writeFile(t, tgz, tgzData)
	writeFile(t, zip, zipData)
	writeFile(t, tgz+".sha512", []byte(sha512Line(tgzData, "widget-1.0.tar.gz")))
	writeFile(t, zip+".sha512", []byte(sha512Line(zipData, "widget-1.0.zip")))
	// The zip is already in the release (in dist/); the tar.gz is not.
	w.bob.ok(t, "upload", "widget", "1.0", zip, zip+".sha512", "--to", "dist")
	w.bob.ok(t, "upload", "widget", "1.0", tgz+".sha512")

	tok := tokenFile(t, inst.OIDC.EmailToken("alice@example.org"))
	out := w.alice.ok(t, append([]string{"sign", tgz, zip, "--sigstore", "--identity-token", "@" + tok, "--upload", "widget/1.0"}, sigstoreArgs(inst)...)...)
	if !strings.Contains(out, "Created revision 3 of widget 1.0") {
		t.Fatalf("sign --upload: %s", out)
	}
	files := w.alice.ok(t, "files", "widget", "1.0")
	for _, want := range []string{"widget-1.0.tar.gz.sigstore.json", "dist/widget-1.0.zip.sigstore.json", "\nwidget-1.0.tar.gz "} {
		if !strings.Contains("\n"+files, want) {
			t.Fatalf("revision 3 lacks %q:\n%s", strings.TrimSpace(want), files)
		}
	}
	if strings.Count(files, "widget-1.0.zip ") != 1 {
		t.Fatalf("the zip, already in the release, was uploaded again:\n%s", files)
	}
	if r := w.bob.run(t, "checks", "wait", "widget", "1.0", "--timeout", "60s"); r.code != 0 {
		t.Fatalf("checks of the signed revision: %s\n%s", r, w.bob.ok(t, "checks", "list", "widget", "1.0"))
	}
	list := w.bob.ok(t, "checks", "list", "widget", "1.0")
	if strings.Count(list, "valid Sigstore signature by alice@example.org") != 2 || !strings.Contains(list, " 0 blocker") {
		t.Fatalf("checks:\n%s", list)
	}

	// Signed by someone the project does not trust: a blocker.
	w.alice.ok(t, "release", "start", "widget", "2.0")
	other := filepath.Join(t.TempDir(), "widget-2.0.tar.gz")
	otherData := archivetest.SourceTarGz(t, "widget-2.0", []byte("two"))
	writeFile(t, other, otherData)
	writeFile(t, other+".sha512", []byte(sha512Line(otherData, "widget-2.0.tar.gz")))
	w.bob.ok(t, "upload", "widget", "2.0", other+".sha512")
	mallory := tokenFile(t, inst.OIDC.EmailToken("mallory@example.org"))
	w.bob.ok(t, append([]string{"sign", other, "--sigstore", "--identity-token", "@" + mallory, "--upload", "widget/2.0"}, sigstoreArgs(inst)...)...)
	if r := w.bob.run(t, "checks", "wait", "widget", "2.0", "--timeout", "60s"); r.code != 1 {
		t.Fatalf("an untrusted signer should be a blocker: %s", r)
	}
	if list := w.bob.ok(t, "checks", "list", "widget", "2.0"); !strings.Contains(list, "mallory@example.org") || !strings.Contains(list, "does not trust") {
		t.Fatalf("checks:\n%s", list)
	}

	// Nothing is signed when the upload cannot work: another file of the
	// same name is in the release.
	clash := filepath.Join(t.TempDir(), "widget-2.0.tar.gz")
	writeFile(t, clash, []byte("different content"))
	r := w.alice.run(t, append([]string{"sign", clash, "--sigstore", "--identity-token", "@" + tok, "--upload", "widget/2.0"}, sigstoreArgs(inst)...)...)
	checkSignFailure(t, r, 2, "with other content")
	if _, err := readFileErr(clash + ".sigstore.json"); err == nil {
		t.Fatal("a bundle was written although the upload was refused up front")
	}
	// Nor when the release already has a bundle for the file.
	again := filepath.Join(t.TempDir(), "widget-1.0.tar.gz")
	writeFile(t, again, tgzData)
	r = w.alice.run(t, append([]string{"sign", again, "--sigstore", "--identity-token", "@" + tok, "--upload", "widget/1.0"}, sigstoreArgs(inst)...)...)
	checkSignFailure(t, r, 2, "already holds widget-1.0.tar.gz.sigstore.json")

	// A release without any file yet: artifact and bundle are revision 1.
	w.alice.ok(t, "release", "start", "widget", "3.0")
	first := filepath.Join(t.TempDir(), "widget-3.0.tar.gz")
	writeFile(t, first, []byte("three"))
	if out := w.alice.ok(t, append([]string{"sign", first, "--sigstore", "--identity-token", "@" + tok, "--upload", "widget/3.0"}, sigstoreArgs(inst)...)...); !strings.Contains(out, "Created revision 1 of widget 3.0 (2 files)") {
		t.Fatalf("first upload: %s", out)
	}
}
