package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"trel/internal/api"
	"trel/internal/domain"
	"trel/internal/store/sqlstore"
	"trel/internal/testutil/archivetest"
	"trel/internal/testutil/gpgtest"
	"trel/internal/testutil/services"
	"trel/internal/testutil/softauthn"
)

// TestMigrateStorageCopiesEveryTable fills every table of an embedded
// installation (through the real server where a flow exists, the rest with
// one row each), copies it with `trel admin migrate-storage`, and compares
// every row of every table on both sides. A table added by a later
// migration and left empty here fails the test: extend populate.
func TestMigrateStorageCopiesEveryTable(t *testing.T) {
	ctx := context.Background()
	pg, blobs, logDir := services.Postgres(t), services.S3(t), t.TempDir()
	mk := filepath.Join(t.TempDir(), "master.key")
	newUser(t, "op").ok(t, "admin", "create-master-key", "--out", mk)
	w := newWorld(t, "--master-key-file", mk)
	populate(t, w)
	w.srv.stop()

	src, err := sqlstore.OpenSQLite(ctx, filepath.Join(w.data, "trel.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	fillEmptyTables(t, src)
	tables, err := src.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var empty []string
	for _, tb := range tables {
		if len(tableRows(t, src, tb)) == 0 {
			empty = append(empty, tb.Name)
		}
	}
	if len(empty) > 0 {
		t.Fatalf("tables %v are empty in the source: populate them in this test so that their copy is proven", empty)
	}

	migrate := []string{"admin", "migrate-storage", "--from-data", w.data, "--database", pg, "--blobs", blobs, "--log-dir", logDir}
	ops := newUser(t, "operator")
	out := ops.ok(t, migrate...)
	dst, err := sqlstore.OpenPostgres(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	compareTables(t, src, dst, tables, out)
	// A repeated copy (--resume) adds nothing: every table has a key.
	compareTables(t, src, dst, tables, ops.ok(t, append(migrate, "--resume")...))
	t.Logf("compared %d tables", len(tables))
}

// compareTables checks that every row of every table is in dst, and that
// out (migrate-storage's output) reports each table's row count.
func compareTables(t *testing.T, src, dst *sqlstore.DB, tables []sqlstore.Table, out string) {
	t.Helper()
	for _, tb := range tables {
		want, got := tableRows(t, src, tb), tableRows(t, dst, tb)
		if !strings.Contains(out, fmt.Sprintf("table %-22s %6d rows", tb.Name, len(want))) {
			t.Errorf("migrate-storage did not report %d rows of %s:\n%s", len(want), tb.Name, out)
		}
		if len(got) != len(want) {
			t.Errorf("table %s: %d rows in SQLite, %d in PostgreSQL", tb.Name, len(want), len(got))
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("table %s differs after the copy:\n sqlite   %s\n postgres %s", tb.Name, want[i], got[i])
				break
			}
		}
	}
}

// populate drives the server through flows that write most tables: keys
// with a challenge left open, Sigstore trust, an incubating committee,
// policy versions, a published release (votes, signers, publication), a
// key held by trel with a passkey approval begun, an enrollment link, a
// suspension (notices).
func populate(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	s := aliceSigner(t, w)
	if _, err := w.aliceC.KeyChallenge(ctx, s.fpr); err != nil { // left open
		t.Fatal(err)
	}
	w.alice.ok(t, "policy", "set", "widget", "--min-vote-hours", "0", "--min-binding-votes", "1")
	w.alice.ok(t, "sigstore", "identity", "add", "widget", "--issuer", "https://token.actions.githubusercontent.com",
		"--subject", "https://github.com/demo/widget/.github/workflows/release.yml@refs/tags/v1.0")
	pemFile := filepath.Join(t.TempDir(), "release-key.pem")
	writeFile(t, pemFile, newP256PEM(t))
	w.alice.ok(t, "sigstore", "key", "add", "widget", pemFile, "--name", "release-key")

	previewRelease(t, w, s, "1.0")
	if _, err := w.aliceC.Publish(ctx, "widget", "1.0"); err != nil {
		t.Fatal(err)
	}

	// bob's own key with a signing subkey.
	g := gpgtest.New(t)
	bobKey := g.GenKey(t, "", "Bob <bob@example.org>", "ed25519", "cert", "2y")
	g.Run(t, "", "--quick-add-key", bobKey, "ed25519", "sign", "1y")
	if _, err := w.bobC.AddKeys(ctx, g.Export(t, bobKey), []string{"demo"}, false); err != nil {
		t.Fatal(err)
	}

	// A draft whose archive has a concern (its top directory is not named
	// after it), acknowledged by its release manager.
	if _, err := w.aliceC.StartRelease(ctx, "widget", "2.0"); err != nil {
		t.Fatal(err)
	}
	art := archivetest.SourceTarGz(t, "elsewhere-2.0", pseudoRandom("widget-2.0", 32<<10))
	put(t, w.bobC, "2.0", map[string][]byte{"widget-2.0.tar.gz": art, "widget-2.0.tar.gz.sha512": []byte(sha512Line(art, "widget-2.0.tar.gz"))})
	acked := false
	for _, r := range waitChecks(t, w.aliceC, "2.0").Results {
		if r.Status == domain.StatusConcern {
			if _, err := w.aliceC.Ack(ctx, "widget", "2.0", r.Checker, r.Path, "the layout is intended"); err != nil {
				t.Fatal(err)
			}
			acked = true
			break
		}
	}
	if !acked {
		t.Fatal("no concern to acknowledge in widget 2.0")
	}

	// A key held by trel signs the draft after a passkey approval; the
	// passkey also opens a browser session.
	authn := addPasskey(t, w.data, "alice")
	webSignIn(t, w.srv.url, authn)
	r := w.alice.runIn(t, w.alice.home, signingPassword+"\n", "signing-key", "create", "--committee", "demo", "--json")
	if r.code != 0 {
		t.Fatalf("signing-key create: %s", r)
	}
	held := jsonField(t, r.stdout, "fingerprint")
	plan, err := w.aliceC.BeginSigning(ctx, api.SignRequest{Project: "widget", Version: "2.0", Key: held, Paths: []string{"widget-2.0.tar.gz"}})
	if err != nil {
		t.Fatal(err)
	}
	assertion, err := authn.Assert(plan.PublicKey, true)
	if err != nil {
		t.Fatal(err)
	}
	// One more approval begun and left open.
	if _, err := w.aliceC.BeginSigning(ctx, api.SignRequest{Project: "widget", Version: "2.0", Key: held, Paths: []string{"widget-2.0.tar.gz"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.aliceC.CompleteSigning(ctx, plan.RequestID, api.SignCompletion{Ceremony: plan.Ceremony, Assertion: assertion, Password: signingPassword}); err != nil {
		t.Fatal(err)
	}

	if err := w.adminC.SetIncubating(ctx, "demo", true); err != nil {
		t.Fatal(err)
	}
	ops := newUser(t, "ops")
	ops.ok(t, "admin", "enroll", "--data", w.data, "--username", "carol")
	ops.ok(t, "admin", "suspend", "carol", "--data", w.data)
	ops.ok(t, "admin", "reactivate", "carol", "--data", w.data)
}

// fillEmptyTables adds what no flow above reaches without the private
// Sigstore instance's timestamp authority: the Sigstore public key of the
// held key (recorded when it first signs a bundle).
func fillEmptyTables(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	ctx := context.Background()
	var fpr string
	var owner int64
	if err := db.SQL().QueryRowContext(ctx, `SELECT fingerprint, user_id FROM signing_keys`).Scan(&fpr, &owner); err != nil {
		t.Fatal(err)
	}
	err := db.PutHeldSigstoreKey(ctx, &domain.HeldSigstoreKey{Fingerprint: fpr, UserID: owner,
		PublicKey: string(newP256PEM(t)), KeyID: "SHA256:test", CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	// One row each in the tables of trusted publishing, mail and webhooks,
	// upload leases and upload sessions (rows no flow here leaves behind).
	var project, release int64
	if err := db.SQL().QueryRowContext(ctx, `SELECT id, project_id FROM releases ORDER BY id LIMIT 1`).Scan(&release, &project); err != nil {
		t.Fatal(err)
	}
	ids := strings.NewReplacer("$P", fmt.Sprint(project), "$U", fmt.Sprint(owner), "$R", fmt.Sprint(release))
	for _, q := range []string{
		`INSERT INTO trusted_publishers (project_id, publisher_id, issuer, repository) VALUES ($P, 1, 'https://token.actions.githubusercontent.com', 'demo/widget')`,
		`INSERT INTO publisher_pins (project_id, publisher_id, subject_ids, pinned_at) VALUES ($P, 1, 'repository_id=1', 1)`,
		`INSERT INTO oidc_token_uses (issuer, jti, expires_at) VALUES ('https://token.actions.githubusercontent.com', 'jti-1', 1)`,
		`INSERT INTO workflow_runs (id, project_id, publisher_id, run, created_at) VALUES (1, $P, 1, 'run-1', 1)`,
		`INSERT INTO publisher_credentials (hash, run_id, user_id, actions, created_at, expires_at) VALUES (X'01', 1, $U, 'upload', 1, 2)`,
		`INSERT INTO workflow_actions (release_id, action, number, run_id, at) VALUES ($R, 'upload', 1, 1, 1)`,
		`INSERT INTO release_states (release_id, embargoed) VALUES ($R, TRUE)`,
		`INSERT INTO project_webhooks (id, project_id, url, secret, created_by, created_at) VALUES (1, $P, 'https://hooks.example.org/x', 'sealed', $U, 1)`,
		`INSERT INTO deliveries (channel, topic, project_id, release_id, webhook_id, payload, state, not_before, created_at) VALUES ('webhook', 'published', $P, $R, 1, '{}', 'pending', 1, 1)`,
		`INSERT INTO upload_leases (user_id, holder, expires_at) VALUES ($U, 'replica-1', 1)`,
		`INSERT INTO upload_sessions (id, user_id, release_id, path, size, chunk_size, expect_sha512, expect_revision, staging_key, received, next_part, parts,
			hash_state, scan_state, state, blob_sha256, revision, created_at, updated_at, expires_at)
		 VALUES ('00112233445566778899aabbccddeeff', $U, $R, 'big.bin', 100, 16777216, '', 1, 'ffeeddccbbaa99887766554433221100', 0, 1, '[]',
			X'00', X'7b7d', 'open', '', NULL, 1, 1, 2)`,
	} {
		q = ids.Replace(q)
		if _, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// newP256PEM returns a fresh ECDSA P-256 public key as a PEM block.
func newP256PEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// webSignIn signs in to the web interface with a passkey, as a browser's
// script does (the browser tests cover the page itself).
func webSignIn(t *testing.T, url string, a *softauthn.Authenticator) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	opts := httpCall(t, hc, "POST", url+"/login/begin", []byte{})
	assertion, err := a.Assert(opts, true)
	if err != nil {
		t.Fatal(err)
	}
	httpCall(t, hc, "POST", url+"/login/finish", assertion)
}

// tableRows renders every row of a table as one line (integers in
// decimal, booleans as 0/1, bytes in hex, NULL as NULL), sorted, so that
// both engines can be compared value by value.
func tableRows(t *testing.T, db *sqlstore.DB, tb sqlstore.Table) []string {
	t.Helper()
	var cols []string
	for _, c := range tb.Columns {
		cols = append(cols, `"`+c.Name+`"`)
	}
	rows, err := db.SQL().QueryContext(context.Background(), `SELECT `+strings.Join(cols, ", ")+` FROM "`+tb.Name+`"`)
	if err != nil {
		t.Fatalf("reading %s: %v", tb.Name, err)
	}
	defer rows.Close()
	var out []string
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var fields []string
		for i, v := range vals {
			fields = append(fields, renderValue(v, tb.Columns[i].Type))
		}
		out = append(out, strings.Join(fields, " | "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func renderValue(v any, family string) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case bool:
		if x {
			return "1"
		}
		return "0"
	case []byte:
		if family == "text" {
			return string(x)
		}
		return hex.EncodeToString(x)
	case string:
		if family == "bytes" {
			return hex.EncodeToString([]byte(x))
		}
		return x
	default:
		return fmt.Sprint(x)
	}
}
