package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"trel/client"
	"trel/internal/api"
	"trel/internal/blob/s3"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/store/sqlstore"
	"trel/internal/testutil/archivetest"
	"trel/internal/testutil/gpgtest"
	"trel/internal/testutil/services"
	"trel/internal/testutil/softauthn"
)

// cluster is two `trel serve` replicas sharing one PostgreSQL database, one
// S3 bucket (prefix) and one log directory, each with its own --data.
type cluster struct {
	pg, blobs, logDir, masterKey string
	a, b                         *server
	ops                          *user
	extra                        []string // serve flags of the test
}

func (c *cluster) engineArgs() []string { return []string{"--database", c.pg, "--blobs", c.blobs} }

// newCluster starts the two replicas, each with the environment
// variables env (test hooks) and the extra serve flags args.
func newCluster(t testing.TB, env, args []string) *cluster {
	t.Helper()
	c := &cluster{pg: services.Postgres(t), blobs: services.S3(t), logDir: t.TempDir(),
		masterKey: filepath.Join(t.TempDir(), "master.key"), ops: newUser(t, "operator"), extra: args}
	c.ops.ok(t, "admin", "create-master-key", "--out", c.masterKey)
	c.a = c.start(t, "a", env)
	c.b = c.start(t, "b", env)
	return c
}

func (c *cluster) start(t testing.TB, name string, env []string) *server {
	t.Helper()
	args := append(c.engineArgs(), "--log-dir", c.logDir, "--master-key-file", c.masterKey, "--job-rescue-after", "5s",
		// 20 concurrent uploads by one user over two replicas.
		"--uploads-per-user", "20")
	args = append(args, c.extra...) // the last value of a flag wins
	return startServerEnv(t, filepath.Join(t.TempDir(), "data-"+name), env, args...)
}

// admin runs a `trel admin` command against the shared engines (from a
// data directory of its own: the replicas' scratch is theirs).
func (c *cluster) admin(t testing.TB, args ...string) string {
	t.Helper()
	scratch := filepath.Join(t.TempDir(), "admin-scratch")
	return c.ops.ok(t, append(append(args, "--data", scratch), c.engineArgs()...)...)
}

func (c *cluster) token(t testing.TB, username string) string {
	t.Helper()
	return strings.TrimSpace(c.admin(t, "admin", "create-token", "--username", username))
}

// replicaWorld is newWorld over a cluster: each person has a client and a
// CLI identity for each replica.
type replicaWorld struct {
	*cluster
	adminA, aliceA, aliceB, bobA, bobB *client.Client
	alice, bob                         map[string]*user // by replica: "a", "b"
}

func newReplicaWorld(t testing.TB, env ...string) *replicaWorld {
	t.Helper()
	return newReplicaWorldWith(t, env, nil)
}

// newReplicaWorldWith is newReplicaWorld with extra serve flags.
func newReplicaWorldWith(t testing.TB, env, args []string) *replicaWorld {
	t.Helper()
	ctx := context.Background()
	w := &replicaWorld{cluster: newCluster(t, env, args), alice: map[string]*user{}, bob: map[string]*user{}}
	w.adminA = client.New(w.a.url, w.token(t, "admin"))
	for _, name := range []string{"alice", "bob"} {
		w.admin(t, "admin", "create-user", "--username", name, "--email", name+"@example.org")
	}
	if _, err := w.adminA.CreateCommittee(ctx, "demo", "Demo Committee"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.adminA.CreateProject(ctx, "widget", "demo", "Widget"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.adminA.AddMember(ctx, "demo", "alice", "member"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.adminA.AddMember(ctx, "demo", "bob", "committer"); err != nil {
		t.Fatal(err)
	}
	at, bt := w.token(t, "alice"), w.token(t, "bob")
	w.aliceA, w.aliceB = client.New(w.a.url, at), client.New(w.b.url, at)
	w.bobA, w.bobB = client.New(w.a.url, bt), client.New(w.b.url, bt)
	for r, s := range map[string]*server{"a": w.a, "b": w.b} {
		w.alice[r] = newUser(t, "alice-"+r).withToken(s.url, at)
		w.bob[r] = newUser(t, "bob-"+r).withToken(s.url, bt)
	}
	return w
}

// TestReplicasServeOnePlatform: whatever goes in through one replica comes
// out of the other: uploads, files, downloads, checks, client signatures,
// server-side signatures with a passkey approval (single use across
// replicas), KEYS and the public log; concurrent uploads spread over both
// land as consecutive revisions; each check job runs once.
func TestReplicasServeOnePlatform(t *testing.T) {
	ctx := context.Background()
	w := newReplicaWorld(t)
	dir := t.TempDir()

	// Upload through A; list, download and check through B.
	w.alice["a"].ok(t, "release", "start", "widget", "1.0")
	artifact := archivetest.SourceTarGz(t, "widget-1.0", pseudoRandom("replicas", 3<<20))
	art := filepath.Join(dir, "widget-1.0.tar.gz")
	writeFile(t, art, artifact)
	writeFile(t, art+".sha512", []byte(sha512Line(artifact, "widget-1.0.tar.gz")))
	w.bob["a"].ok(t, "upload", "widget", "1.0", art, art+".sha512")
	if out := w.bob["b"].ok(t, "files", "widget", "1.0"); !strings.Contains(out, "widget-1.0.tar.gz") {
		t.Fatalf("files through B: %s", out)
	}
	back := filepath.Join(dir, "back.tar.gz")
	w.bob["b"].ok(t, "download", "widget", "1.0", "widget-1.0.tar.gz", "-o", back)
	if got, _ := os.ReadFile(back); !bytes.Equal(got, artifact) {
		t.Fatal("the download through B differs from the upload through A")
	}
	if r := w.bob["b"].run(t, "checks", "wait", "widget", "1.0", "--timeout", "60s"); r.code != 1 || !strings.Contains(r.stdout, "signature") {
		t.Fatalf("unsigned release checked through B: %s", r)
	}

	// A client signature (.asc) made with alice's own key, registered
	// through A, proven through B, uploaded through B, checked through A.
	g := gpgtest.New(t)
	fpr := g.GenKey(t, "", "Alice <alice@example.org>", "ed25519", "sign", "2y")
	secret := filepath.Join(dir, "alice-secret.asc")
	writeFile(t, secret, g.Run(t, "", "--armor", "--export-secret-keys", fpr))
	pub := filepath.Join(dir, "alice.asc")
	writeFile(t, pub, g.Export(t, fpr))
	w.alice["a"].ok(t, "keys", "add", pub, "--committee", "demo")
	proof := filepath.Join(dir, "challenge.asc")
	writeFile(t, proof, g.Sign(t, "", fpr, []byte(w.alice["b"].ok(t, "keys", "challenge", fpr))))
	w.alice["a"].ok(t, "keys", "prove", fpr, "--signature", proof)
	w.alice["b"].ok(t, "sign", art, "--key", secret, "--upload", "widget/1.0")
	if r := w.bob["a"].run(t, "checks", "wait", "widget", "1.0", "--timeout", "60s"); r.code != 0 {
		t.Fatalf("signed release checked through A: %s", r)
	}
	// KEYS from either replica.
	for _, s := range []*server{w.a, w.b} {
		if body := httpGet(t, s.url+"/downloads/demo/KEYS"); !strings.Contains(body, fpr) {
			t.Fatalf("KEYS from %s lacks the key", s.addr)
		}
	}

	// Server-side signing: key created through A, approval begun through
	// A, completed through B; replaying it through A is refused.
	db, err := sqlstore.OpenPostgres(ctx, w.pg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	authn := registerPasskey(t, db, "alice")
	r := w.alice["a"].runIn(t, w.alice["a"].home, signingPassword+"\n", "signing-key", "create", "--committee", "demo", "--json")
	if r.code != 0 {
		t.Fatalf("signing-key create: %s", r)
	}
	held := jsonField(t, r.stdout, "fingerprint")
	w.bob["b"].ok(t, "rm", "widget", "1.0", "widget-1.0.tar.gz.asc")
	plan, err := w.aliceA.BeginSigning(ctx, api.SignRequest{Project: "widget", Version: "1.0", Key: held})
	if err != nil {
		t.Fatal(err)
	}
	assertion, err := authn.Assert(plan.PublicKey, true)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := w.aliceB.CompleteSigning(ctx, plan.RequestID, api.SignCompletion{Ceremony: plan.Ceremony, Assertion: assertion, Password: signingPassword})
	if err != nil {
		t.Fatalf("completing through B an approval begun through A: %v", err)
	}
	if _, err := w.aliceA.CompleteSigning(ctx, plan.RequestID, api.SignCompletion{Ceremony: plan.Ceremony, Assertion: assertion, Password: signingPassword}); err == nil {
		t.Fatal("the approval used through B was accepted again through A")
	}
	w.bob["a"].ok(t, "download", "widget", "1.0", "widget-1.0.tar.gz.asc", "-o", filepath.Join(dir, "back.tar.gz.asc"))
	keys := filepath.Join(dir, "KEYS")
	writeFile(t, keys, []byte(w.alice["b"].ok(t, "keys", "export", "demo")))
	g.Run(t, "", "--import", keys)
	ring := filepath.Join(dir, "ring.gpg")
	writeFile(t, ring, g.Run(t, "", "--export", held))
	if out, err := exec.Command("gpgv", "--keyring", ring, filepath.Join(dir, "back.tar.gz.asc"), back).CombinedOutput(); err != nil {
		t.Fatalf("gpgv of the server-side signature: %v %s", err, out)
	}
	for _, u := range []*user{w.alice["a"], w.alice["b"]} {
		if out := u.ok(t, "log", "verify", filepath.Join(dir, "back.tar.gz.asc")); !strings.Contains(out, "Inclusion proven") {
			t.Fatalf("log verify: %s", out)
		}
	}
	if len(signed.Files) != 1 {
		t.Fatalf("signed: %+v", signed)
	}

	// 20 concurrent uploads to one release spread over both replicas land
	// as 20 consecutive revisions; nothing is lost.
	w.alice["a"].ok(t, "release", "start", "widget", "2.0")
	before := revisionCount(t, w.bobA, "widget", "2.0")
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := []*client.Client{w.bobA, w.bobB}[i%2]
			body := fmt.Sprintf("file %d\n", i)
			b, err := c.UploadContent(ctx, "widget", "2.0", strings.NewReader(body), int64(len(body)))
			if err == nil {
				_, err = c.CreateRevision(ctx, "widget", "2.0", core.RevisionRequest{Changes: []core.Change{{Op: "put", Path: fmt.Sprintf("notes/%02d.txt", i), SHA256: b.SHA256}}})
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a concurrent upload failed: %v", err)
		}
	}
	revs, err := w.bobB.ListRevisions(ctx, "widget", "2.0")
	if err != nil || len(revs) != before+20 {
		t.Fatalf("%d revisions after 20 concurrent uploads (%v)", len(revs), err)
	}
	for i, rev := range revs {
		if rev.Number != i+1 {
			t.Fatalf("revision %d is numbered %d", i+1, rev.Number)
		}
	}
	last, err := w.bobA.Revision(ctx, "widget", "2.0", len(revs))
	if err != nil || len(last.Files) != 20 {
		t.Fatalf("the last revision holds %d files, want all 20 (%v)", len(last.Files), err)
	}

	// Concurrent server-side signings through both replicas: one log, each
	// signature once, every inclusion proof verifies from either replica.
	const signings = 6
	// One passkey per approval: a real authenticator's signature counter
	// only grows, and approvals finishing out of order would look like a
	// cloned one.
	var passkeys []*softauthn.Authenticator
	for range signings {
		passkeys = append(passkeys, registerPasskey(t, db, "alice"))
	}
	plans := make([]*api.SignPlan, signings)
	for i := range signings {
		version := fmt.Sprintf("4.%d", i)
		w.alice["a"].ok(t, "release", "start", "widget", version)
		name := fmt.Sprintf("widget-%s.tar.gz", version)
		body := pseudoRandom(name, 64<<10)
		b, err := w.bobA.UploadContent(ctx, "widget", version, bytes.NewReader(body), int64(len(body)))
		if err == nil {
			_, err = w.bobA.CreateRevision(ctx, "widget", version, core.RevisionRequest{Changes: []core.Change{{Op: "put", Path: name, SHA256: b.SHA256}}})
		}
		if err != nil {
			t.Fatal(err)
		}
		if plans[i], err = w.aliceA.BeginSigning(ctx, api.SignRequest{Project: "widget", Version: version, Key: held}); err != nil {
			t.Fatal(err)
		}
	}
	var swg sync.WaitGroup
	serrs := make(chan error, signings)
	for i, p := range plans {
		a, err := passkeys[i].Assert(p.PublicKey, true)
		if err != nil {
			t.Fatal(err)
		}
		swg.Add(1)
		go func() {
			defer swg.Done()
			_, err := []*client.Client{w.aliceA, w.aliceB}[i%2].CompleteSigning(ctx, p.RequestID, api.SignCompletion{Ceremony: p.Ceremony, Assertion: a, Password: signingPassword})
			serrs <- err
		}()
	}
	swg.Wait()
	close(serrs)
	for err := range serrs {
		if err != nil {
			t.Fatalf("a concurrent signing failed: %v", err)
		}
	}
	if cpA, cpB := httpGet(t, w.a.url+"/log/checkpoint"), httpGet(t, w.b.url+"/log/checkpoint"); cpA != cpB {
		t.Fatalf("the replicas serve different checkpoints:\n%s\n%s", cpA, cpB)
	}
	if out := w.alice["b"].ok(t, "log", "list", "--key", held); strings.Count(out, "\n") != 1+signings {
		t.Fatalf("the log lists %d signatures by the held key, want %d (one each, no duplicate):\n%s", strings.Count(out, "\n"), 1+signings, out)
	}
	for i := range signings {
		version := fmt.Sprintf("4.%d", i)
		asc := filepath.Join(dir, version+".asc")
		w.bob[[]string{"a", "b"}[i%2]].ok(t, "download", "widget", version, fmt.Sprintf("widget-%s.tar.gz.asc", version), "-o", asc)
		if out := w.alice[[]string{"b", "a"}[i%2]].ok(t, "log", "verify", asc); !strings.Contains(out, "Inclusion proven") {
			t.Fatalf("log verify %s: %s", version, out)
		}
	}

	// Every revision's checks ran, each job exactly once.
	if !eventually(60*time.Second, func() bool { return allChecksDone(t, w.pg) }) {
		t.Fatal("checks did not all finish")
	}
	checkJobsRanOnce(t, w.pg)
}

// httpGet returns the body of a 200 answer.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	return string(httpCall(t, &http.Client{Timeout: 10 * time.Second}, "GET", url, nil))
}

// httpCall sends a request (a body is sent as JSON) and returns the body
// of its 200 answer.
func httpCall(t *testing.T, hc *http.Client, method, url string, body []byte) []byte {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return b
}

func jsonField(t *testing.T, js, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("%v: %s", err, js)
	}
	v, _ := m[field].(string)
	if v == "" {
		t.Fatalf("no %s in %s", field, js)
	}
	return v
}

func pgQuery(t *testing.T, pg string, fn func(conn *pgx.Conn) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := fn(conn); err != nil {
		t.Fatal(err)
	}
}

func allChecksDone(t *testing.T, pg string) bool {
	var open int
	pgQuery(t, pg, func(c *pgx.Conn) error {
		return c.QueryRow(context.Background(), `SELECT count(*) FROM check_runs WHERE state <> 'done'`).Scan(&open)
	})
	return open == 0
}

// checkJobsRanOnce: River ran each (revision, generation) job once, in one
// attempt, and the check runs all finished.
func checkJobsRanOnce(t *testing.T, pg string) {
	t.Helper()
	// River records completions in batches: wait until no job is pending.
	eventually(15*time.Second, func() bool {
		var pending int
		pgQuery(t, pg, func(c *pgx.Conn) error {
			return c.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE state <> 'completed'`).Scan(&pending)
		})
		return pending == 0
	})
	pgQuery(t, pg, func(c *pgx.Conn) error {
		ctx := context.Background()
		var jobs, runs, dup, retried int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'check_revision'`).Scan(&jobs); err != nil {
			return err
		}
		if err := c.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM river_job WHERE kind = 'check_revision'
			GROUP BY args->>'revision_id', args->>'generation' HAVING count(*) > 1) d`).Scan(&dup); err != nil {
			return err
		}
		if err := c.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'check_revision' AND (attempt <> 1 OR state <> 'completed')`).Scan(&retried); err != nil {
			return err
		}
		if err := c.QueryRow(ctx, `SELECT COALESCE(sum(generation), 0) FROM check_runs`).Scan(&runs); err != nil {
			return err
		}
		if jobs == 0 || dup != 0 || retried != 0 || jobs > runs {
			rows, _ := c.Query(ctx, `SELECT args::text, attempt, state, errors::text FROM river_job WHERE attempt <> 1 OR state <> 'completed'`)
			for rows.Next() {
				var a, st, e string
				var n int
				rows.Scan(&a, &n, &st, &e)
				t.Logf("job %s attempt %d %s %s", a, n, st, e)
			}
			rows.Close()
			return fmt.Errorf("check jobs: %d jobs for %d run generations, %d duplicated, %d not completed in one attempt", jobs, runs, dup, retried)
		}
		return nil
	})
}

// TestReplicaKilledMidUpload: SIGKILL one replica while it receives an
// upload. The other carries on; the interrupted upload leaves nothing
// visible (no revision, no blob); checks queued meanwhile complete.
func TestReplicaKilledMidUpload(t *testing.T) {
	ctx := context.Background()
	w := newReplicaWorld(t)
	w.alice["a"].ok(t, "release", "start", "widget", "3.0")
	revs := revisionCount(t, w.bobB, "widget", "3.0")

	content := pseudoRandom("killed", 64<<20)
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		_, err := w.bobA.UploadContent(ctx, "widget", "3.0", pr, int64(len(content)))
		errc <- err
	}()
	// Send half, then kill A while it waits for the rest.
	if _, err := pw.Write(content[:len(content)/2]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := w.a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-w.a.done
	go pw.Write(content[len(content)/2:])
	if err := <-errc; err == nil {
		t.Fatal("an upload to a killed replica succeeded")
	}
	pw.Close()

	// B carries on: an upload, a revision, its checks.
	b, err := w.bobB.UploadContent(ctx, "widget", "3.0", strings.NewReader("after\n"), -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.bobB.CreateRevision(ctx, "widget", "3.0", core.RevisionRequest{Changes: []core.Change{{Op: "put", Path: "after.txt", SHA256: b.SHA256}}}); err != nil {
		t.Fatal(err)
	}
	if n := revisionCount(t, w.bobB, "widget", "3.0"); n != revs+1 {
		t.Fatalf("%d revisions, want %d", n, revs+1)
	}
	if !eventually(60*time.Second, func() bool { return allChecksDone(t, w.pg) }) {
		t.Fatal("checks queued after the kill did not complete on the surviving replica")
	}
	// Nothing of the interrupted upload is visible.
	store, err := s3.Open(ctx, w.blobs)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := store.Exists(ctx, sha256Hex(content)); ok || err != nil {
		t.Fatalf("the interrupted upload is visible in the bucket (%v)", err)
	}
	if _, err := w.bobB.Revision(ctx, "widget", "3.0", revs+2); !domain.IsKind(apiKind(err), domain.KindNotFound) {
		t.Fatalf("an extra revision exists: %v", err)
	}
	// The replica restarts on the same engines and serves again.
	w.a = w.a.restart()
	if !w.a.healthy() {
		t.Fatal("the restarted replica is not healthy")
	}
}

// apiKind turns a client error back into a domain error of its code.
func apiKind(err error) error {
	var ce *client.Error
	if errorsAs(err, &ce) {
		return &domain.Error{Kind: domain.Kind(ce.Code), Message: ce.Message}
	}
	return err
}

// TestReplicaKilledMidCheck: the replica running a check job is SIGKILLed
// in the middle of it (a test hook holds every job's first attempt, on
// whichever replica takes it). The other replica takes the job up once it
// is "running" for longer than --job-rescue-after (5 s here) and completes
// it: the results are stored once, by the survivor.
func TestReplicaKilledMidCheck(t *testing.T) {
	ctx := context.Background()
	w := newReplicaWorld(t, "TREL_TEST_CRASH_AT=check")
	w.alice["a"].ok(t, "release", "start", "widget", "5.0")
	put(t, w.bobA, "5.0", map[string][]byte{"notes.txt": []byte("release notes\n"), "widget-5.0.zip": archivetest.SourceZip(t, "widget-5.0", nil)})

	// Exactly one replica holds the job; kill it.
	const held = "holding a check job"
	var victim, survivor *server
	if !eventually(30*time.Second, func() bool {
		switch {
		case strings.Contains(w.a.stderr.String(), held):
			victim, survivor = w.a, w.b
		case strings.Contains(w.b.stderr.String(), held):
			victim, survivor = w.b, w.a
		}
		return victim != nil
	}) {
		t.Fatal("no replica took the check job")
	}
	var state string
	pgQuery(t, w.pg, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT state FROM river_job WHERE kind = 'check_revision'`).Scan(&state)
	})
	if state != "running" {
		t.Fatalf("the held job is %q, want running", state)
	}
	victim.kill()
	killedAt := time.Now()
	if strings.Contains(survivor.stderr.String(), held) {
		t.Fatal("both replicas took the job")
	}

	// The survivor rescues and completes it (within the rescue delay, the
	// leader election and River's rescue interval of 30 s).
	if !eventually(120*time.Second, func() bool { return allChecksDone(t, w.pg) }) {
		t.Fatal("the check job of the killed replica was not completed by the other one")
	}
	survivorID := riverClientID(t, survivor)
	// River records completions in batches.
	eventually(15*time.Second, func() bool {
		pgQuery(t, w.pg, func(c *pgx.Conn) error {
			return c.QueryRow(ctx, `SELECT state FROM river_job WHERE kind = 'check_revision'`).Scan(&state)
		})
		return state == "completed"
	})
	pgQuery(t, w.pg, func(c *pgx.Conn) error {
		var attempt int
		var by []string
		var st string
		if err := c.QueryRow(ctx, `SELECT attempt, state, attempted_by FROM river_job WHERE kind = 'check_revision'`).Scan(&attempt, &st, &by); err != nil {
			return err
		}
		if st != "completed" || attempt != 2 || len(by) != 2 || by[0] == by[1] || by[1] != survivorID {
			return fmt.Errorf("the job is %s after %d attempts by %v; want completed in 2 attempts, the second by %s", st, attempt, by, survivorID)
		}
		// One generation, finished after the kill (by the survivor), with
		// results for both files.
		var gen int
		var finished int64
		if err := c.QueryRow(ctx, `SELECT generation, finished_at FROM check_runs`).Scan(&gen, &finished); err != nil {
			return err
		}
		if gen != 1 || !time.UnixMicro(finished).After(killedAt) {
			return fmt.Errorf("the run is at generation %d, finished at %v (the victim died at %v)", gen, time.UnixMicro(finished), killedAt)
		}
		var paths int
		if err := c.QueryRow(ctx, `SELECT count(DISTINCT path) FROM check_results WHERE path IN ('notes.txt', 'widget-5.0.zip')`).Scan(&paths); err != nil {
			return err
		}
		if paths != 2 {
			return fmt.Errorf("results for %d of the 2 files", paths)
		}
		return nil
	})
	rep, err := client.New(survivor.url, w.bob["a"].token).Checks(ctx, "widget", "5.0", 0)
	if err != nil || !rep.Finished || len(rep.Results) == 0 {
		t.Fatalf("checks through the survivor: %+v %v", rep, err)
	}
}

// riverClientID reads the job queue client's id from a server's log.
func riverClientID(t *testing.T, s *server) string {
	t.Helper()
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		if strings.Contains(line, "River client started") {
			if _, id, ok := strings.Cut(line, "client_id="); ok {
				return strings.Fields(id)[0]
			}
		}
	}
	t.Fatalf("no River client id in the log of %s", s.addr)
	return ""
}
