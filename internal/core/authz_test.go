package core_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trel/internal/blob"
	"trel/internal/checks"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/sigstore"
	"trel/internal/store/sqlstore"
)

// world is a service on a real SQLite database and blob directory, with
// one committee "alpha" (project "alpha-lib", draft release 1.0 with one
// revision), a second committee "beta", and users in every role.
type world struct {
	svc    *core.Service
	actors map[string]*core.Actor
	sha    string // content uploaded to alpha-lib 1.0
	skew   time.Duration
	engine *checks.Engine
	dir    string
	blobs  blob.Store
}

func newWorld(t *testing.T, options ...func(*core.Options)) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "trel.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := blob.NewDisk(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{actors: map[string]*core.Actor{"anonymous": core.Anonymous}, dir: dir, blobs: blobs}
	opt := core.Options{Now: func() time.Time { return time.Now().Add(w.skew) }}
	for _, o := range options {
		o(&opt)
	}
	svc := core.New(st, blobs, opt)
	w.svc = svc
	w.engine = checks.NewEngine(st, blobs, sigstore.DefaultVerifier())
	w.engine.Now = func() time.Time { return time.Now().Add(w.skew) }
	sys := core.SystemActor
	for _, u := range []struct {
		name  string
		admin bool
	}{{"admin", true}, {"member", false}, {"committer", false}, {"outsider", false}, {"other-member", false}} {
		nu, err := svc.CreateUser(ctx, sys, core.NewUser{Username: u.name, Email: u.name + "@example.org", Admin: u.admin})
		if err != nil {
			t.Fatal(err)
		}
		w.actors[u.name] = &core.Actor{User: nu}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = svc.CreateCommittee(ctx, sys, "alpha", "Alpha")
	must(err)
	_, err = svc.CreateCommittee(ctx, sys, "beta", "Beta")
	must(err)
	_, err = svc.AddMember(ctx, sys, "alpha", "member", domain.RoleMember)
	must(err)
	_, err = svc.AddMember(ctx, sys, "alpha", "committer", domain.RoleCommitter)
	must(err)
	_, err = svc.AddMember(ctx, sys, "beta", "other-member", domain.RoleMember)
	must(err)
	_, err = svc.CreateProject(ctx, sys, "alpha-lib", "alpha", "Alpha Lib")
	must(err)
	_, err = svc.StartRelease(ctx, w.actors["member"], "alpha-lib", "1.0")
	must(err)
	b, err := svc.UploadFile(ctx, w.actors["member"], "alpha-lib", "1.0", strings.NewReader("content"), -1)
	must(err)
	w.sha = b.SHA256
	_, err = svc.CreateRevision(ctx, w.actors["member"], "alpha-lib", "1.0", core.RevisionRequest{Changes: []core.Change{{Op: "put", Path: "a.txt", SHA256: b.SHA256}}})
	must(err)
	return w
}

// TestEveryOperationByEveryRole is the authorisation matrix: each core
// operation, called by each kind of actor, is allowed or refused with the
// right error kind (unauthenticated for anonymous callers, forbidden for
// signed-in users without the role).
func TestEveryOperationByEveryRole(t *testing.T) {
	roles := []string{"anonymous", "outsider", "other-member", "committer", "member", "admin"}
	n := 0
	unique := func() string { n++; return "x" + strings.Repeat("y", n) }
	ops := []struct {
		name    string
		allowed []string // roles that may do it; everyone else is refused
		call    func(w *world, a *core.Actor) error
	}{
		{"list committees", roles, func(w *world, a *core.Actor) error {
			_, err := w.svc.ListCommittees(context.Background(), a)
			return err
		}},
		{"show committee", roles, func(w *world, a *core.Actor) error {
			_, err := w.svc.Committee(context.Background(), a, "alpha")
			return err
		}},
		{"list projects", roles, func(w *world, a *core.Actor) error {
			_, err := w.svc.ListProjects(context.Background(), a, "")
			return err
		}},
		{"create committee", []string{"admin"}, func(w *world, a *core.Actor) error {
			_, err := w.svc.CreateCommittee(context.Background(), a, "c"+unique(), "C")
			return err
		}},
		{"create user", []string{"admin"}, func(w *world, a *core.Actor) error {
			_, err := w.svc.CreateUser(context.Background(), a, core.NewUser{Username: "u" + unique(), Email: "u@example.org"})
			return err
		}},
		{"list users", []string{"admin"}, func(w *world, a *core.Actor) error {
			_, err := w.svc.ListUsers(context.Background(), a)
			return err
		}},
		{"read audit log", []string{"admin"}, func(w *world, a *core.Actor) error {
			_, err := w.svc.AuditLog(context.Background(), a, 10)
			return err
		}},
		{"add member", []string{"member", "admin"}, func(w *world, a *core.Actor) error {
			_, err := w.svc.AddMember(context.Background(), a, "alpha", "outsider", domain.RoleCommitter)
			if err == nil {
				err = w.svc.RemoveMember(context.Background(), core.SystemActor, "alpha", "outsider")
			}
			return err
		}},
		{"remove member", []string{"member", "admin"}, func(w *world, a *core.Actor) error {
			if _, err := w.svc.AddMember(context.Background(), core.SystemActor, "alpha", "outsider", domain.RoleCommitter); err != nil {
				return err
			}
			err := w.svc.RemoveMember(context.Background(), a, "alpha", "outsider")
			w.svc.RemoveMember(context.Background(), core.SystemActor, "alpha", "outsider")
			return err
		}},
		{"create project", []string{"member", "admin"}, func(w *world, a *core.Actor) error {
			_, err := w.svc.CreateProject(context.Background(), a, "p"+unique(), "alpha", "P")
			return err
		}},
		{"start release", []string{"member", "admin"}, func(w *world, a *core.Actor) error {
			_, err := w.svc.StartRelease(context.Background(), a, "alpha-lib", "2."+unique()[1:]+"0")
			return err
		}},
		{"read draft release", []string{"committer", "member", "admin"}, func(w *world, a *core.Actor) error {
			_, err := w.svc.Release(context.Background(), a, "alpha-lib", "1.0")
			return err
		}},
		{"list revisions", []string{"committer", "member", "admin"}, func(w *world, a *core.Actor) error {
			_, err := w.svc.ListRevisions(context.Background(), a, "alpha-lib", "1.0")
			return err
		}},
		{"download file", []string{"committer", "member", "admin"}, func(w *world, a *core.Actor) error {
			_, rc, err := w.svc.OpenFile(context.Background(), a, "alpha-lib", "1.0", 0, "a.txt")
			if rc != nil {
				rc.Close()
			}
			return err
		}},
		{"upload file", []string{"committer", "member", "admin"}, func(w *world, a *core.Actor) error {
			_, err := w.svc.UploadFile(context.Background(), a, "alpha-lib", "1.0", bytes.NewReader([]byte(unique())), -1)
			return err
		}},
		{"create revision", []string{"committer", "member", "admin"}, func(w *world, a *core.Actor) error {
			_, err := w.svc.CreateRevision(context.Background(), a, "alpha-lib", "1.0", core.RevisionRequest{
				Changes: []core.Change{{Op: "put", Path: unique() + ".txt", SHA256: w.sha}}})
			return err
		}},
		{"create own token", []string{"outsider", "other-member", "committer", "member", "admin"}, func(w *world, a *core.Actor) error {
			_, _, err := w.svc.CreateToken(context.Background(), a, "", "t", core.DefaultTokenTTL)
			return err
		}},
	}
	w := newWorld(t)
	for _, op := range ops {
		for _, role := range roles {
			allowed := false
			for _, r := range op.allowed {
				allowed = allowed || r == role
			}
			name := op.name + "/" + role
			t.Run(name, func(t *testing.T) {
				err := op.call(w, w.actors[role])
				switch {
				case allowed && err != nil:
					t.Fatalf("%s should be allowed, got %v", name, err)
				case !allowed && role == "anonymous" && !domain.IsKind(err, domain.KindUnauthenticated):
					t.Fatalf("%s: want unauthenticated, got %v", name, err)
				case !allowed && role != "anonymous" && !domain.IsKind(err, domain.KindForbidden):
					t.Fatalf("%s: want forbidden, got %v", name, err)
				case !allowed && !strings.Contains(domain.PublicMessage(err), "may") && role != "anonymous":
					t.Fatalf("%s: refusal does not say who may: %q", name, domain.PublicMessage(err))
				}
			})
		}
	}
}

// TestTokenOnlyForItsOwner proves a user cannot mint tokens for someone else.
func TestTokenOnlyForItsOwner(t *testing.T) {
	w := newWorld(t)
	_, _, err := w.svc.CreateToken(context.Background(), w.actors["member"], "admin", "t", core.DefaultTokenTTL)
	if !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("want forbidden, got %v", err)
	}
}
