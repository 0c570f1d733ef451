package integration

import (
	"crypto/sha512"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"trel/internal/testutil/archivetest"
	"trel/internal/testutil/gpgtest"
)

// TestClientSign covers `trel sign`: a passphrase-protected key read with
// --passphrase-fd, the registration check before anything is signed, one
// revision with the expected-revision guard, no overwriting, and --gpg.
func TestClientSign(t *testing.T) {
	w := newWorld(t)
	w.alice.ok(t, "release", "start", "widget", "1.0")
	g := gpgtest.New(t)
	fpr := g.GenKey(t, "", "Alice <alice@example.org>", "ed25519", "sign", "2y")
	g.Run(t, "", "--quick-add-key", fpr, "ed25519", "sign", "1y") // a newer signing subkey signs
	dir := t.TempDir()
	secret := filepath.Join(dir, "alice-secret.asc")
	writeFile(t, secret, g.Run(t, "", "--armor", "--export-secret-keys", fpr))

	art := filepath.Join(dir, "widget-1.0.tar.gz")
	data := archivetest.SourceTarGz(t, "widget-1.0", pseudoRandom("sign", 1<<20))
	writeFile(t, art, data)
	d := sha512.Sum512(data)
	writeFile(t, art+".sha512", []byte(hex.EncodeToString(d[:])+"  widget-1.0.tar.gz\n"))
	w.bob.ok(t, "upload", "widget", "1.0", art, art+".sha512", "--to", "dist")

	// Not registered yet: refused before anything is signed.
	w.alice.fails(t, 1, []string{"not registered", "trel keys add"}, "sign", art, "--key", secret, "--upload", "widget/1.0")
	if _, err := os.Stat(art + ".asc"); err == nil {
		t.Fatal("a signature was written although the upload was refused up front")
	}

	pub := filepath.Join(dir, "alice.asc")
	writeFile(t, pub, g.Export(t, fpr))
	w.alice.ok(t, "keys", "add", pub, "--committee", "demo")
	challenge := w.alice.ok(t, "keys", "challenge", fpr)
	cpath := filepath.Join(dir, "c.txt")
	writeFile(t, cpath, []byte(challenge))
	writeFile(t, cpath+".asc", g.Sign(t, "", fpr, []byte(challenge)))
	w.alice.ok(t, "keys", "prove", fpr, "--signature", cpath+".asc")

	out := w.alice.ok(t, "sign", art, "--key", secret, "--upload", "widget/1.0")
	if !strings.Contains(out, "Created revision 2") {
		t.Fatalf("sign --upload: %s", out)
	}
	files := w.alice.ok(t, "files", "widget", "1.0")
	if !strings.Contains(files, "dist/widget-1.0.tar.gz.asc") {
		t.Fatalf("the signature did not land next to its artifact:\n%s", files)
	}
	if r := w.bob.run(t, "checks", "wait", "widget", "1.0", "--timeout", "60s"); r.code != 0 {
		t.Fatalf("checks: %s", r)
	}
	// sqv agrees with the signature trel made.
	keyring := filepath.Join(dir, "ring.gpg")
	writeFile(t, keyring, g.Run(t, "", "--export", fpr))
	if out, err := exec.Command("sqv", "--keyring", keyring, art+".asc", art).CombinedOutput(); err != nil {
		t.Fatalf("sqv rejects trel's signature: %v %s", err, out)
	}
	// Never overwrite.
	w.alice.fails(t, 2, []string{"already exists"}, "sign", art, "--key", secret)

	// --gpg delegates to the user's GnuPG.
	other := filepath.Join(dir, "widget-1.0.zip")
	writeFile(t, other, []byte("zip"))
	w.alice.env = append(w.alice.env, "GNUPGHOME="+g.Dir)
	if out := w.alice.ok(t, "sign", other, "--gpg", "--local-user", fpr); !strings.Contains(out, "widget-1.0.zip.asc") {
		t.Fatalf("sign --gpg: %s", out)
	}
	if out, err := exec.Command("sqv", "--keyring", keyring, other+".asc", other).CombinedOutput(); err != nil {
		t.Fatalf("sqv rejects gpg's signature: %v %s", err, out)
	}
	w.alice.fails(t, 2, []string{"exactly one"}, "sign", other)
}

// TestClientSignWithPassphraseFD signs with a protected key whose
// passphrase comes from a file descriptor, as automation does.
func TestClientSignWithPassphraseFD(t *testing.T) {
	g := gpgtest.New(t)
	g.Run(t, "", "--passphrase", "s3cret", "--quick-gen-key", "Bot <bot@example.org>", "ed25519", "sign", "1y")
	dir := t.TempDir()
	secret := filepath.Join(dir, "bot.asc")
	writeFile(t, secret, g.Run(t, "", "--passphrase", "s3cret", "--armor", "--export-secret-keys", "bot@example.org"))
	file := filepath.Join(dir, "a.txt")
	writeFile(t, file, []byte("payload"))
	u := newUser(t, "bot")

	run := func(pass string) result {
		r, wp, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		wp.WriteString(pass + "\n")
		wp.Close()
		defer r.Close()
		cmd := exec.Command(trelBin, "sign", file, "--key", secret, "--passphrase-fd", "3")
		cmd.Env = baseEnv(u.home)
		cmd.ExtraFiles = []*os.File{r}
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err = cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return result{stdout: out.String(), stderr: errb.String(), code: code}
	}
	if r := run("wrong"); r.code != 1 || !strings.Contains(r.stderr, "passphrase") {
		t.Fatalf("wrong passphrase: %+v", r)
	}
	if _, err := os.Stat(file + ".asc"); err == nil {
		t.Fatal("a wrong passphrase still wrote a signature")
	}
	if r := run("s3cret"); r.code != 0 || !strings.Contains(r.stdout, "a.txt.asc") {
		t.Fatalf("passphrase from fd: %+v", r)
	}
	keyring := filepath.Join(dir, "ring.gpg")
	writeFile(t, keyring, g.Run(t, "", "--export", "bot@example.org"))
	if out, err := exec.Command("sqv", "--keyring", keyring, file+".asc", file).CombinedOutput(); err != nil {
		t.Fatalf("sqv: %v %s", err, out)
	}
}
