package core_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
)

func put(path, sha string) core.Change { return core.Change{Op: "put", Path: path, SHA256: sha} }

func paths(rev *domain.Revision) string {
	var ps []string
	for _, f := range rev.Files {
		ps = append(ps, f.Path)
	}
	return strings.Join(ps, ",")
}

func TestRevisionChanges(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	m := w.actors["member"]
	rev := func(req core.RevisionRequest) (*core.RevisionResult, error) {
		return w.svc.CreateRevision(ctx, m, "alpha-lib", "1.0", req)
	}
	one := func(c ...core.Change) core.RevisionRequest { return core.RevisionRequest{Changes: c} }

	res, err := rev(one(put("dir/x.tar.gz", w.sha), put("dir/sub/y.txt", w.sha)))
	if err != nil || res.Revision.Number != 2 || paths(res.Revision) != "a.txt,dir/sub/y.txt,dir/x.tar.gz" {
		t.Fatalf("put: %v %+v", err, res)
	}
	t.Run("ok/moving a directory moves every file under it", func(t *testing.T) {
		res, err := rev(one(core.Change{Op: "move", From: "dir", To: "src"}))
		if err != nil || paths(res.Revision) != "a.txt,src/sub/y.txt,src/x.tar.gz" {
			t.Fatalf("%v %v", err, res)
		}
	})
	t.Run("ok/removing a directory removes every file under it", func(t *testing.T) {
		res, err := rev(one(core.Change{Op: "delete", Path: "src/sub"}))
		if err != nil || paths(res.Revision) != "a.txt,src/x.tar.gz" {
			t.Fatalf("%v %v", err, res)
		}
	})
	t.Run("ok/the same files again make no new revision", func(t *testing.T) {
		before, _ := w.svc.Release(ctx, m, "alpha-lib", "1.0")
		res, err := rev(one(put("a.txt", w.sha)))
		after, _ := w.svc.Release(ctx, m, "alpha-lib", "1.0")
		if err != nil || res.Created || after.LatestRevision != before.LatestRevision {
			t.Fatalf("%v %+v %d->%d", err, res, before.LatestRevision, after.LatestRevision)
		}
	})
	t.Run("ok/earlier revisions never change", func(t *testing.T) {
		_, r2, err := w.svc.Revision(ctx, m, "alpha-lib", "1.0", 2)
		if err != nil || paths(r2) != "a.txt,dir/sub/y.txt,dir/x.tar.gz" {
			t.Fatalf("%v %v", err, paths(r2))
		}
	})

	failures := []struct {
		name string
		req  core.RevisionRequest
		kind domain.Kind
		msg  string
	}{
		{"fail/content not uploaded to this release", one(put("b.txt", strings.Repeat("ab", 32))), domain.KindInvalid, "was not uploaded to this release"},
		{"fail/removing a missing file", one(core.Change{Op: "delete", Path: "nope"}), domain.KindNotFound, "no such file"},
		{"fail/moving onto an existing file", one(put("b.txt", w.sha), core.Change{Op: "move", From: "b.txt", To: "a.txt"}), domain.KindConflict, "already exists"},
		{"fail/a path that is both file and directory", one(put("a.txt/inner", w.sha)), domain.KindConflict, "both a file and a directory"},
		{"fail/path traversal", one(put("../etc/passwd", w.sha)), domain.KindInvalid, "not allowed"},
		{"fail/dotfile", one(put("dir/.hidden", w.sha)), domain.KindInvalid, "dotfiles"},
		{"fail/unknown op", one(core.Change{Op: "chmod", Path: "a.txt"}), domain.KindInvalid, "unknown change"},
		{"fail/a right-to-left override in a name", one(put("evil\u202Egz.rat.exe", w.sha)), domain.KindInvalid, "bidi"},
		{"fail/a zero-width space in a directory", one(put("di\u200Br/a.txt", w.sha)), domain.KindInvalid, "bidi"},
		{"fail/a name in NFD", one(put("cafe\u0301.txt", w.sha)), domain.KindInvalid, "NFC"},
		{"fail/a Windows device name", one(put("dist/NUL.txt", w.sha)), domain.KindInvalid, "reserved device name"},
		{"fail/a Windows-reserved character", one(put("a:b.txt", w.sha)), domain.KindInvalid, "Windows"},
		{"fail/a trailing space", one(put("notes.txt ", w.sha)), domain.KindInvalid, "space"},
		{"fail/a trailing dot", one(put("notes.", w.sha)), domain.KindInvalid, "dot"},
		{"fail/the manifest's name", one(put("trel-release-manifest.json", w.sha)), domain.KindInvalid, "written by trel"},
		{"fail/the manifest's name in another case and directory", one(put("sub/Trel-Release-Manifest.json", w.sha)), domain.KindInvalid, "written by trel"},
		{"fail/moving onto the manifest's name", one(core.Change{Op: "move", From: "a.txt", To: "trel-release-manifest.json"}), domain.KindInvalid, "written by trel"},
		{"fail/two names equal under case folding", one(put("A.TXT", w.sha)), domain.KindConflict, "same file on Windows and macOS"},
		{"fail/two names equal under NFC and case folding", one(put("Caf\u00e9.txt", w.sha), put("caf\u00e9.txt", w.sha)), domain.KindConflict, "same file"},
		{"fail/a file and a directory equal under case folding", one(put("A.txt/x", w.sha)), domain.KindConflict, "same file"},
		{"fail/no changes", one(), domain.KindInvalid, "no changes"},
		{"fail/stale expected revision", core.RevisionRequest{ExpectRevision: new(int), Changes: []core.Change{put("c.txt", w.sha)}}, domain.KindConflict, "not 0 as expected"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			before, _ := w.svc.Release(ctx, m, "alpha-lib", "1.0")
			_, err := rev(f.req)
			if !domain.IsKind(err, f.kind) || !strings.Contains(domain.PublicMessage(err), f.msg) {
				t.Fatalf("want %s containing %q, got %v", f.kind, f.msg, err)
			}
			after, _ := w.svc.Release(ctx, m, "alpha-lib", "1.0")
			if after.LatestRevision != before.LatestRevision {
				t.Fatalf("a refused request created revision %d", after.LatestRevision)
			}
		})
	}
}

// TestConcurrentRevisionsAllLand proves that writers racing on one release
// get consecutive numbers and that no change is lost.
func TestConcurrentRevisionsAllLand(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w.svc.CreateRevision(ctx, w.actors["committer"], "alpha-lib", "1.0",
				core.RevisionRequest{Changes: []core.Change{put(fmt.Sprintf("f%02d", i), w.sha)}})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	revs, err := w.svc.ListRevisions(ctx, w.actors["member"], "alpha-lib", "1.0")
	if err != nil || len(revs) != n+1 {
		t.Fatalf("want %d revisions, got %d (%v)", n+1, len(revs), err)
	}
	for i, r := range revs {
		if r.Number != i+1 || r.Parent != i {
			t.Fatalf("revision %d has number %d parent %d", i+1, r.Number, r.Parent)
		}
	}
	_, last, _ := w.svc.Revision(ctx, w.actors["member"], "alpha-lib", "1.0", 0)
	if len(last.Files) != n+1 {
		t.Fatalf("the last revision holds %d files, want %d: a change was lost", len(last.Files), n+1)
	}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	secret, tok, err := w.svc.CreateToken(ctx, w.actors["committer"], "", "laptop", core.DefaultTokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, core.TokenPrefix) || len(secret) != len(core.TokenPrefix)+43 {
		t.Fatalf("unexpected token shape %q", secret[:8])
	}
	u, _, err := w.svc.Authenticate(ctx, secret)
	if err != nil || u.Username != "committer" {
		t.Fatalf("authenticate: %v %v", u, err)
	}
	for _, bad := range []string{"", "trel_", secret + "x", "Bearer " + secret, strings.ToUpper(secret)} {
		if _, _, err := w.svc.Authenticate(ctx, bad); !domain.IsKind(err, domain.KindUnauthenticated) {
			t.Fatalf("token %q accepted: %v", bad, err)
		}
	}
	if err := w.svc.RevokeToken(ctx, w.actors["member"], tok.ID); !domain.IsKind(err, domain.KindNotFound) {
		t.Fatalf("another user revoked the token: %v", err)
	}
	if err := w.svc.RevokeToken(ctx, w.actors["committer"], tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.svc.Authenticate(ctx, secret); !domain.IsKind(err, domain.KindUnauthenticated) {
		t.Fatalf("a revoked token was accepted: %v", err)
	}
	expiring, _, err := w.svc.CreateToken(ctx, w.actors["member"], "", "short", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	w.skew = time.Hour + time.Second
	if _, _, err := w.svc.Authenticate(ctx, expiring); !domain.IsKind(err, domain.KindUnauthenticated) {
		t.Fatalf("an expired token was accepted: %v", err)
	}
	for _, ttl := range []string{"0d", "-1h", "367d", "abc"} {
		if _, err := core.ParseTTL(ttl); err == nil {
			t.Fatalf("lifetime %q accepted", ttl)
		}
	}
	if d, err := core.ParseTTL("90d"); err != nil || d.Hours() != 90*24 {
		t.Fatalf("90d: %v %v", d, err)
	}
}
