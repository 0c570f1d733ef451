package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"trel/client"
	"trel/internal/core"
	"trel/internal/domain"
)

// TestRefusals checks that every rejected request gets the right status or
// exit code and a helpful message, and leaves nothing half-written: the
// revisions, the latest manifest and the audit trail of uploads are exactly
// as before.
func TestRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, "--max-file-size", "1MiB")
	url := w.srv.url
	if _, err := w.aliceC.StartRelease(ctx, "widget", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(w.bob.home, "work")
	writeFile(t, filepath.Join(work, "good.txt"), []byte("good\n"))
	if out := w.bob.ok(t, "upload", "widget", "1.0.0", filepath.Join(work, "good.txt")); !strings.Contains(out, "Created revision 1") {
		t.Fatalf("baseline upload printed %q", out)
	}
	latest, err := w.bobC.Revision(ctx, "widget", "1.0.0", 0)
	if err != nil {
		t.Fatal(err)
	}
	uploads := func() int {
		evs, err := w.adminC.Audit(ctx, 1000)
		if err != nil {
			t.Fatalf("reading the audit log: %v", err)
		}
		n := 0
		for _, e := range evs {
			if e.Action == "file.upload" {
				n++
			}
		}
		return n
	}
	// unchanged asserts that nothing was written since the baseline.
	baseUploads := uploads()
	unchanged := func(what string) {
		t.Helper()
		if n := revisionCount(t, w.adminC, "widget", "1.0.0"); n != 1 {
			t.Errorf("%s: the release now has %d revisions, want 1", what, n)
		}
		got, err := w.adminC.Revision(ctx, "widget", "1.0.0", 0)
		if err != nil || !reflect.DeepEqual(got, latest) {
			t.Errorf("%s: the latest revision changed: %+v (%v)", what, got, err)
		}
		if n := uploads(); n != baseUploads {
			t.Errorf("%s: %d file uploads were recorded, want %d", what, n, baseUploads)
		}
		if tmp := dirEntries(t, filepath.Join(w.data, "blobs", "tmp")); len(tmp) != 0 {
			// A refused upload may still be finishing on the server.
			if !eventually(5*time.Second, func() bool { return len(dirEntries(t, filepath.Join(w.data, "blobs", "tmp"))) == 0 }) {
				t.Errorf("%s: the blob tmp directory holds %v", what, tmp)
			}
		}
	}

	t.Run("path traversal via the CLI", func(t *testing.T) {
		writeFile(t, filepath.Join(work, "tree", "ok.txt"), []byte("ok\n"))
		writeFile(t, filepath.Join(work, "tree", ".hidden"), []byte("secret\n"))
		writeFile(t, filepath.Join(work, "a.txt"), []byte("a\n"))
		writeFile(t, filepath.Join(work, `back\slash.txt`), []byte("b\n"))
		writeFile(t, filepath.Join(work, ".env"), []byte("PASSWORD=x\n"))
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"a.txt", "--to", "../outside"}, `"." and ".." segments are not allowed`},
			{[]string{"a.txt", "--to", "dist/../../etc"}, `"." and ".." segments are not allowed`},
			{[]string{"a.txt", "--to", "/etc"}, "absolute paths are not allowed"},
			{[]string{"a.txt", "--to", "a//b"}, "empty path segments"},
			{[]string{"a.txt", "--to", `win\dir`}, "backslashes are not allowed"},
			{[]string{`back\slash.txt`}, "backslashes are not allowed"},
			{[]string{"a.txt", ".env"}, "dotfiles and dot-directories are not allowed"},
			{[]string{"a.txt", "--to", ".git"}, "dotfiles and dot-directories are not allowed"},
			// One bad file in a directory fails the whole upload up front.
			{[]string{"a.txt", "tree"}, "dotfiles and dot-directories are not allowed"},
		} {
			args := append([]string{"upload", "widget", "1.0.0"}, c.args...)
			r := w.bob.runIn(t, work, "", args...)
			checkFailure(t, r, 2, c.want)
			unchanged(strings.Join(c.args, " "))
		}
		w.bob.fails(t, 1, []string{`".." segments`}, "rm", "widget", "1.0.0", "../good.txt")
		w.bob.fails(t, 1, []string{"absolute paths"}, "mv", "widget", "1.0.0", "good.txt", "/etc/passwd")
		w.bob.fails(t, 1, []string{"dotfiles"}, "mv", "widget", "1.0.0", "good.txt", ".good.txt")
		unchanged("rm/mv with bad paths")
	})

	t.Run("path traversal via the API", func(t *testing.T) {
		// Content that was really uploaded to this release: only the
		// paths are wrong. This upload is recorded, so re-baseline.
		blob, err := w.bobC.UploadContent(ctx, "widget", "1.0.0", strings.NewReader("payload\n"), -1)
		if err != nil {
			t.Fatal(err)
		}
		baseUploads = uploads()
		bad := []struct{ path, want string }{
			{"..", `"." and ".." segments are not allowed`},
			{"../etc/passwd", `"." and ".." segments are not allowed`},
			{"dist/../../etc/passwd", `"." and ".." segments are not allowed`},
			{"./a.txt", `"." and ".." segments are not allowed`},
			{"/etc/passwd", "absolute paths are not allowed"},
			{`dist\evil.txt`, "backslashes are not allowed"},
			{`..\..\windows\system32`, "backslashes are not allowed"},
			{"a\x00b", "NUL or control characters"},
			{"a\nb.txt", "NUL or control characters"},
			{"a\rb.txt", "NUL or control characters"},
			{"a\x1bb.txt", "NUL or control characters"},
			{"a\u0085b.txt", "NUL or control characters"},
			{"a//b.txt", "empty path segments"},
			{"dist/", "empty path segments"},
			{"", "the path is empty"},
			{".htaccess", "dotfiles and dot-directories are not allowed"},
			{"dist/.git/config", "dotfiles and dot-directories are not allowed"},
			{strings.Repeat("d/", 16) + "f", "more than 16 directories deep"},
			{strings.Repeat("x", 256), "longer than 255 bytes"},
			{strings.Repeat("abcdefgh/", 120) + "f", "longer than 1024 bytes"},
		}
		for _, c := range bad {
			what := "put " + strconv.Quote(c.path)
			// A good change and a bad one: all or nothing.
			_, err := w.bobC.CreateRevision(ctx, "widget", "1.0.0", core.RevisionRequest{Changes: []core.Change{
				{Op: "put", Path: "fine.txt", SHA256: blob.SHA256},
				{Op: "put", Path: c.path, SHA256: blob.SHA256},
			}})
			apiError(t, what, err, 400, "invalid", "invalid path", c.want)
			if err != nil && strings.ContainsAny(err.Error(), "\x00\n\r\x1b") {
				t.Errorf("%s: the message echoes control characters: %q", what, err.Error())
			}
			_, err = w.bobC.CreateRevision(ctx, "widget", "1.0.0", core.RevisionRequest{Changes: []core.Change{{Op: "move", From: "good.txt", To: c.path}}})
			apiError(t, "move to "+strconv.Quote(c.path), err, 400, "invalid", c.want)
			_, err = w.bobC.CreateRevision(ctx, "widget", "1.0.0", core.RevisionRequest{Changes: []core.Change{{Op: "delete", Path: c.path}}})
			apiError(t, "delete "+strconv.Quote(c.path), err, 400, "invalid", c.want)
		}
		// Downloads validate their path too.
		for _, p := range []string{".htaccess", "a%5Cb", "a%00b"} {
			resp := rawRequest(t, "GET", url+"/api/v1/projects/widget/releases/1.0.0/revisions/1/files/"+p, w.bob.token, nil)
			expectError(t, "download "+p, resp, 400, "invalid", "invalid path")
		}
		// Other all-or-nothing refusals of a multi-change request.
		for _, c := range []struct {
			what    string
			changes []core.Change
			status  int
			code    string
			want    string
		}{
			{"content never uploaded", []core.Change{{Op: "put", Path: "x.txt", SHA256: strings.Repeat("ab", 32)}}, 400, "invalid", "was not uploaded to this release"},
			{"removing a missing file", []core.Change{{Op: "put", Path: "fine.txt", SHA256: blob.SHA256}, {Op: "delete", Path: "missing.txt"}}, 404, "not_found", `cannot remove "missing.txt"`},
			{"moving onto an existing file", []core.Change{{Op: "put", Path: "fine.txt", SHA256: blob.SHA256}, {Op: "move", From: "good.txt", To: "fine.txt"}}, 409, "conflict", "already exists"},
			{"a file that is also a directory", []core.Change{{Op: "put", Path: "good.txt/inner", SHA256: blob.SHA256}}, 409, "conflict", "cannot be both a file and a directory"},
			{"an unknown operation", []core.Change{{Op: "chmod", Path: "good.txt"}}, 400, "invalid", `unknown change "chmod"`},
			{"no changes", nil, 400, "invalid", "no changes given"},
		} {
			_, err := w.bobC.CreateRevision(ctx, "widget", "1.0.0", core.RevisionRequest{Changes: c.changes})
			apiError(t, c.what, err, c.status, c.code, c.want)
		}
		resp := rawRequest(t, "POST", url+"/api/v1/projects/widget/releases/1.0.0/revisions", w.bob.token,
			strings.NewReader(`{"changes":[{"op":"put","path":"x","sha256":"`+blob.SHA256+`"}],"overwrite":true}`))
		expectError(t, "unknown JSON field", resp, 400, "invalid", "not valid JSON")
		unchanged("API path refusals")
	})

	t.Run("oversize upload", func(t *testing.T) {
		objects := checkObjects(t, w.data)
		big := pseudoRandom("big", 1<<20+1)
		writeFile(t, filepath.Join(work, "big.bin"), big)
		// One file at a time: big.bin goes first and its refusal stops the
		// command before good.txt is sent. (With several at once good.txt
		// may be stored, invisible, before the refusal; no revision either way.)
		r := w.bob.runIn(t, work, "", "upload", "widget", "1.0.0", "good.txt", "big.bin", "--parallel", "1")
		checkFailure(t, r, 1, "larger than the limit of 1048576 bytes", "--max-file-size")
		// Without a declared length the server counts for itself.
		_, err := w.bobC.UploadContent(ctx, "widget", "1.0.0", bytes.NewReader(pseudoRandom("bigger", 3<<20)), -1)
		apiError(t, "chunked oversize upload", err, 413, "too_large", "larger than the limit of 1048576 bytes")
		_, err = w.bobC.UploadContent(ctx, "widget", "1.0.0", bytes.NewReader(big), int64(len(big)))
		apiError(t, "oversize upload with Content-Length", err, 413, "too_large", "larger than the limit")
		// Far more than the socket buffers hold: the server answers before
		// reading the body, and the client must still see that answer.
		_, err = w.bobC.UploadContent(ctx, "widget", "1.0.0", bytes.NewReader(make([]byte, 32<<20)), 32<<20)
		apiError(t, "32 MiB upload with Content-Length", err, 413, "too_large", "larger than the limit")
		unchanged("oversize uploads")
		if n := checkObjects(t, w.data); n != objects {
			t.Errorf("refused uploads must store nothing; the blob store holds %d objects, want %d", n, objects)
		}
		// Exactly the limit is fine.
		exact := big[:1<<20]
		b, err := w.bobC.UploadContent(ctx, "widget", "1.0.0", bytes.NewReader(exact), -1)
		if err != nil || b.Size != 1<<20 || b.SHA256 != sha256Hex(exact) {
			t.Errorf("an upload of exactly --max-file-size should be accepted: %+v %v", b, err)
		}
		baseUploads = uploads()
	})

	t.Run("invalid versions", func(t *testing.T) {
		for _, v := range []string{"", "1..0", "-1", "1.0-", ".1", "1.0 beta", "1/0", "../1", "v1_0", "1.0\n", "é", strings.Repeat("1", 65)} {
			_, err := w.aliceC.StartRelease(ctx, "widget", v)
			apiError(t, "version "+strconv.Quote(v), err, 400, "invalid", "version", "for example 1.2.0-rc1")
		}
		w.alice.fails(t, 1, []string{`invalid version "1..0"`, "for example 1.2.0-rc1"}, "release", "start", "widget", "1..0")
		rels, err := w.aliceC.ListReleases(ctx, "widget")
		if err != nil || len(rels) != 1 {
			t.Errorf("invalid versions must not create releases: %+v %v", rels, err)
		}
	})

	t.Run("duplicate release", func(t *testing.T) {
		_, err := w.aliceC.StartRelease(ctx, "widget", "1.0.0")
		apiError(t, "duplicate release", err, 409, "conflict", "release widget 1.0.0 already exists")
		w.alice.fails(t, 1, []string{"already exists", "trel upload"}, "release", "start", "widget", "1.0.0")
		unchanged("duplicate release")
		rel, err := w.aliceC.Release(ctx, "widget", "1.0.0")
		if err != nil || rel.LatestRevision != 1 || rel.CreatedBy != "alice" {
			t.Errorf("a refused duplicate must leave the release alone: %+v %v", rel, err)
		}
	})

	t.Run("unknown project or release", func(t *testing.T) {
		_, err := w.aliceC.StartRelease(ctx, "nope", "1.0.0")
		apiError(t, "start in an unknown project", err, 404, "not_found", "nope")
		w.alice.fails(t, 1, []string{"nope"}, "release", "start", "nope", "1.0.0")
		_, err = w.bobC.UploadContent(ctx, "nope", "1.0.0", strings.NewReader("x"), 1)
		apiError(t, "upload to an unknown project", err, 404, "not_found")
		_, err = w.bobC.UploadContent(ctx, "widget", "9.9.9", strings.NewReader("x"), 1)
		apiError(t, "upload to an unknown release", err, 404, "not_found", "9.9.9")
		writeFile(t, filepath.Join(work, "x.txt"), []byte("x\n"))
		w.bob.fails(t, 1, []string{"9.9.9"}, "upload", "widget", "9.9.9", filepath.Join(work, "x.txt"))
		_, err = w.bobC.Revision(ctx, "widget", "1.0.0", 7)
		apiError(t, "unknown revision", err, 404, "not_found")
		resp := rawRequest(t, "GET", url+"/api/v1/nothing-here", "", nil)
		expectError(t, "unknown endpoint", resp, 404, "not_found", "openapi.json")
		unchanged("unknown project or release")
	})

	t.Run("missing token", func(t *testing.T) {
		anon := client.New(url, "")
		_, err := anon.CreateCommittee(ctx, "other", "Other")
		apiError(t, "anonymous committee create", err, 401, "unauthenticated", "sign in")
		_, err = anon.StartRelease(ctx, "widget", "2.0.0")
		apiError(t, "anonymous release start", err, 401, "unauthenticated", "trel login")
		_, err = anon.UploadContent(ctx, "widget", "1.0.0", strings.NewReader("x"), 1)
		apiError(t, "anonymous upload", err, 401, "unauthenticated", "TREL_TOKEN")
		_, err = anon.CreateRevision(ctx, "widget", "1.0.0", core.RevisionRequest{Changes: []core.Change{{Op: "delete", Path: "good.txt"}}})
		apiError(t, "anonymous revision", err, 401, "unauthenticated")
		resp := rawRequest(t, "POST", url+"/api/v1/projects/widget/releases/1.0.0/uploads", "", strings.NewReader("x"))
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("a 401 should carry WWW-Authenticate")
		}
		expectError(t, "raw anonymous upload", resp, 401, "unauthenticated", "sign in")
		nobody := newUser(t, "nobody")
		nobody.env = []string{"TREL_SERVER=" + url}
		writeFile(t, filepath.Join(work, "y.txt"), []byte("y\n"))
		nobody.fails(t, 1, []string{"you must sign in", "trel login"}, "upload", "widget", "1.0.0", filepath.Join(work, "y.txt"))
		nobody.fails(t, 1, []string{"you must sign in"}, "rm", "widget", "1.0.0", "good.txt")
		// No server at all is a usage error that says what to do.
		none := newUser(t, "unconfigured")
		none.fails(t, 2, []string{"no server configured", "trel login --server URL"}, "release", "list", "widget")
		unchanged("missing token")
	})

	t.Run("wrong, revoked and expired tokens", func(t *testing.T) {
		badMsg := "the API token is invalid, expired or revoked"
		for _, tok := range []string{
			core.TokenPrefix + strings.Repeat("A", 43), // well-formed, unknown
			core.TokenPrefix + "short",
			"not-a-trel-token",
			w.bob.token + "x",
		} {
			_, err := client.New(url, tok).UploadContent(ctx, "widget", "1.0.0", strings.NewReader("x"), 1)
			apiError(t, "upload with a wrong token", err, 401, "unauthenticated", badMsg)
			// Even public reads fail at once with a bad token.
			_, err = client.New(url, tok).ListCommittees(ctx)
			apiError(t, "public read with a wrong token", err, 401, "unauthenticated", badMsg)
		}
		resp := rawRequest(t, "GET", url+"/api/v1/me", "", nil, "Authorization", "Basic Ym9iOmJvYg==")
		expectError(t, "basic auth", resp, 401, "unauthenticated", "Bearer")
		wrong := newUser(t, "wrong").withToken(url, core.TokenPrefix+strings.Repeat("B", 43))
		wrong.fails(t, 1, []string{badMsg, "trel token create"}, "rm", "widget", "1.0.0", "good.txt")

		// Login refuses a bad token and saves nothing.
		fresh := newUser(t, "fresh")
		r := fresh.runIn(t, fresh.home, core.TokenPrefix+strings.Repeat("C", 43)+"\n", "login", "--server", url)
		checkFailure(t, r, 1, badMsg)
		r = fresh.runIn(t, fresh.home, "hunter2\n", "login", "--server", url)
		checkFailure(t, r, 2, "does not look like a trel API token")
		if len(dirEntries(t, filepath.Dir(fresh.config))) != 0 {
			t.Errorf("a failed login must not save a configuration")
		}

		// Revoked: bob makes a second token, revokes it with the CLI, and
		// it is refused at once.
		var created struct {
			Token  domain.Token `json:"token"`
			Secret string       `json:"secret"`
		}
		w.bob.okJSON(t, &created, "token", "create", "--label", "temporary")
		temp := newUser(t, "bob-temp").withToken(url, created.Secret)
		if out := temp.ok(t, "release", "show", "widget", "1.0.0"); !strings.Contains(out, "Revision:  1") {
			t.Errorf("the new token should work before it is revoked: %q", out)
		}
		// Someone else cannot revoke it.
		w.carol.fails(t, 1, nil, "token", "revoke", strconv.FormatInt(created.Token.ID, 10))
		if _, err := client.New(url, created.Secret).Me(ctx); err != nil {
			t.Errorf("carol must not be able to revoke bob's token: %v", err)
		}
		if out := w.bob.ok(t, "token", "revoke", strconv.FormatInt(created.Token.ID, 10)); !strings.Contains(out, "Revoked token "+strconv.FormatInt(created.Token.ID, 10)) {
			t.Errorf("token revoke printed %q", out)
		}
		temp.fails(t, 1, []string{badMsg}, "upload", "widget", "1.0.0", filepath.Join(work, "good.txt"))
		temp.fails(t, 1, []string{badMsg}, "release", "show", "widget", "1.0.0")
		var toks []domain.Token
		w.bob.okJSON(t, &toks, "token", "list")
		revoked := 0
		for _, tk := range toks {
			if tk.RevokedAt != nil {
				revoked++
				if tk.ID != created.Token.ID {
					t.Errorf("the wrong token was revoked: %+v", tk)
				}
			}
		}
		if revoked != 1 || !strings.Contains(w.bob.ok(t, "token", "list"), "revoked") {
			t.Errorf("token list should show the one revoked token: %+v", toks)
		}
		w.bob.fails(t, 2, []string{"is not a number"}, "token", "revoke", "first")
		if _, err := w.bobC.Me(ctx); err != nil {
			t.Errorf("revoking one token must leave the others working: %v", err)
		}

		// Expired: a token that lives 2 seconds works, then is refused.
		short := adminToken(t, w.data, "bob", "--expires", "2s")
		issued := time.Now()
		sc := client.New(url, short)
		if _, err := sc.Me(ctx); err != nil && time.Since(issued) < 1500*time.Millisecond {
			t.Errorf("a fresh short-lived token should work: %v", err)
		}
		time.Sleep(time.Until(issued.Add(2100 * time.Millisecond)))
		_, err := sc.UploadContent(ctx, "widget", "1.0.0", strings.NewReader("late"), 4)
		apiError(t, "upload with an expired token", err, 401, "unauthenticated", badMsg)
		ops := newUser(t, "ops")
		ops.fails(t, 1, []string{"invalid token lifetime"}, "admin", "create-token", "--data", w.data, "--username", "bob", "--expires", "forever")
		ops.fails(t, 1, []string{"longer than the maximum of 366 days"}, "admin", "create-token", "--data", w.data, "--username", "bob", "--expires", "400d")
		unchanged("bad tokens")
	})

	t.Run("missing role", func(t *testing.T) {
		_, err := w.carC.UploadContent(ctx, "widget", "1.0.0", strings.NewReader("carol was here"), -1)
		apiError(t, "carol uploads", err, 403, "forbidden", "only a committer (or member) of the committee demo may change draft files")
		w.carol.fails(t, 1, []string{"only a committer (or member) of the committee demo may change draft files"},
			"upload", "widget", "1.0.0", filepath.Join(work, "good.txt"))
		_, err = w.carC.CreateRevision(ctx, "widget", "1.0.0", core.RevisionRequest{Changes: []core.Change{{Op: "delete", Path: "good.txt"}}})
		apiError(t, "carol removes", err, 403, "forbidden")
		w.carol.fails(t, 1, []string{"may change draft files"}, "mv", "widget", "1.0.0", "good.txt", "bad.txt")
		_, err = w.bobC.StartRelease(ctx, "widget", "2.0.0")
		apiError(t, "bob starts a release", err, 403, "forbidden", "only a member of the committee demo may start a release")
		w.bob.fails(t, 1, []string{"only a member of the committee demo may start a release"}, "release", "start", "widget", "2.0.0")
		w.bob.fails(t, 1, []string{"only a member of the committee demo may manage committee members"}, "member", "add", "demo", "carol", "--role", "committer")
		w.alice.fails(t, 1, []string{"only an administrator may create committees"}, "committee", "create", "other", "--name", "Other")
		_, err = w.aliceC.ListUsers(ctx)
		apiError(t, "alice lists users", err, 403, "forbidden", "administrator")
		rels, err := w.aliceC.ListReleases(ctx, "widget")
		if err != nil || len(rels) != 1 {
			t.Errorf("refused starts must not create releases: %+v %v", rels, err)
		}
		cd, err := w.aliceC.Committee(ctx, "demo")
		if err != nil || len(cd.Members) != 2 {
			t.Errorf("refused member changes must not change the committee: %+v %v", cd, err)
		}
		unchanged("missing role")
	})

	t.Run("stale expect-revision", func(t *testing.T) {
		stale := "the release is at revision 1, not 0 as expected"
		w.bob.fails(t, 1, []string{stale, "--expect-revision 1"}, "upload", "widget", "1.0.0", filepath.Join(work, "a.txt"), "--expect-revision", "0")
		w.bob.fails(t, 1, []string{"at revision 1, not 5"}, "rm", "widget", "1.0.0", "good.txt", "--expect-revision", "5")
		w.bob.fails(t, 1, []string{stale}, "mv", "widget", "1.0.0", "good.txt", "better.txt", "--expect-revision", "0")
		blob, err := w.bobC.UploadContent(ctx, "widget", "1.0.0", strings.NewReader("stale\n"), -1)
		if err != nil {
			t.Fatal(err)
		}
		baseUploads = uploads()
		zero := 0
		_, err = w.bobC.CreateRevision(ctx, "widget", "1.0.0", core.RevisionRequest{ExpectRevision: &zero,
			Changes: []core.Change{{Op: "put", Path: "stale.txt", SHA256: blob.SHA256}}})
		apiError(t, "stale expect_revision", err, 409, "conflict", stale, "retry with --expect-revision 1")
		unchanged("stale expect-revision")
		// The current one works.
		if out := w.bob.ok(t, "rm", "widget", "1.0.0", "good.txt", "--expect-revision", "1"); !strings.Contains(out, "Created revision 2") {
			t.Errorf("rm with the current --expect-revision printed %q", out)
		}
	})

	t.Run("usage errors", func(t *testing.T) {
		w.bob.fails(t, 2, []string{"usage: trel upload"}, "upload", "widget", "1.0.0")
		w.bob.fails(t, 2, []string{"unknown flag"}, "files", "widget", "1.0.0", "--bogus")
		w.bob.fails(t, 2, []string{"unknown command"}, "frobnicate")
		w.bob.fails(t, 2, []string{`unknown role "boss"`}, "member", "add", "demo", "carol", "--role", "boss")
		w.bob.fails(t, 2, []string{"no files to upload"}, "upload", "widget", "1.0.0", t.TempDir())
		w.bob.fails(t, 1, []string{"cannot read"}, "upload", "widget", "1.0.0", filepath.Join(work, "does-not-exist"))
		ops := newUser(t, "ops")
		ops.fails(t, 2, []string{"invalid size"}, "serve", "--data", t.TempDir(), "--max-file-size", "lots")
	})
}

// rawRequest sends a request with an optional bearer token and extra
// header pairs, bounded to 30s.
func rawRequest(t *testing.T, method, url, token string, body io.Reader, headers ...string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp
}

// expectError checks the API's one error shape.
func expectError(t *testing.T, what string, resp *http.Response, status int, code string, wants ...string) {
	t.Helper()
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &body); err != nil {
		t.Errorf("%s: the error body is not JSON of the error shape: %q", what, data)
		return
	}
	if resp.StatusCode != status || body.Error.Code != code {
		t.Errorf("%s: want %d %q, got %d %q: %s", what, status, code, resp.StatusCode, body.Error.Code, body.Error.Message)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	for _, w := range wants {
		if !strings.Contains(body.Error.Message, w) {
			t.Errorf("%s: the message should mention %q: %s", what, w, body.Error.Message)
		}
	}
}
