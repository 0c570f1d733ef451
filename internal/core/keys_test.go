package core_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/testutil/gpgtest"
)

// fixtures are the public KEYS files and scenarios copied into the openpgp
// package (see its testdata/PROVENANCE.md).
const fixtures = "../openpgp/testdata/"

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestImportAccountsForEveryBlock imports the real KEYS files: every
// block shows up in the report with an outcome, and every rejection says why.
func TestImportAccountsForEveryBlock(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		file   string
		blocks int
	}{{"keys/httpd.KEYS", 28}, {"keys/ant.KEYS", 19}, {"keys/kafka.KEYS", 1}, {"keys/tomcat.KEYS", 3}, {"scenarios/concat12.asc", 12}} {
		t.Run(c.file, func(t *testing.T) {
			w := newWorld(t)
			rep, err := w.svc.ImportKEYS(ctx, w.actors["member"], "alpha", readFixture(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Blocks) != c.blocks {
				t.Fatalf("%d blocks reported, want %d", len(rep.Blocks), c.blocks)
			}
			total := 0
			for _, b := range rep.Blocks {
				if len(b.Keys) == 0 {
					t.Fatalf("block %d has no outcome", b.Index)
				}
				for _, k := range b.Keys {
					total++
					if k.Status == core.KeyRejected && k.Reason == "" {
						t.Fatalf("block %d: a key was rejected without a reason", b.Index)
					}
				}
			}
			if total < rep.Added+rep.Refreshed+rep.Unchanged+rep.Rejected {
				t.Fatalf("counts do not add up: %+v", rep)
			}
			keys, _ := w.svc.CommitteeKeys(ctx, core.Anonymous, "alpha")
			if len(keys) != rep.Added {
				t.Fatalf("%d keys linked, %d added", len(keys), rep.Added)
			}
			// Importing again changes nothing.
			again, err := w.svc.ImportKEYS(ctx, w.actors["member"], "alpha", readFixture(t, c.file))
			if err != nil || again.Added != 0 || again.Unchanged != rep.Added {
				t.Fatalf("second import: %+v %v", again, err)
			}
		})
	}
}

func TestPrivateKeysAreRefusedEverywhere(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	g := gpgtest.New(t)
	fpr := g.GenKey(t, "", "Member <member@example.org>", "ed25519", "sign", "1y")
	secret := g.ExportSecret(t, fpr)
	_, err := w.svc.AddKeys(ctx, w.actors["member"], secret, core.AddKeysOptions{})
	if !domain.IsKind(err, domain.KindInvalid) || !strings.Contains(domain.PublicMessage(err), "compromised") {
		t.Fatalf("add: %v", err)
	}
	_, err = w.svc.ImportKEYS(ctx, w.actors["member"], "alpha", append(g.Export(t, fpr), secret...))
	if !domain.IsKind(err, domain.KindInvalid) {
		t.Fatalf("import: %v", err)
	}
	if strings.Contains(domain.PublicMessage(err), "PRIVATE KEY BLOCK-----\n") {
		t.Fatal("the error echoes the key")
	}
	if ks, _ := w.svc.MyKeys(ctx, w.actors["member"]); len(ks) != 0 {
		t.Fatal("a key was stored from a private key upload")
	}
	evs, _ := w.svc.AuditLog(ctx, core.SystemActor, 100)
	for _, ev := range evs {
		if strings.HasPrefix(ev.Action, "key.") {
			t.Fatalf("audit event %s after a refused upload", ev.Action)
		}
	}
}

func TestWeakNewKeysAreRefused(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	g := gpgtest.New(t)
	fpr := g.GenKey(t, "", "Weak <member@example.org>", "rsa2048", "sign", "1y")
	rep, err := w.svc.AddKeys(ctx, w.actors["member"], g.Export(t, fpr), core.AddKeysOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rejected != 1 || rep.Added != 0 || !strings.Contains(rep.Blocks[0].Keys[0].Reason, "4096") {
		t.Fatalf("%+v", rep.Blocks)
	}
	// An operator who grandfathers RSA-2048 keys created before a later
	// date (trel serve --rsa-2048-before) gets it accepted.
	saved := domain.KeyGrandfatherBefore
	defer func() { domain.KeyGrandfatherBefore = saved }()
	domain.KeyGrandfatherBefore = time.Now().Add(24 * time.Hour)
	rep, err = w.svc.AddKeys(ctx, w.actors["member"], g.Export(t, fpr), core.AddKeysOptions{})
	if err != nil || rep.Added != 1 {
		t.Fatalf("grandfathered: %+v %v", rep, err)
	}
}

// TestRefreshNeverDropsARevocation: uploading the old, unrevoked copy of a
// revoked key changes nothing.
func TestRefreshNeverDropsARevocation(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	m := w.actors["member"]
	// The fixture holds the key and, in a separate block, its revocation.
	full := readFixture(t, "scenarios/key-revoked-compromised.asc")
	i := strings.Index(string(full[10:]), "-----BEGIN PGP") + 10
	keyOnly := full[:i]
	add := func(data []byte) *core.KeyReport {
		t.Helper()
		rep, err := w.svc.AddKeys(ctx, m, data, core.AddKeysOptions{Committees: []string{"alpha"}})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := add(keyOnly); rep.Added != 1 {
		t.Fatalf("%+v", rep)
	}
	if rep := add(full); rep.Refreshed != 1 || rep.Added != 0 {
		t.Fatalf("revocation: %+v", rep)
	}
	if rep := add(keyOnly); rep.Unchanged != 1 {
		t.Fatalf("old copy: %+v", rep)
	}
	keys, _ := w.svc.CommitteeKeys(ctx, core.Anonymous, "alpha")
	if len(keys) != 1 || keys[0].RevokedAt == nil || !keys[0].Compromised {
		t.Fatalf("the revocation was lost: %+v", keys)
	}
}

// TestKEYSFileImportsIntoGnuPG renders a committee's KEYS file and has a
// real gpg import it: every key that counts must arrive. Imported keys
// have no proven owner, so they count only once registered as the
// committee's automation keys.
func TestKEYSFileImportsIntoGnuPG(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	rep, err := w.svc.ImportKEYS(ctx, w.actors["member"], "alpha", readFixture(t, "keys/ant.KEYS"))
	if err != nil {
		t.Fatal(err)
	}
	if keys, _ := w.svc.KEYSFile(ctx, "alpha"); strings.Contains(string(keys), "# Fingerprint: ") {
		t.Fatalf("keys nobody proved to hold are in KEYS:\n%.600s", keys)
	}
	if _, err := w.svc.AddKeys(ctx, w.actors["member"], readFixture(t, "keys/ant.KEYS"), core.AddKeysOptions{Committees: []string{"alpha"}, Automation: true}); err != nil {
		t.Fatal(err)
	}
	keys, err := w.svc.KEYSFile(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	text := string(keys)
	if !strings.Contains(text, "gpg --import KEYS") || !strings.Contains(text, "gpg --verify") || !strings.Contains(text, "# Fingerprint: ") {
		t.Fatalf("header or comments missing:\n%.600s", text)
	}
	g := gpgtest.New(t)
	path := filepath.Join(t.TempDir(), "KEYS")
	os.WriteFile(path, keys, 0o600)
	g.Run(t, "", "--import", path)
	out := g.Run(t, "", "--with-colons", "--list-keys")
	if n := strings.Count(string(out), "\npub:"); n+boolInt(strings.HasPrefix(string(out), "pub:")) != rep.Added {
		t.Fatalf("gpg imported %d keys, trel added %d", strings.Count(string(out), "pub:"), rep.Added)
	}
	// Sorted by fingerprint.
	var fprs []string
	for _, line := range strings.Split(text, "\n") {
		if f, ok := strings.CutPrefix(line, "# Fingerprint: "); ok {
			fprs = append(fprs, f)
		}
	}
	for i := 1; i < len(fprs); i++ {
		if fprs[i-1] >= fprs[i] {
			t.Fatalf("not sorted: %s before %s", fprs[i-1], fprs[i])
		}
	}
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal(err)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestOwnershipNeedsTheUsersAddress(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	g := gpgtest.New(t)
	fpr := g.GenKey(t, "", "Someone <someone@elsewhere.example>", "ed25519", "sign", "1y")
	if _, err := w.svc.AddKeys(ctx, w.actors["member"], g.Export(t, fpr), core.AddKeysOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := w.svc.KeyChallenge(ctx, w.actors["member"], fpr)
	if !domain.IsKind(err, domain.KindForbidden) || !strings.Contains(domain.PublicMessage(err), "member@example.org") {
		t.Fatalf("%v", err)
	}
}

func TestDeletedKeysLeaveKEYSUnlessHistoric(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	g := gpgtest.New(t)
	fpr := g.GenKey(t, "", "Member <member@example.org>", "ed25519", "sign", "1y")
	if _, err := w.svc.AddKeys(ctx, w.actors["member"], g.Export(t, fpr), core.AddKeysOptions{Committees: []string{"alpha"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.DeleteKey(ctx, w.actors["outsider"], fpr); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("an outsider deleted the key: %v", err)
	}
	if err := w.svc.DeleteKey(ctx, w.actors["member"], fpr); err != nil {
		t.Fatal(err)
	}
	keys, _ := w.svc.KEYSFile(ctx, "alpha")
	if strings.Contains(string(keys), fpr) {
		t.Fatal("a deleted key is still in KEYS")
	}
	k, err := w.svc.Key(ctx, core.Anonymous, fpr)
	if err != nil || k.DeletedAt == nil {
		t.Fatalf("soft delete: %v %+v", err, k)
	}
}
