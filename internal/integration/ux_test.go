package integration

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"trel/internal/testutil/archivetest"
	"trel/internal/testutil/gpgtest"
)

// votable makes release widget VERSION ready for its vote through the CLI:
// a test-friendly policy, alice's proven key, a source archive with its
// checksum and signature, checks passed.
func votable(t *testing.T, w *world, versions ...string) provenKey {
	t.Helper()
	w.alice.ok(t, "policy", "set", "widget", "--min-vote-hours", "0", "--min-binding-votes", "1")
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
	for _, v := range versions {
		w.alice.ok(t, "release", "start", "widget", v)
		artifact := archivetest.SourceTarGz(t, "widget-"+v, nil)
		art := filepath.Join(dir, "widget-"+v+".tar.gz")
		writeFile(t, art, artifact)
		d := sha512.Sum512(artifact)
		writeFile(t, art+".sha512", []byte(hex.EncodeToString(d[:])+"  widget-"+v+".tar.gz\n"))
		w.alice.ok(t, "upload", "widget", v, art, art+".sha512")
		w.alice.ok(t, "sign", art, "--key", secret, "--upload", "widget/"+v)
		if r := w.alice.run(t, "checks", "wait", "widget", v, "--timeout", "60s"); r.code != 0 {
			t.Fatalf("checks of %s: %s", v, r)
		}
	}
	return provenKey{g: g, fpr: fpr, secret: secret, dir: dir}
}

// provenKey is alice's proven key of votable.
type provenKey struct {
	g           *gpgtest.Home
	fpr, secret string
	dir         string
}

// onTerminal runs trel as u with a pseudo-terminal as standard input and
// error (as a person at a shell), typing answer when the question shows.
func onTerminal(t *testing.T, u *user, answer string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, trelBin, args...)
	cmd.Env = append(append(baseEnv(u.home), "TREL_CONFIG="+u.config), u.env...)
	cmd.Dir = u.home
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var out bytes.Buffer
	cmd.Stdin, cmd.Stderr, cmd.Stdout = tty, tty, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var screen bytes.Buffer
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		answered := false
		for {
			n, err := ptmx.Read(buf)
			screen.Write(buf[:n])
			if !answered && strings.Contains(screen.String(), "[y/N]") {
				ptmx.Write([]byte(answer + "\n"))
				answered = true
			}
			if err != nil {
				close(done)
				return
			}
		}
	}()
	err = cmd.Wait()
	<-done
	r := result{args: args, stdout: out.String(), stderr: screen.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return r
}

// TestReleaseControlsCLI: the basic controls of issue 16 from the command
// line: the vote started with the release manager's own +1, a failing vote
// resolved only after a question on a terminal (or with --yes; --dry-run
// says what would happen), a draft abandoned, a revision restored, the
// release managers and signed files in `release show`, who am I, signing
// out, the account's sessions and passkeys, and the audit log.
func TestReleaseControlsCLI(t *testing.T) {
	w := newWorld(t)
	// The first start says where to open the web interface, and the log
	// library's normal first-start messages do not read like errors.
	if !strings.Contains(w.srv.stdout.String(), "Open http://localhost:8080 in a browser") {
		t.Errorf("serve does not print its public URL:\n%s", w.srv.stdout)
	}
	if s := w.srv.stderr.String(); strings.Contains(s, "Failed to fetch old checkpoint") || strings.Contains(s, "level=ERROR") {
		t.Errorf("serve's first start logs errors:\n%s", s)
	}
	votable(t, w, "1.0", "2.0")

	out := w.alice.ok(t, "vote", "start", "widget", "1.0", "--plus-one", "--comment", "signatures checked")
	if !strings.Contains(out, "Your +1 is recorded") {
		t.Fatalf("vote start --plus-one: %s", out)
	}
	if out := w.carol.ok(t, "vote", "tally", "widget", "1.0"); !strings.Contains(out, "+1 alice") || !strings.Contains(out, "signatures checked") || !strings.Contains(out, "passing") {
		t.Errorf("tally after the start with +1:\n%s", out)
	}
	if out := w.alice.ok(t, "vote", "resolve", "widget", "1.0", "--dry-run"); !strings.Contains(out, "Dry run: resolving now passes the vote") {
		t.Errorf("dry run of a passing vote:\n%s", out)
	}

	// 2.0: nobody votes. A failing vote is not resolved silently.
	w.alice.ok(t, "vote", "start", "widget", "2.0")
	if out := w.alice.ok(t, "vote", "resolve", "widget", "2.0", "--dry-run"); !strings.Contains(out, "FAILS the vote (needs 1 more binding +1)") {
		t.Errorf("dry run of a failing vote:\n%s", out)
	}
	w.alice.fails(t, 2, []string{"not asking on a terminal", "--yes", "needs 1 more binding +1"}, "vote", "resolve", "widget", "2.0")
	if r := onTerminal(t, w.alice, "n", "vote", "resolve", "widget", "2.0"); r.code != 1 || !strings.Contains(r.stderr, "Fail the vote? [y/N]") || !strings.Contains(r.stderr, "nothing was done") {
		t.Errorf("answering no on a terminal: %s", r)
	}
	if out := w.carol.ok(t, "vote", "tally", "widget", "2.0"); !strings.Contains(out, "not passing yet") {
		t.Errorf("the vote was resolved after a no:\n%s", out)
	}
	if r := onTerminal(t, w.alice, "y", "vote", "resolve", "widget", "2.0"); r.code != 0 || !strings.Contains(r.stdout, "The vote failed; the release is a draft again") {
		t.Errorf("answering yes on a terminal: %s", r)
	}

	// release show: managers and, under vote, the signed files.
	w.alice.ok(t, "release", "manager", "add", "widget", "1.0", "bob")
	out = w.alice.ok(t, "release", "show", "widget", "1.0")
	for _, want := range []string{"Managers:  alice, bob", "widget-1.0.tar.gz (", "OpenPGP widget-1.0.tar.gz.asc by alice, key "} {
		if !strings.Contains(out, want) {
			t.Errorf("release show lacks %q:\n%s", want, out)
		}
	}

	// Restore: 2.0 is a draft again; remove the checksum, then restore.
	w.alice.ok(t, "rm", "widget", "2.0", "widget-2.0.tar.gz.sha512")
	w.bob.fails(t, 1, []string{"not 2 as expected"}, "restore", "widget", "2.0", "1", "--expect-revision", "2")
	if out := w.bob.ok(t, "restore", "widget", "2.0", "2"); !strings.Contains(out, "Revision 4 holds the files of revision 2 (3 files)") {
		t.Errorf("restore: %s", out)
	}
	w.carol.fails(t, 1, []string{"committer"}, "restore", "widget", "2.0", "1")

	// Abandon: committee members only, never silently.
	w.bob.fails(t, 1, []string{"member"}, "release", "abandon", "widget", "2.0", "--yes")
	w.alice.fails(t, 2, []string{"add --yes"}, "release", "abandon", "widget", "2.0")
	w.alice.fails(t, 1, []string{"cancel its vote first"}, "release", "abandon", "widget", "1.0", "--yes")

	// Cancel the vote with a reason (release managers): back to draft, the
	// ballots kept in the history with the reason.
	w.carol.fails(t, 1, nil, "vote", "cancel", "widget", "1.0", "--reason", "not mine to cancel")
	w.alice.fails(t, 2, []string{`"reason"`}, "vote", "cancel", "widget", "1.0")
	w.bob.ok(t, "vote", "cancel", "widget", "1.0", "--reason", "the NOTICE year is wrong")
	out = w.alice.ok(t, "vote", "history", "widget", "1.0")
	w.carol.fails(t, 1, nil, "vote", "history", "widget", "1.0") // a draft again: the committee's
	for _, want := range []string{"Vote 1 on revision", "cancelled by bob on", ": the NOTICE year is wrong", "+1 alice", "signatures checked"} {
		if !strings.Contains(out, want) {
			t.Errorf("vote history lacks %q:\n%s", want, out)
		}
	}
	if out := w.alice.ok(t, "release", "show", "widget", "1.0"); !strings.Contains(out, "Phase:     draft") {
		t.Errorf("after the cancel:\n%s", out)
	}
	if out := w.alice.ok(t, "release", "abandon", "widget", "2.0", "--reason", "superseded", "--yes"); !strings.Contains(out, "is deleted") {
		t.Errorf("abandon: %s", out)
	}
	w.alice.fails(t, 1, []string{"no release"}, "release", "show", "widget", "2.0")

	// The audit log, filtered and paged, for administrators.
	out = w.admin.ok(t, "audit", "--action", "release.abandon")
	if !strings.Contains(out, "alice") || !strings.Contains(out, "release:widget/2.0") || strings.Contains(out, "vote.start") {
		t.Errorf("audit --action release.abandon:\n%s", out)
	}
	if out := w.admin.ok(t, "audit", "--limit", "1"); !strings.Contains(out, "Older events match: add --offset 1") {
		t.Errorf("audit --limit 1:\n%s", out)
	}
	w.alice.fails(t, 1, []string{"administrator"}, "audit")

	// whoami, account and logout.
	if out := w.alice.ok(t, "whoami"); !strings.Contains(out, w.srv.url+" as alice <alice@example.org>") {
		t.Errorf("whoami: %s", out)
	}
	if out := w.alice.ok(t, "account", "sessions"); !strings.Contains(out, "No browser is signed in as you") {
		t.Errorf("account sessions: %s", out)
	}
	w.alice.fails(t, 1, []string{"no session 99"}, "account", "end-session", "99")
	w.alice.fails(t, 2, []string{"number"}, "account", "rename-passkey", "laptop", "x")

	dana := newUser(t, "dana")
	dana.runIn(t, dana.home, w.alice.token+"\n", "login", "--server", w.srv.url)
	if out := dana.ok(t, "whoami"); !strings.Contains(out, "as alice") {
		t.Fatalf("whoami after login: %s", out)
	}
	if out := dana.ok(t, "logout", "--revoke"); !strings.Contains(out, "It is revoked on the server") {
		t.Errorf("logout --revoke: %s", out)
	}
	dana.fails(t, 1, []string{"no token"}, "whoami")
	w.alice.fails(t, 1, []string{"revoked"}, "whoami")
	if b, err := os.ReadFile(dana.config); err != nil || strings.Contains(string(b), "trel_") || !strings.Contains(string(b), w.srv.url) {
		t.Errorf("the configuration after logout: %s %v", b, err)
	}
}

// TestSignUploadCLI: `trel sign --upload` uploads the artifacts the
// release does not hold yet with their signatures, refuses a signature of
// a local file that differs from the release's file of the same name
// (saying the exact command), and refuses a key the server knows is
// revoked; errors come as JSON with --json.
func TestSignUploadCLI(t *testing.T) {
	w := newWorld(t)
	k := votable(t, w)
	w.alice.ok(t, "release", "start", "widget", "3.0")
	art := filepath.Join(k.dir, "widget-3.0.tar.gz")
	writeFile(t, art, archivetest.SourceTarGz(t, "widget-3.0", nil))
	out := w.alice.ok(t, "sign", art, "--key", k.secret, "--upload", "widget/3.0")
	if !strings.Contains(out, "Created revision 1 of widget 3.0 (2 files)") {
		t.Fatalf("sign --upload of an artifact the release lacks: %s", out)
	}
	// Another file of the same name: the signature would not verify there.
	other := filepath.Join(t.TempDir(), "widget-3.0.tar.gz")
	writeFile(t, other, []byte("other bytes"))
	w.alice.fails(t, 1, []string{"is not the file you signed", "trel upload widget 3.0 " + other}, "sign", other, "--key", k.secret, "--upload", "widget/3.0")
	if _, err := os.Stat(other + ".asc"); err != nil {
		t.Errorf("the local signature should stay for the user: %v", err)
	}

	// The key is revoked (its revocation uploaded): signing for upload is
	// refused before anything is signed.
	revs, err := filepath.Glob(filepath.Join(k.g.Dir, "openpgp-revocs.d", "*.rev"))
	if err != nil || len(revs) != 1 {
		t.Fatalf("gpg's revocation certificate: %v %v", revs, err)
	}
	cert, err := os.ReadFile(revs[0])
	if err != nil {
		t.Fatal(err)
	}
	fixed := strings.Replace(string(cert), ":-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP PUBLIC KEY BLOCK-----", 1)
	rev := filepath.Join(k.dir, "rev.asc")
	writeFile(t, rev, []byte(fixed))
	k.g.Run(t, "", "--import", rev)
	pub := filepath.Join(k.dir, "revoked.asc")
	writeFile(t, pub, k.g.Export(t, k.fpr))
	w.alice.ok(t, "keys", "add", pub, "--committee", "demo")
	third := filepath.Join(t.TempDir(), "widget-3.0-extra.tar.gz")
	writeFile(t, third, archivetest.SourceTarGz(t, "widget-3.0-extra", nil))
	r := w.alice.fails(t, 1, []string{"was revoked on"}, "sign", third, "--key", k.secret, "--upload", "widget/3.0", "--json")
	var je struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Exit    int    `json:"exit"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &je); err != nil || je.Error.Exit != 1 || !strings.Contains(je.Error.Message, "was revoked on") {
		t.Errorf("--json error: %q (%v)", r.stdout, err)
	}
	if _, err := os.Stat(third + ".asc"); err == nil {
		t.Error("a file was signed with a revoked key")
	}
	// A refusal by the server keeps its code in JSON.
	r = w.bob.fails(t, 1, []string{"member"}, "release", "abandon", "widget", "3.0", "--yes", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &je); err != nil || je.Error.Code != "forbidden" {
		t.Errorf("--json server error: %q (%v)", r.stdout, err)
	}
}
