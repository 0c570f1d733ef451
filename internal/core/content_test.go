package core_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"trel/internal/blob"
	"trel/internal/core"
	"trel/internal/domain"
)

func upload(t *testing.T, svc *core.Service, a *core.Actor, version, content string) (*domain.Blob, error) {
	t.Helper()
	return svc.UploadFile(context.Background(), a, "alpha-lib", version, strings.NewReader(content), int64(len(content)))
}

// TestQuotas: per-release and per-user quotas refuse with too_large and
// say the quota and the usage; identical content is counted once per
// release; the limits hold under concurrent uploads.
func TestQuotas(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, func(o *core.Options) { o.Quota = domain.Quota{Release: 100, User: 150} })
	m, c := w.actors["member"], w.actors["committer"]
	// newWorld uploaded 7 bytes ("content").
	if _, err := upload(t, w.svc, m, "1.0", strings.Repeat("a", 60)); err != nil {
		t.Fatal(err)
	}
	if _, err := upload(t, w.svc, m, "1.0", strings.Repeat("a", 60)); err != nil {
		t.Fatalf("identical content again: %v", err)
	}
	_, err := upload(t, w.svc, c, "1.0", strings.Repeat("b", 40))
	if !domain.IsKind(err, domain.KindTooLarge) {
		t.Fatalf("over the release quota: %v", err)
	}
	for _, want := range []string{"release alpha-lib 1.0", "quota of 100 B", "67 B used", "--release-quota"} {
		if !strings.Contains(domain.PublicMessage(err), want) {
			t.Errorf("the message %q lacks %q", domain.PublicMessage(err), want)
		}
	}
	// Without an announced size the transaction refuses it just the same.
	_, err = w.svc.UploadFile(ctx, c, "alpha-lib", "1.0", strings.NewReader(strings.Repeat("c", 40)), -1)
	if !domain.IsKind(err, domain.KindTooLarge) {
		t.Fatalf("over the quota, size unknown: %v", err)
	}
	if _, err := upload(t, w.svc, c, "1.0", strings.Repeat("b", 33)); err != nil {
		t.Fatalf("up to the quota: %v", err)
	}

	// A file larger than the whole quota is refused before it streams.
	_, err = w.svc.UploadFile(ctx, c, "alpha-lib", "1.0", io.MultiReader(strings.NewReader("x"), failingReader{}), 101)
	if !domain.IsKind(err, domain.KindTooLarge) || !strings.Contains(domain.PublicMessage(err), "quota of 100 B") {
		t.Fatalf("announced size over the quota: %v", err)
	}

	// The user quota counts what the member uploaded to every release.
	if _, err := w.svc.StartRelease(ctx, m, "alpha-lib", "2.0"); err != nil {
		t.Fatal(err)
	}
	_, err = upload(t, w.svc, m, "2.0", strings.Repeat("d", 90))
	if !domain.IsKind(err, domain.KindTooLarge) || !strings.Contains(domain.PublicMessage(err), "for you") || !strings.Contains(domain.PublicMessage(err), "--user-quota") {
		t.Fatalf("over the user quota: %v", err)
	}

	// Concurrent uploads of distinct content to a fresh release: exactly as
	// many land as fit.
	if _, err := w.svc.StartRelease(ctx, m, "alpha-lib", "3.0"); err != nil {
		t.Fatal(err)
	}
	w2 := newWorld(t, func(o *core.Options) { o.Quota = domain.Quota{Release: 100} })
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w2.svc.UploadFile(ctx, w2.actors["member"], "alpha-lib", "1.0", strings.NewReader(fmt.Sprintf("%030d", i)), -1)
			switch {
			case err == nil:
				ok.Add(1)
			case domain.IsKind(err, domain.KindTooLarge):
				refused.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 3 || refused.Load() != 7 { // 7 bytes already used, 30 each
		t.Fatalf("%d uploads landed, %d refused; want 3 and 7", ok.Load(), refused.Load())
	}
	rel, _ := w2.svc.Release(ctx, w2.actors["member"], "alpha-lib", "1.0")
	if u, err := w2.svc.Store().StorageUsage(ctx, rel.ID, 0); err != nil || u.Release != 97 {
		t.Fatalf("usage %+v %v, want 97", u, err)
	}
}

// TestSecretsAreRefusedBeforeAnyRevision: private keys and credentials
// are refused at upload with the compromised message, leave no blob and
// no revision, and only their kind is audited.
func TestSecretsAreRefusedBeforeAnyRevision(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	m := w.actors["member"]
	secret := "[default]\naws_access_key_id = AKIAZ7Q2EXAMPLE7Q2X7\naws_secret_access_key = 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\n"
	before, _ := w.svc.Release(ctx, m, "alpha-lib", "1.0")
	_, err := upload(t, w.svc, m, "1.0", secret)
	if !domain.IsKind(err, domain.KindInvalid) || !strings.Contains(domain.PublicMessage(err), "compromised") {
		t.Fatalf("%v", err)
	}
	if strings.Contains(domain.PublicMessage(err), "9drTJ") {
		t.Fatal("the message echoes the secret")
	}
	n := 0
	w.blobs.List(ctx, func(string, time.Time) error { n++; return nil })
	if n != 1 { // the world's own upload
		t.Fatalf("%d blobs stored", n)
	}
	after, _ := w.svc.Release(ctx, m, "alpha-lib", "1.0")
	if after.LatestRevision != before.LatestRevision {
		t.Fatal("a revision appeared")
	}
	evs, _ := w.svc.Store().ListAudit(ctx, 10)
	found := false
	for _, e := range evs {
		if e.Action == "file.refused-secret" {
			found = true
			if fmt.Sprint(e.Details) != "map[kind:an AWS secret access key]" {
				t.Errorf("audit details: %v", e.Details)
			}
		}
	}
	if !found {
		t.Fatal("the refusal was not audited")
	}
}

// racingBlobs runs afterPut once Put has stored content, as if the storage
// sweep ran right then.
type racingBlobs struct {
	blob.Store
	afterPut func(sha string)
}

func (r racingBlobs) Put(ctx context.Context, rd io.Reader, max int64) (domain.Blob, error) {
	b, err := r.Store.Put(ctx, rd, max)
	if err == nil && r.afterPut != nil {
		r.afterPut(b.SHA256)
	}
	return b, err
}

// TestSweep: content no revision uses is collected after the grace
// period, records first and stored bytes without a record next; content
// a revision uses, recent content and content uploaded again are kept;
// an upload whose bytes the sweep took is told to upload again and leaves
// no record.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, func(o *core.Options) { o.BlobGrace = time.Hour })
	m := w.actors["member"]
	used := w.sha // in revision 1
	unused, err := upload(t, w.svc, m, "1.0", "never used\n")
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := w.blobs.Put(ctx, strings.NewReader("stored, never recorded\n"), 100)
	if err != nil {
		t.Fatal(err)
	}
	exists := func(sha string) bool { ok, _ := w.blobs.Exists(ctx, sha); return ok }
	recorded := func(sha string) bool { _, err := w.svc.Store().Blob(ctx, sha); return err == nil }

	if rep, err := w.svc.SweepBlobs(ctx); err != nil || rep != (core.SweepReport{}) {
		t.Fatalf("within the grace period: %+v %v", rep, err)
	}
	w.skew = 2 * time.Hour
	rep, err := w.svc.SweepBlobs(ctx)
	if err != nil || rep.Rows != 1 || rep.Files != 2 {
		t.Fatalf("after the grace period: %+v %v", rep, err)
	}
	if exists(unused.SHA256) || recorded(unused.SHA256) || exists(orphan.SHA256) {
		t.Fatal("unused content survived")
	}
	if !exists(used) || !recorded(used) {
		t.Fatal("content a revision uses was collected")
	}
	rel, _ := w.svc.Release(ctx, m, "alpha-lib", "1.0")
	if u, _ := w.svc.Store().StorageUsage(ctx, rel.ID, m.User.ID); u.Release != 7 || u.User != 7 {
		t.Fatalf("usage after the sweep: %+v", u)
	}
	// Collected content can be uploaded again and used.
	again, err := upload(t, w.svc, m, "1.0", "never used\n")
	if err != nil || !exists(again.SHA256) || !recorded(again.SHA256) {
		t.Fatalf("upload after collection: %v", err)
	}
	if _, err := w.svc.CreateRevision(ctx, m, "alpha-lib", "1.0", core.RevisionRequest{Changes: []core.Change{put("b.txt", again.SHA256)}}); err != nil {
		t.Fatal(err)
	}

	// The sweep's removal lands between an upload's write and its record:
	// the upload is refused and nothing names the missing bytes.
	racing := racingBlobs{Store: w.blobs}
	racing.afterPut = func(sha string) { w.blobs.Delete(ctx, sha, time.Now().Add(time.Hour)) }
	svc2 := core.New(w.svc.Store(), racing, core.Options{})
	_, err = svc2.UploadFile(ctx, m, "alpha-lib", "1.0", strings.NewReader("raced\n"), -1)
	if !domain.IsKind(err, domain.KindConflict) || !strings.Contains(domain.PublicMessage(err), "upload it again") {
		t.Fatalf("an upload whose bytes were swept: %v", err)
	}
	if recorded(sha256Of("raced\n")) {
		t.Fatal("a record names bytes the sweep removed")
	}
}

// TestSweepRacesRevisionCreation: revisions created while the sweep
// collects the content they name either keep it or fail; no revision
// ever names content that is gone.
func TestSweepRacesRevisionCreation(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, func(o *core.Options) { o.BlobGrace = time.Hour })
	m := w.actors["member"]
	var shas []string
	for i := range 20 {
		b, err := upload(t, w.svc, m, "1.0", fmt.Sprintf("content %d\n", i))
		if err != nil {
			t.Fatal(err)
		}
		shas = append(shas, b.SHA256)
	}
	w.skew = 2 * time.Hour
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if _, err := w.svc.SweepBlobs(ctx); err != nil {
			t.Error(err)
		}
	}()
	go func() {
		defer wg.Done()
		for i, sha := range shas {
			_, err := w.svc.CreateRevision(ctx, m, "alpha-lib", "1.0", core.RevisionRequest{Changes: []core.Change{put(fmt.Sprintf("f%d.txt", i), sha)}})
			if err != nil && !strings.Contains(domain.PublicMessage(err), "was not uploaded to this release") {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	revs, _ := w.svc.ListRevisions(ctx, m, "alpha-lib", "1.0")
	for _, r := range revs {
		_, rev, err := w.svc.Revision(ctx, m, "alpha-lib", "1.0", r.Number)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range rev.Files {
			if ok, _ := w.blobs.Exists(ctx, f.SHA256); !ok {
				t.Fatalf("revision %d names %s, whose bytes are gone", r.Number, f.Path)
			}
		}
	}
	// A second sweep finds nothing more to do with what revisions use.
	if _, err := w.svc.SweepBlobs(ctx); err != nil {
		t.Fatal(err)
	}
}

func sha256Of(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// failingReader fails the test's upload if anyone reads past its start.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) {
	panic("the upload was streamed although its size alone is over the quota")
}

// TestNamesPeopleSeeAreVisible: committee, project and display names with
// bidi or format controls, in NFD or with outer spaces are refused.
func TestNamesPeopleSeeAreVisible(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	sys := core.SystemActor
	for _, name := range []string{"Apache\u202eTomcat", "Tom\u200bcat", "Cafe\u0301", " Tomcat", "Tomcat "} {
		_, err := w.svc.CreateCommittee(ctx, sys, "tomcat", name)
		if !domain.IsKind(err, domain.KindInvalid) {
			t.Errorf("committee name %q: %v", name, err)
		}
		_, err = w.svc.CreateProject(ctx, sys, "tomcat-server", "alpha", name)
		if !domain.IsKind(err, domain.KindInvalid) {
			t.Errorf("project name %q: %v", name, err)
		}
		_, err = w.svc.CreateUser(ctx, sys, core.NewUser{Username: "eve", Email: "eve@example.org", Name: name})
		if !domain.IsKind(err, domain.KindInvalid) {
			t.Errorf("display name %q: %v", name, err)
		}
	}
	if _, err := w.svc.CreateCommittee(ctx, sys, "tomcat", "Apache Tomcat: servlets & more"); err != nil {
		t.Fatal(err)
	}
}

// TestPutLastEndsTheLeaseWithItsFile: with one upload allowed per user,
// the file PutLast stored has already given the lease back (a next upload
// may start before Done); a PutLast that failed keeps it until Done.
func TestPutLastEndsTheLeaseWithItsFile(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, func(o *core.Options) { o.UploadsPerUser = 1 })
	m := w.actors["member"]
	busy := func() bool {
		t.Helper()
		u, err := w.svc.PrepareUpload(ctx, m, "alpha-lib", "1.0")
		if err == nil {
			u.Done()
			return false
		}
		if !domain.IsKind(err, domain.KindRateLimited) {
			t.Fatalf("PrepareUpload: %v", err)
		}
		return true
	}
	u, err := w.svc.PrepareUpload(ctx, m, "alpha-lib", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	if !busy() {
		t.Fatal("a second upload started while the first held the only lease")
	}
	if _, err := u.PutLast(ctx, strings.NewReader("last\n"), 5); err != nil {
		t.Fatal(err)
	}
	if busy() {
		t.Fatal("the lease outlived the file PutLast stored")
	}
	u.Done()

	u, err = w.svc.PrepareUpload(ctx, m, "alpha-lib", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.PutLast(ctx, strings.NewReader("short\n"), 99); err == nil {
		t.Fatal("a body shorter than announced was stored")
	}
	if !busy() {
		t.Fatal("a failed PutLast gave the lease back before Done")
	}
	u.Done()
	if busy() {
		t.Fatal("Done did not give the lease back")
	}
}
