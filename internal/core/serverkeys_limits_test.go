package core_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"trel/internal/blob"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/signing"
	"trel/internal/store/sqlstore"
	"trel/internal/translog"
)

// countingLog stands in for the public log in tests that never sign.
type countingLog struct{ n uint64 }

func (l *countingLog) Append(context.Context, translog.Entry) (uint64, error) { l.n++; return l.n, nil }

const goodPassword = "correct horse battery staple"

// keyWorld is a service with server-side signing on, a committee "alpha"
// whose member "alice" started draft alpha-lib 1.0 with one artifact, and
// users bob and flooder.
type keyWorld struct {
	svc    *core.Service
	db     *sqlstore.DB
	actors map[string]*core.Actor
	skew   time.Duration
}

func newKeyWorld(t *testing.T, limits core.Limits) *keyWorld {
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
	w := &keyWorld{actors: map[string]*core.Actor{}, db: st}
	w.svc = core.New(st, blobs, core.Options{Limits: limits, Now: func() time.Time { return time.Now().Add(w.skew) }})
	master, err := signing.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	w.svc.SetSigning(master, &countingLog{})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"admin", "alice", "bob", "flooder"} {
		u, err := w.svc.CreateUser(ctx, core.SystemActor, core.NewUser{Username: name, Email: name + "@example.org", Admin: name == "admin"})
		must(err)
		w.actors[name] = &core.Actor{User: u, ClientIP: "192.0.2.1"}
	}
	_, err = w.svc.CreateCommittee(ctx, core.SystemActor, "alpha", "Alpha")
	must(err)
	_, err = w.svc.AddMember(ctx, core.SystemActor, "alpha", "alice", domain.RoleMember)
	must(err)
	_, err = w.svc.CreateProject(ctx, core.SystemActor, "alpha-lib", "alpha", "Alpha Lib")
	must(err)
	_, err = w.svc.StartRelease(ctx, w.actors["alice"], "alpha-lib", "1.0")
	must(err)
	b, err := w.svc.UploadFile(ctx, w.actors["alice"], "alpha-lib", "1.0", strings.NewReader("artifact bytes"), -1)
	must(err)
	_, err = w.svc.CreateRevision(ctx, w.actors["alice"], "alpha-lib", "1.0", core.RevisionRequest{Changes: []core.Change{{Op: "put", Path: "alpha-lib-1.0.tar.gz", SHA256: b.SHA256}}})
	must(err)
	return w
}

func (w *keyWorld) newKey(t *testing.T, user string) string {
	t.Helper()
	k, err := w.svc.CreateServerKey(context.Background(), w.actors[user], core.NewServerKey{Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	return k.Fingerprint
}

// TestParallelWrongPasswordsLockTheKey is the defect of 30 parallel wrong
// guesses all being evaluated: at most MaxPasswordFails of them may be
// told "wrong password", every other one "locked"; then even the right
// password is refused until the lock runs out.
func TestParallelWrongPasswordsLockTheKey(t *testing.T) {
	ctx := context.Background()
	w := newKeyWorld(t, core.Limits{PasswordChecks: 1000})
	fpr := w.newKey(t, "alice")
	const guesses = 30
	errs := make(chan error, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() {
			errs <- w.svc.ChangeServerKeyPassword(ctx, w.actors["alice"], fpr, "wrong guess number "+string(rune('a'+i)), "a brand new long passphrase here")
		})
	}
	wg.Wait()
	close(errs)
	wrong, locked := 0, 0
	for err := range errs {
		switch {
		case domain.IsKind(err, domain.KindUnauthenticated) && strings.Contains(err.Error(), "wrong signing password"):
			wrong++
		case domain.IsKind(err, domain.KindLocked) && strings.Contains(err.Error(), "locked"):
			locked++
		default:
			t.Errorf("unexpected answer: %v", err)
		}
	}
	if wrong > core.MaxPasswordFails || wrong+locked != guesses {
		t.Fatalf("%d wrong-password answers (at most %d allowed) and %d locked", wrong, core.MaxPasswordFails, locked)
	}
	t.Logf("%d wrong, %d locked", wrong, locked)
	// The right password does not open a locked key ...
	if err := w.svc.ChangeServerKeyPassword(ctx, w.actors["alice"], fpr, goodPassword, "a brand new long passphrase here"); !domain.IsKind(err, domain.KindLocked) {
		t.Fatalf("right password on a locked key: %v", err)
	}
	k, err := w.svc.Store().ServerKey(ctx, fpr)
	if err != nil || k.LockedUntil == nil {
		t.Fatalf("the key is not locked in the database: %+v %v", k, err)
	}
	// ... until the lock runs out; then it works and the count starts over.
	w.skew = core.PasswordLockout + time.Minute
	if err := w.svc.ChangeServerKeyPassword(ctx, w.actors["alice"], fpr, goodPassword, "a brand new long passphrase here"); err != nil {
		t.Fatalf("right password after the lockout: %v", err)
	}
	k, _ = w.svc.Store().ServerKey(ctx, fpr)
	if k.FailedAttempts != 0 || k.LockedUntil != nil {
		t.Fatalf("count not cleared after success: %+v", k)
	}
	// The lockout is audited.
	evs, _ := w.svc.AuditLog(ctx, w.actors["admin"], 100)
	found := false
	for _, e := range evs {
		found = found || e.Action == "signing.key.locked"
	}
	if !found {
		t.Fatal("no signing.key.locked audit event")
	}
}

// TestSigningPasswordRules: the minimum counts characters, and blank,
// common and patterned passwords are refused; good passphrases in any
// script pass.
func TestSigningPasswordRules(t *testing.T) {
	ctx := context.Background()
	w := newKeyWorld(t, core.Limits{MaxServerKeys: 20, KeyCreations: 100})
	for _, c := range []struct {
		name, pw string
		ok       bool
		want     string
	}{
		{"11 characters in 22 bytes", "žščřďťňůúéá", false, "at least 12 characters (this one has 11)"},
		{"all spaces", strings.Repeat(" ", 16), false, "blank"},
		{"all whitespace", " \t \u00a0\u2003  \t\n    ", false, "blank"},
		{"common password", "password1234", false, "too easy to guess"},
		{"keyboard walk", "qwertyuiopasdfgh", false, "too easy to guess"},
		{"repeat", "aaaaaaaaaaaaaaaa", false, "too easy to guess"},
		{"repeated word", "abcabcabcabcabc", false, "too easy to guess"},
		{"sequence", "abcdefghijklmnop", false, "too easy to guess"},
		{"digits", "123456789012", false, "too easy to guess"},
		{"the user's own address", "bob@example.org", false, "too easy to guess"},
		{"l33t common password", "P@ssw0rd2024!", false, "too easy to guess"},
		{"word and digits", "monkey123456", false, "too easy to guess"},
		{"passphrase", goodPassword, true, ""},
		{"non-Latin passphrase", "žluťoučký kůň úpěl ďábelské ódy", true, ""},
		{"12 random characters", "q7#Vm2!xLp9z", true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := w.svc.CreateServerKey(ctx, w.actors["bob"], core.NewServerKey{Password: c.pw})
			if c.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !domain.IsKind(err, domain.KindInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an invalid-password error containing %q", err, c.want)
			}
		})
	}
	// Changing the password follows the same rules.
	fpr := w.newKey(t, "alice")
	if err := w.svc.ChangeServerKeyPassword(ctx, w.actors["alice"], fpr, goodPassword, "password1234"); !domain.IsKind(err, domain.KindInvalid) {
		t.Fatalf("weak new password: %v", err)
	}
}

// TestServerKeyCapHoldsUnderConcurrency: parallel creations cannot exceed
// the cap, and retiring a key frees a place.
func TestServerKeyCapHoldsUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	w := newKeyWorld(t, core.Limits{MaxServerKeys: 2, KeyCreations: 100})
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Go(func() {
			_, err := w.svc.CreateServerKey(ctx, w.actors["bob"], core.NewServerKey{Password: goodPassword})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	made := 0
	for err := range errs {
		switch {
		case err == nil:
			made++
		case domain.IsKind(err, domain.KindConflict) && strings.Contains(err.Error(), "most allowed"),
			domain.IsKind(err, domain.KindRateLimited):
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	keys, _ := w.svc.ServerKeys(ctx, w.actors["bob"])
	if len(keys) != 2 || made != 2 {
		t.Fatalf("%d keys held (%d created), cap 2", len(keys), made)
	}
	_, err := w.svc.CreateServerKey(ctx, w.actors["bob"], core.NewServerKey{Password: goodPassword})
	if !domain.IsKind(err, domain.KindConflict) {
		t.Fatalf("third key: %v", err)
	}
	if err := w.svc.RetireServerKey(ctx, w.actors["bob"], keys[0].Fingerprint); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.CreateServerKey(ctx, w.actors["bob"], core.NewServerKey{Password: goodPassword}); err != nil {
		t.Fatalf("after retiring one: %v", err)
	}
}

// TestKeyCreationAndPasswordChecksAreRateLimited: past the limit the answer
// is "rate limited" with a retry hint, per user.
func TestKeyCreationAndPasswordChecksAreRateLimited(t *testing.T) {
	ctx := context.Background()
	w := newKeyWorld(t, core.Limits{MaxServerKeys: 10, KeyCreations: 2, PasswordChecks: 2})
	fpr := w.newKey(t, "alice")
	w.newKey(t, "alice")
	_, err := w.svc.CreateServerKey(ctx, w.actors["alice"], core.NewServerKey{Password: goodPassword})
	if !domain.IsKind(err, domain.KindRateLimited) || domain.RetryAfterOf(err) <= 0 {
		t.Fatalf("third creation in the hour: %v (retry after %s)", err, domain.RetryAfterOf(err))
	}
	// Another user is not affected.
	w.newKey(t, "bob")
	for i := range 2 {
		if err := w.svc.ChangeServerKeyPassword(ctx, w.actors["alice"], fpr, "not the password at all", "a brand new long passphrase here"); !domain.IsKind(err, domain.KindUnauthenticated) {
			t.Fatalf("check %d: %v", i, err)
		}
	}
	err = w.svc.ChangeServerKeyPassword(ctx, w.actors["alice"], fpr, goodPassword, "a brand new long passphrase here")
	if !domain.IsKind(err, domain.KindRateLimited) || domain.RetryAfterOf(err) <= 0 {
		t.Fatalf("third password check: %v", err)
	}
	// The refused check did not count as a wrong password.
	k, _ := w.svc.Store().ServerKey(ctx, fpr)
	if k.FailedAttempts != 2 {
		t.Fatalf("%d failed attempts recorded, want 2", k.FailedAttempts)
	}
}

// TestKeyCreationFloodLeavesCapacityForSigning: one user floods key
// creation; another user's password change (the same derivation as
// signing) still succeeds, and every flood request is answered with a key,
// "busy" or "rate limited": never an internal error.
func TestKeyCreationFloodLeavesCapacityForSigning(t *testing.T) {
	ctx := context.Background()
	w := newKeyWorld(t, core.Limits{MaxServerKeys: 100, KeyCreations: 100})
	fpr := w.newKey(t, "alice")
	const flood = 12
	var wg sync.WaitGroup
	errs := make(chan error, flood)
	start := make(chan struct{})
	for range flood {
		wg.Go(func() {
			<-start
			_, err := w.svc.CreateServerKey(ctx, w.actors["flooder"], core.NewServerKey{Password: goodPassword})
			errs <- err
		})
	}
	close(start)
	time.Sleep(50 * time.Millisecond) // let the flood take its slot
	began := time.Now()
	if err := w.svc.ChangeServerKeyPassword(ctx, w.actors["alice"], fpr, goodPassword, "a brand new long passphrase here"); err != nil {
		t.Fatalf("password change during the flood: %v", err)
	}
	t.Logf("password change during a flood of %d key creations took %s", flood, time.Since(began))
	wg.Wait()
	close(errs)
	busy := 0
	for err := range errs {
		switch {
		case err == nil:
		case domain.IsKind(err, domain.KindRateLimited) && domain.RetryAfterOf(err) > 0:
			busy++
		default:
			t.Errorf("flood request answered with %v", err)
		}
	}
	t.Logf("%d of %d flood requests were told to retry later", busy, flood)
}

// TestCreationsNeverTakeTheLastDerivationSlot: while key creations hold
// every slot they may, opening a key still gets one.
func TestCreationsNeverTakeTheLastDerivationSlot(t *testing.T) {
	var held []*signing.Permit
	defer func() {
		for _, p := range held {
			p.Release()
		}
	}()
	for range signing.MaxConcurrentCreations {
		p, err := signing.Reserve(context.Background(), signing.PurposeCreate)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, p)
	}
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := signing.Reserve(short, signing.PurposeCreate); err != signing.ErrBusy {
		t.Fatalf("a creation beyond the creation cap: %v", err)
	}
	use, err := signing.Reserve(context.Background(), signing.PurposeUse)
	if err != nil {
		t.Fatalf("opening a key while creations hold their slots: %v", err)
	}
	use.Release()
}

// TestBusyServerKeepsTheApproval: when no derivation slot is free, or the
// user is over the password-check limit, PrepareSigning answers 429 and the
// single-use signing request stays unused.
func TestBusyServerKeepsTheApproval(t *testing.T) {
	ctx := context.Background()
	w := newKeyWorld(t, core.Limits{PasswordChecks: 1})
	fpr := w.newKey(t, "alice")
	plan, err := w.svc.BeginSigning(ctx, w.actors["alice"], "alpha-lib", "1.0", fpr, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	var held []*signing.Permit
	for range signing.MaxConcurrentDerivations {
		p, err := signing.Reserve(ctx, signing.PurposeUse)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, p)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = w.svc.PrepareSigning(short, w.actors["alice"], plan.Request.ID)
	cancel()
	for _, p := range held {
		p.Release()
	}
	if !domain.IsKind(err, domain.KindRateLimited) || domain.RetryAfterOf(err) <= 0 {
		t.Fatalf("busy server: %v", err)
	}
	// The limit of one check per window is now spent (the busy attempt
	// counted): the next one is rate limited, with the same guarantee.
	if _, err := w.svc.PrepareSigning(ctx, w.actors["alice"], plan.Request.ID); !domain.IsKind(err, domain.KindRateLimited) {
		t.Fatalf("over the limit: %v", err)
	}
	req, err := w.svc.Store().SigningRequest(ctx, plan.Request.ID)
	if err != nil || req.UsedAt != nil {
		t.Fatalf("the approval was spent by a refusal: %+v %v", req, err)
	}
	// Someone else's request cannot be prepared.
	if _, err := w.svc.PrepareSigning(ctx, w.actors["bob"], plan.Request.ID); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("another user's request: %v", err)
	}
}

// TestHeldKeysSignOnlyWhatThePolicyAccepts: a key trel holds makes no
// signature the project's policy would not count (server-made signatures
// refused, or the kind of signature refused): the request is refused
// before any approval is spent, saying what to change.
func TestHeldKeysSignOnlyWhatThePolicyAccepts(t *testing.T) {
	ctx := context.Background()
	w := newKeyWorld(t, core.Limits{})
	fpr := w.newKey(t, "alice")
	alice := w.actors["alice"]
	base, err := w.svc.Policy(ctx, alice, "alpha-lib")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		change func(p *domain.Policy)
		kind   string
		want   string
	}{
		{"server-made signatures refused", func(p *domain.Policy) { p.AcceptServerSigned = false }, "", "--accept-server-signed"},
		{"OpenPGP refused", func(p *domain.Policy) { p.AcceptOpenPGP, p.Require = false, "sigstore" }, "", "does not accept OpenPGP signatures"},
	} {
		pol := *base
		c.change(&pol)
		if _, err := w.svc.SetPolicy(ctx, alice, "alpha-lib", pol); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, err := w.svc.BeginSigning(ctx, alice, "alpha-lib", "1.0", fpr, nil, c.kind)
		if !domain.IsKind(err, domain.KindConflict) || !strings.Contains(domain.PublicMessage(err), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := w.svc.SetPolicy(ctx, alice, "alpha-lib", *base); err != nil {
		t.Fatal(err)
	}
	plan, err := w.svc.BeginSigning(ctx, alice, "alpha-lib", "1.0", fpr, nil, "")
	if err != nil {
		t.Fatalf("under the default policy: %v", err)
	}
	// The policy changes between the approval and the signing: nothing
	// is signed, and the refusal says why.
	pol := *base
	pol.AcceptServerSigned = false
	if _, err := w.svc.SetPolicy(ctx, alice, "alpha-lib", pol); err != nil {
		t.Fatal(err)
	}
	slot, err := w.svc.PrepareSigning(ctx, alice, plan.Request.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.CompleteSigning(ctx, alice, slot, &core.Approval{Challenge: plan.Challenge, Flags: 0x05}, []byte(goodPassword))
	if !domain.IsKind(err, domain.KindConflict) || !strings.Contains(domain.PublicMessage(err), "does not accept signatures made by keys trel holds") {
		t.Fatalf("signing after the policy refused held keys: %v", err)
	}
	if rel, _ := w.svc.Release(ctx, alice, "alpha-lib", "1.0"); rel.LatestRevision != 1 {
		t.Fatalf("a revision was made: %d", rel.LatestRevision)
	}
}
