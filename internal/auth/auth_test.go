package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"trel/internal/blob"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/store"
	"trel/internal/store/sqlstore"
	"trel/internal/testutil/services"
)

type env struct {
	a    *Auth
	st   *sqlstore.DB
	svc  *core.Service
	dir  string
	mu   sync.Mutex
	now  time.Time
	root *domain.User
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{dir: t.TempDir(), now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(e.dir, "trel.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := blob.NewDisk(filepath.Join(e.dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	e.st = st
	e.svc = core.New(st, blobs, core.Options{Now: e.clock})
	if e.a, err = New(e.svc, st, Config{PublicURL: "http://localhost:8080", Now: e.clock}); err != nil {
		t.Fatal(err)
	}
	if e.root, err = e.svc.CreateUser(ctx, core.SystemActor, core.NewUser{Username: "root", Email: "root@example.org", Admin: true}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func TestPublicURLDecidesRelyingPartyAndCookies(t *testing.T) {
	tests := []struct {
		url        string
		ok         bool
		origin     string
		secureCook bool
	}{
		{"http://localhost:8080", true, "http://localhost:8080", false},
		{"https://trel.example.org", true, "https://trel.example.org", true},
		{"https://trel.example.org:8443/some/path", true, "https://trel.example.org:8443", true},
		{"http://127.0.0.1:8080", false, "", false}, // WebAuthn needs a domain name
		{"localhost:8080", false, "", false},
		{"ftp://trel.example.org", false, "", false},
	}
	e := newEnv(t)
	for _, tt := range tests {
		a, err := New(e.svc, e.st, Config{PublicURL: tt.url})
		if (err == nil) != tt.ok {
			t.Errorf("New(%q): err = %v, want ok = %v", tt.url, err, tt.ok)
			continue
		}
		if err == nil && (a.Origin() != tt.origin || a.Secure() != tt.secureCook) {
			t.Errorf("New(%q): origin %q secure %v, want %q %v", tt.url, a.Origin(), a.Secure(), tt.origin, tt.secureCook)
		}
	}
}

func TestEnrollmentLinks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice, err := e.svc.CreateUser(ctx, core.SystemActor, core.NewUser{Username: "alice", Email: "alice@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	token := func(link string) string { return link[strings.LastIndex(link, "/")+1:] }

	fresh, _, err := e.a.CreateEnrollment(ctx, &core.Actor{User: e.root}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(fresh, "http://localhost:8080/enroll/") {
		t.Errorf("link %q", fresh)
	}
	used, _, _ := e.a.CreateEnrollment(ctx, core.SystemActor, "alice")
	ue, err := e.a.Enrollment(ctx, token(used))
	if err != nil {
		t.Fatal(err)
	}
	pk := &store.Passkey{UserID: alice.ID, Name: "k", CredentialID: []byte("cred"), Credential: []byte("{}"), CreatedAt: e.clock()}
	if err := e.st.AddPasskey(ctx, pk, ue.ID, e.clock(), domain.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	expired, _, _ := e.a.CreateEnrollment(ctx, core.SystemActor, "alice")
	e.advance(DefaultEnrollmentTTL + time.Second)
	later, _, _ := e.a.CreateEnrollment(ctx, core.SystemActor, "alice")

	tests := []struct {
		name  string
		token string
		kind  domain.Kind // "" = usable
	}{
		{"fresh link", token(later), ""},
		{"already used", token(used), domain.KindConflict},
		{"older than 24 hours", token(expired), domain.KindInvalid},
		{"unknown", strings.Repeat("A", 43), domain.KindNotFound},
		{"malformed", "../../etc", domain.KindNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.a.Enrollment(ctx, tt.token)
			if tt.kind == "" && err != nil || tt.kind != "" && !domain.IsKind(err, tt.kind) {
				t.Errorf("Enrollment: %v, want kind %q", err, tt.kind)
			}
		})
	}
	// A used link cannot be consumed a second time, even by a racing finish.
	pk2 := &store.Passkey{UserID: alice.ID, Name: "k2", CredentialID: []byte("cred2"), Credential: []byte("{}"), CreatedAt: e.clock()}
	if err := e.st.AddPasskey(ctx, pk2, ue.ID, e.clock(), domain.AuditEvent{}); !domain.IsKind(err, domain.KindConflict) {
		t.Errorf("second use of a link: %v, want a conflict", err)
	}
	if _, _, err := e.a.CreateEnrollment(ctx, &core.Actor{User: alice}, "root"); !domain.IsKind(err, domain.KindForbidden) {
		t.Errorf("a non-administrator created a link: %v", err)
	}
}

func TestOnlyHashesOfSecretsAreStored(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	link, _, err := e.a.CreateEnrollment(ctx, core.SystemActor, "root")
	if err != nil {
		t.Fatal(err)
	}
	tok := link[strings.LastIndex(link, "/")+1:]
	sum := sha256.Sum256([]byte(tok))
	if _, err := e.st.EnrollmentByHash(ctx, sum[:]); err != nil {
		t.Fatalf("the link's SHA-256 is not stored: %v", err)
	}
	_, ceremony, err := e.a.BeginLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.st.Close() // flush the WAL into the database file
	for _, name := range []string{"trel.db", "trel.db-wal"} {
		data, err := os.ReadFile(filepath.Join(e.dir, name))
		if err != nil {
			continue
		}
		for _, secret := range []string{tok, ceremony} {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("%s holds a secret in clear", name)
			}
		}
	}
}

func TestCeremoniesAreSingleUseEvenWhenFinishFails(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, id, err := e.a.BeginLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = e.a.FinishLogin(ctx, id, strings.NewReader(`{"id":"bogus"}`), Client{IP: "192.0.2.1"})
	if !domain.IsKind(err, domain.KindUnauthenticated) {
		t.Fatalf("finishing with a bogus response: %v, want refused", err)
	}
	_, _, err = e.a.FinishLogin(ctx, id, strings.NewReader(`{"id":"bogus"}`), Client{IP: "192.0.2.1"})
	if !domain.IsKind(err, domain.KindNotFound) {
		t.Errorf("finishing the same ceremony again: %v, want not found (used)", err)
	}
	// A registration ceremony cannot finish a sign-in, and vice versa.
	_, reg, err := e.a.BeginAddPasskey(ctx, &core.Actor{User: e.root}, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.a.FinishLogin(ctx, reg, strings.NewReader(`{}`), Client{}); !domain.IsKind(err, domain.KindInvalid) {
		t.Errorf("finishing a registration as a sign-in: %v", err)
	}
}

func TestCeremoniesExpire(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, id, err := e.a.BeginLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.advance(DefaultCeremonyTimeout + time.Second)
	if _, _, err := e.a.FinishLogin(ctx, id, strings.NewReader(`{}`), Client{}); !domain.IsKind(err, domain.KindInvalid) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("finishing an old ceremony: %v, want expired", err)
	}
}

func TestTheLastPasskeyCannotBeRemoved(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	act := &core.Actor{User: e.root}
	for i, name := range []string{"laptop", "phone"} {
		pk := &store.Passkey{UserID: e.root.ID, Name: name, CredentialID: []byte{byte(i)}, Credential: []byte("{}"), CreatedAt: e.clock()}
		if err := e.st.AddPasskey(ctx, pk, 0, e.clock(), domain.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
	}
	keys, _ := e.a.Passkeys(ctx, act)
	if err := e.a.RemovePasskey(ctx, act, keys[0].ID); err != nil {
		t.Fatalf("removing one of two passkeys: %v", err)
	}
	if err := e.a.RemovePasskey(ctx, act, keys[1].ID); !domain.IsKind(err, domain.KindConflict) {
		t.Errorf("removing the last passkey: %v, want a conflict", err)
	}
	other, _ := e.svc.CreateUser(ctx, core.SystemActor, core.NewUser{Username: "eve", Email: "eve@example.org"})
	if err := e.a.RemovePasskey(ctx, &core.Actor{User: other}, keys[1].ID); !domain.IsKind(err, domain.KindNotFound) {
		t.Errorf("removing someone else's passkey: %v, want not found", err)
	}
}

// TestSignInLimitIsSharedAcrossReplicas: two Auth services on one
// database (two replicas) count the same attempts; concurrent attempts do
// not slip past the limit; a new window starts afresh.
func TestSignInLimitIsSharedAcrossReplicas(t *testing.T) {
	open := map[string]func(t *testing.T) *sqlstore.DB{
		"sqlite": func(t *testing.T) *sqlstore.DB { return newEnv(t).st },
		"postgres": func(t *testing.T) *sqlstore.DB {
			st, err := sqlstore.OpenPostgres(context.Background(), services.Postgres(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
	for name, open := range open {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			now := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
			clock := func() time.Time { return now }
			var replicas []*Auth
			for range 2 {
				svc := core.New(st, nil, core.Options{Now: clock})
				a, err := New(svc, st, Config{PublicURL: "http://localhost:8080", Now: clock, SignInLimit: 10})
				if err != nil {
					t.Fatal(err)
				}
				replicas = append(replicas, a)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			allowed := 0
			for i := range 25 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if replicas[i%2].Allow(ctx, "192.0.2.7") {
						mu.Lock()
						allowed++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if allowed != 10 {
				t.Fatalf("%d of 25 concurrent attempts over two replicas allowed, want exactly 10", allowed)
			}
			if !replicas[0].Allow(ctx, "192.0.2.8") {
				t.Error("another address was limited")
			}
			now = now.Add(time.Minute)
			if !replicas[1].Allow(ctx, "192.0.2.7") {
				t.Error("the next minute is still limited")
			}
		})
	}
}
