package checks_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"trel/internal/blob"
	"trel/internal/checks"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/openpgp"
	"trel/internal/sigstore"
	"trel/internal/store/sqlstore"
	"trel/internal/testutil/archivetest"
	"trel/internal/testutil/gpgtest"
)

// countingBlobs counts how often each blob is opened, to prove that checks
// never read artifacts.
type countingBlobs struct {
	blob.Store
	opens map[string]*atomic.Int32
}

func (c *countingBlobs) Open(ctx context.Context, sha string) (io.ReadSeekCloser, error) {
	if c.opens[sha] == nil {
		c.opens[sha] = &atomic.Int32{}
	}
	c.opens[sha].Add(1)
	return c.Store.Open(ctx, sha)
}

type fixture struct {
	svc    *core.Service
	st     *sqlstore.DB
	blobs  *countingBlobs
	gpg    *gpgtest.Home
	alice  *core.Actor // committee member
	bob    *core.Actor // not in the committee
	fpr    string      // alice's key (uid carries her address)
	engine *checks.Engine
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "trel.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	disk, _ := blob.NewDisk(filepath.Join(dir, "blobs"))
	cb := &countingBlobs{Store: disk, opens: map[string]*atomic.Int32{}}
	f := &fixture{svc: core.New(st, cb, core.Options{}), st: st, blobs: cb, gpg: gpgtest.New(t)}
	f.engine = checks.NewEngine(st, cb, sigstore.DefaultVerifier())
	sys := core.SystemActor
	mk := func(name string) *core.Actor {
		u, err := f.svc.CreateUser(ctx, sys, core.NewUser{Username: name, Email: name + "@example.org"})
		if err != nil {
			t.Fatal(err)
		}
		return &core.Actor{User: u}
	}
	f.alice, f.bob = mk("alice"), mk("bob")
	must(t, err2(f.svc.CreateCommittee(ctx, sys, "alpha", "Alpha")))
	must(t, err2(f.svc.AddMember(ctx, sys, "alpha", "alice", domain.RoleMember)))
	must(t, err2(f.svc.CreateProject(ctx, sys, "alpha-lib", "alpha", "Lib")))
	must(t, err2(f.svc.StartRelease(ctx, f.alice, "alpha-lib", "1.0")))
	f.fpr = f.gpg.GenKey(t, "", "Alice <alice@example.org>", "ed25519", "sign", "2y")
	return f
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func err2[T any](_ T, err error) error { return err }

// upload puts files into a new revision and returns its id.
func (f *fixture) upload(t *testing.T, files map[string][]byte) int64 {
	t.Helper()
	ctx := context.Background()
	var req core.RevisionRequest
	for p, data := range files {
		b, err := f.svc.UploadFile(ctx, f.alice, "alpha-lib", "1.0", bytes.NewReader(data), -1)
		must(t, err)
		req.Changes = append(req.Changes, core.Change{Op: "put", Path: p, SHA256: b.SHA256})
	}
	res, err := f.svc.CreateRevision(ctx, f.alice, "alpha-lib", "1.0", req)
	must(t, err)
	return res.Revision.ID
}

// run runs the checks of revision id for its current generation.
func (f *fixture) run(t *testing.T, id int64) map[string]domain.CheckResult {
	t.Helper()
	ctx := context.Background()
	run, err := f.st.CheckRun(ctx, id)
	must(t, err)
	stored, err := f.engine.Run(ctx, id, run.Generation)
	must(t, err)
	if !stored {
		t.Fatal("results were not stored")
	}
	rs, err := f.st.CheckResults(ctx, id)
	must(t, err)
	out := map[string]domain.CheckResult{}
	for _, r := range rs {
		out[r.Checker+":"+r.Path] = r
	}
	return out
}

func (f *fixture) release(t *testing.T) (artifact, asc, sum []byte) {
	artifact = archivetest.SourceTarGz(t, "alpha-lib-1.0", bytes.Repeat([]byte("release bytes "), 5000))
	asc = f.gpg.Sign(t, "", f.fpr, artifact, "--digest-algo", "SHA512")
	d := sha512.Sum512(artifact)
	sum = []byte(hex.EncodeToString(d[:]) + "  alpha-lib-1.0.tar.gz\n")
	return
}

func TestSignatureVerdicts(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	artifact, asc, sum := f.release(t)
	files := map[string][]byte{"alpha-lib-1.0.tar.gz": artifact, "alpha-lib-1.0.tar.gz.asc": asc, "alpha-lib-1.0.tar.gz.sha512": sum}
	sig := "signature:alpha-lib-1.0.tar.gz.asc"

	id := f.upload(t, files)
	r := f.run(t, id)[sig]
	if r.Status != domain.StatusBlocker || !strings.Contains(r.Message, f.fpr) || !strings.Contains(r.Message, "trel keys add") {
		t.Fatalf("unknown key: %s %q", r.Status, r.Message)
	}

	// Registered and linked, but nobody proved ownership: still a blocker.
	_, err := f.svc.AddKeys(ctx, f.bob, f.gpg.Export(t, f.fpr), core.AddKeysOptions{})
	must(t, err)
	_, err = f.svc.AddKeys(ctx, f.alice, f.gpg.Export(t, f.fpr), core.AddKeysOptions{Committees: []string{"alpha"}})
	must(t, err)
	r = f.run(t, id)[sig]
	if r.Status != domain.StatusBlocker || !strings.Contains(r.Message, "nobody has proven to own key") {
		t.Fatalf("unowned key: %s %q", r.Status, r.Message)
	}

	// Alice proves ownership by signing the challenge with gpg.
	challenge, err := f.svc.KeyChallenge(ctx, f.alice, f.fpr)
	must(t, err)
	proof := f.gpg.Sign(t, "", f.fpr, []byte(challenge))
	if _, err := f.svc.KeyChallenge(ctx, f.bob, f.fpr); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("bob may not claim alice's key: %v", err)
	}
	k, err := f.svc.ProveKey(ctx, f.alice, f.fpr, proof)
	must(t, err)
	if k.Owner != "alice" || k.Proof != "challenge" {
		t.Fatalf("owner %q proof %q", k.Owner, k.Proof)
	}
	if _, err := f.svc.ProveKey(ctx, f.alice, f.fpr, proof); err == nil {
		t.Fatal("a used challenge was accepted again")
	}
	r = f.run(t, id)[sig]
	if r.Status != domain.StatusNote || r.Details["signer_fingerprint"] != f.fpr || r.Details["owner"] != "alice" || r.Details["hash_algorithm"] != "SHA-512" {
		t.Fatalf("proven key: %s %q %v", r.Status, r.Message, r.Details)
	}

	// Once alice leaves the committee, her signature no longer counts.
	must(t, f.svc.RemoveMember(ctx, core.SystemActor, "alpha", "alice"))
	r = f.run(t, id)[sig]
	if r.Status != domain.StatusBlocker || !strings.Contains(r.Message, "not a member or committer") {
		t.Fatalf("owner left: %s %q", r.Status, r.Message)
	}
}

func TestAutomationKeyCounts(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ci := f.gpg.GenKey(t, "", "Alpha CI <ci@alpha.example>", "ed25519", "sign", "2y")
	artifact := []byte("built by CI")
	asc := f.gpg.Sign(t, "", ci, artifact)
	if _, err := f.svc.AddKeys(ctx, f.bob, f.gpg.Export(t, ci), core.AddKeysOptions{Committees: []string{"alpha"}, Automation: true}); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("a non-member registered an automation key: %v", err)
	}
	_, err := f.svc.AddKeys(ctx, f.alice, f.gpg.Export(t, ci), core.AddKeysOptions{Committees: []string{"alpha"}, Automation: true})
	must(t, err)
	id := f.upload(t, map[string][]byte{"a.tar.gz": artifact, "a.tar.gz.asc": asc})
	r := f.run(t, id)["signature:a.tar.gz.asc"]
	if r.Status != domain.StatusNote || r.Details["automation"] != true || !strings.Contains(r.Message, "automation key") {
		t.Fatalf("%s %q", r.Status, r.Message)
	}
}

func TestChecksNeverReadArtifactsAndReuseResults(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	artifact, asc, sum := f.release(t)
	id := f.upload(t, map[string][]byte{"alpha-lib-1.0.tar.gz": artifact, "alpha-lib-1.0.tar.gz.asc": asc, "alpha-lib-1.0.tar.gz.sha512": sum})
	first := f.run(t, id)
	if r := first["checksum:alpha-lib-1.0.tar.gz.sha512"]; r.Status != domain.StatusNote {
		t.Fatalf("checksum: %s %q", r.Status, r.Message)
	}
	rev, _ := f.st.RevisionByID(ctx, id)
	for _, file := range rev.Files {
		n := int32(0)
		if c := f.blobs.opens[file.SHA256]; c != nil {
			n = c.Load()
		}
		// Only the archive pass reads the artifact, once for all the
		// archive checks; signatures and checksums never do.
		if strings.HasSuffix(file.Path, ".tar.gz") && n != 1 {
			t.Fatalf("the artifact was read %d times by the checks, want once (the archive pass)", n)
		}
		if !strings.HasSuffix(file.Path, ".tar.gz") && n != 1 {
			t.Fatalf("%s was read %d times, want once", file.Path, n)
		}
	}
	// Run again: identical inputs, so every result is reused.
	_, err := f.svc.RerunChecks(ctx, f.alice, "alpha-lib", "1.0", 0)
	must(t, err)
	again := f.run(t, id)
	for _, file := range rev.Files {
		if strings.HasSuffix(file.Path, ".tar.gz") && f.blobs.opens[file.SHA256].Load() != 1 {
			t.Fatal("the archive pass ran again for identical inputs")
		}
	}
	for k, r := range again {
		if r.Checker == "policy" {
			continue // the policy conclusion is recomputed every time
		}
		// A reused result keeps the time it was first computed.
		if !r.CreatedAt.Equal(first[k].CreatedAt) || r.Status != first[k].Status {
			t.Fatalf("%s was not reused: %+v", k, r)
		}
	}
}

func TestChecksumMismatchIsABlocker(t *testing.T) {
	f := newFixture(t)
	id := f.upload(t, map[string][]byte{"x.zip": []byte("zip"), "x.zip.sha512": []byte(strings.Repeat("ab", 64) + "  x.zip\n")})
	rs := f.run(t, id)
	if r := rs["checksum:x.zip.sha512"]; r.Status != domain.StatusBlocker || !strings.Contains(r.Message, "checksum mismatch") {
		t.Fatalf("%s %q", r.Status, r.Message)
	}
	if r := rs["paths:x.zip"]; r.Status != domain.StatusBlocker || !strings.Contains(r.Message, "signature") {
		t.Fatalf("unsigned artifact: %s %q", r.Status, r.Message)
	}
}

type panicky struct{}

func (panicky) Name() string { return "panicky" }
func (panicky) Plan(ctx context.Context, in *checks.Input) ([]checks.Task, error) {
	return []checks.Task{{Checker: "panicky", Version: 1, Path: "x", Inputs: []string{"x"},
		Run: func(context.Context) []checks.Outcome { panic("boom") }}}, nil
}

// TestPanickingCheckerBecomesAnException proves a bug in one checker is
// reported as an exception, is never reused, and does not stop the others.
func TestPanickingCheckerBecomesAnException(t *testing.T) {
	f := newFixture(t)
	f.engine.Checkers = append(checks.All(sigstore.DefaultVerifier()), panicky{})
	id := f.upload(t, map[string][]byte{"README.txt": []byte("hi")})
	rs := f.run(t, id)
	if r := rs["panicky:x"]; r.Status != domain.StatusException || !strings.Contains(r.Message, "says nothing about the file") {
		t.Fatalf("%+v", r)
	}
	if r, ok := rs["paths:README.txt"]; !ok || r.Status == domain.StatusException {
		t.Fatalf("the other checks did not run: %+v", rs)
	}
}

// signer signs in-process with alice's gpg key, for benchmarks that need
// thousands of signatures.
func (f *fixture) signer(b testing.TB) *openpgp.SigningKey {
	k, err := openpgp.ReadSecretKey(f.gpg.ExportSecret(b, f.fpr), nil)
	must(b, err)
	return k
}

func sign(b testing.TB, k *openpgp.SigningKey, r io.Reader) []byte {
	var buf bytes.Buffer
	must(b, k.SignDetached(&buf, r))
	return buf.Bytes()
}

// proveAlice registers alice's key for the committee with proven ownership.
func (f *fixture) proveAlice(t testing.TB) {
	ctx := context.Background()
	_, err := f.svc.AddKeys(ctx, f.alice, f.gpg.Export(t, f.fpr), core.AddKeysOptions{Committees: []string{"alpha"}})
	must(t, err)
	challenge, err := f.svc.KeyChallenge(ctx, f.alice, f.fpr)
	must(t, err)
	_, err = f.svc.ProveKey(ctx, f.alice, f.fpr, f.gpg.Sign(t, "", f.fpr, []byte(challenge)))
	must(t, err)
}

// BenchmarkRevisionOf1000Artifacts measures all checks of a revision with
// 1,000 small artifacts, each with .asc and .sha512 (target: under 5 s).
func BenchmarkRevisionOf1000Artifacts(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	f.proveAlice(b)
	k := f.signer(b)
	var req core.RevisionRequest
	for i := range 1000 {
		data := []byte(fmt.Sprintf("artifact %d", i))
		name := fmt.Sprintf("a%04d.tar.gz", i)
		d := sha512.Sum512(data)
		for p, content := range map[string][]byte{
			name: data, name + ".asc": sign(b, k, bytes.NewReader(data)), name + ".sha512": []byte(hex.EncodeToString(d[:]) + "  " + name + "\n"),
		} {
			blob, err := f.svc.UploadFile(ctx, f.alice, "alpha-lib", "1.0", bytes.NewReader(content), -1)
			must(b, err)
			req.Changes = append(req.Changes, core.Change{Op: "put", Path: p, SHA256: blob.SHA256})
		}
	}
	res, err := f.svc.CreateRevision(ctx, f.alice, "alpha-lib", "1.0", req)
	must(b, err)
	b.ResetTimer()
	for b.Loop() {
		in, err := f.engine.Input(ctx, res.Revision.ID)
		must(b, err)
		rs := f.engine.Evaluate(ctx, in) // nothing stored, so nothing reused
		if n := countStatus(rs, domain.StatusNote); n < 3000 {
			b.Fatalf("only %d notes among %d results", n, len(rs))
		}
	}
}

func countStatus(rs []domain.CheckResult, s domain.CheckStatus) int {
	n := 0
	for _, r := range rs {
		if r.Status == s {
			n++
		}
	}
	return n
}

// BenchmarkChecksOfLargeArtifact measures all checks of a revision holding
// one large artifact (TREL_BENCH_SIZE_MIB, default 1024) with .asc (SHA-512)
// and .sha512, and reports the time as a ratio to sha512sum of the same
// file measured in the same run (target: at most 1.1).
func BenchmarkChecksOfLargeArtifact(b *testing.B) {
	ctx := context.Background()
	size := int64(1024)
	if v := os.Getenv("TREL_BENCH_SIZE_MIB"); v != "" {
		fmt.Sscan(v, &size)
	}
	f := newFixture(b)
	f.proveAlice(b)
	k := f.signer(b)
	path := filepath.Join(b.TempDir(), "big.tar.gz")
	fh, err := os.Create(path)
	must(b, err)
	block := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	for i := int64(0); i < size; i++ {
		fh.Write(block)
	}
	fh.Close()
	open := func() *os.File { fh, err := os.Open(path); must(b, err); return fh }
	sha512sum := func() time.Duration {
		start := time.Now()
		out, err := exec.Command("sha512sum", path).Output()
		must(b, err)
		if len(out) < 128 {
			b.Fatal("sha512sum printed nothing")
		}
		return time.Since(start)
	}
	asc := sign(b, k, open())
	up, err := f.svc.UploadFile(ctx, f.alice, "alpha-lib", "1.0", open(), -1)
	must(b, err)
	ascBlob, err := f.svc.UploadFile(ctx, f.alice, "alpha-lib", "1.0", bytes.NewReader(asc), -1)
	must(b, err)
	sumBlob, err := f.svc.UploadFile(ctx, f.alice, "alpha-lib", "1.0", strings.NewReader(up.SHA512+"  big.tar.gz\n"), -1)
	must(b, err)
	res, err := f.svc.CreateRevision(ctx, f.alice, "alpha-lib", "1.0", core.RevisionRequest{Changes: []core.Change{
		{Op: "put", Path: "big.tar.gz", SHA256: up.SHA256}, {Op: "put", Path: "big.tar.gz.asc", SHA256: ascBlob.SHA256},
		{Op: "put", Path: "big.tar.gz.sha512", SHA256: sumBlob.SHA256}}})
	must(b, err)
	ref := sha512sum()
	b.ResetTimer()
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		in, err := f.engine.Input(ctx, res.Revision.ID)
		must(b, err)
		rs := f.engine.Evaluate(ctx, in)
		total += time.Since(start)
		if countStatus(rs, domain.StatusNote) < 3 {
			b.Fatalf("checks did not pass: %+v", rs)
		}
	}
	b.StopTimer()
	per := total / time.Duration(b.N)
	b.ReportMetric(per.Seconds()/ref.Seconds(), "x_sha512sum")
	b.ReportMetric(ref.Seconds(), "sha512sum_s")
}

// TestSigstoreBundleTrustFollowsProjectIdentities uploads a real artifact
// with its Sigstore bundle: untrusted signer first (blocker naming the
// identity and the command to trust it), then trusted once the project
// lists the identity, and untrusted again when the identity is removed.
func TestSigstoreBundleTrustFollowsProjectIdentities(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	dir := "../sigstore/testdata/gh-cli/" // public fixtures, see its PROVENANCE.md
	artifact, err := os.ReadFile(dir + "sigstore-js-2.1.0.tgz")
	must(t, err)
	bundle, err := os.ReadFile(dir + "sigstore-js-2.1.0-bundle.json")
	must(t, err)
	id := f.upload(t, map[string][]byte{"sigstore-js-2.1.0.tgz": artifact, "sigstore-js-2.1.0.tgz.sigstore.json": bundle})
	key := "sigstore:sigstore-js-2.1.0.tgz.sigstore.json"
	const subject = "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"

	r := f.run(t, id)[key]
	if r.Status != domain.StatusBlocker || !strings.Contains(r.Message, subject) || !strings.Contains(r.Message, "trel sigstore identity add alpha-lib") {
		t.Fatalf("untrusted: %s %q", r.Status, r.Message)
	}
	trusted, err := f.svc.AddSigstoreIdentity(ctx, f.alice, "alpha-lib", domain.SigstoreIdentity{
		Issuer: "https://token.actions.githubusercontent.com", Subject: subject})
	must(t, err)
	r = f.run(t, id)[key]
	if r.Status != domain.StatusNote || r.Details["identity"] != subject || r.Details["log_index"] == nil {
		t.Fatalf("trusted: %s %q %v", r.Status, r.Message, r.Details)
	}
	must(t, f.svc.RemoveSigstoreIdentity(ctx, f.alice, "alpha-lib", trusted.ID))
	if r = f.run(t, id)[key]; r.Status != domain.StatusBlocker {
		t.Fatalf("after removal: %s %q", r.Status, r.Message)
	}
	// A tampered artifact makes the bundle invalid, whoever is trusted.
	_, err = f.svc.AddSigstoreIdentity(ctx, f.alice, "alpha-lib", domain.SigstoreIdentity{
		Issuer: "https://token.actions.githubusercontent.com", Subject: subject})
	must(t, err)
	id = f.upload(t, map[string][]byte{"sigstore-js-2.1.0.tgz": append(artifact, 0)})
	if r = f.run(t, id)[key]; r.Status != domain.StatusBlocker || !strings.Contains(r.Message, "not valid") {
		t.Fatalf("tampered: %s %q", r.Status, r.Message)
	}
	if _, err := f.svc.AddSigstoreIdentity(ctx, f.bob, "alpha-lib", domain.SigstoreIdentity{Issuer: "x", Subject: "y"}); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("a non-member changed the trusted identities: %v", err)
	}
}
