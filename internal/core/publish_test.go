package core_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/downloads"
	"trel/internal/translog"
)

// logAdapter puts manifests into a real public log, failing the appends
// counted down in failAppends (a log that does not answer).
type logAdapter struct {
	log         *translog.Log
	failAppends atomic.Int32
	appends     atomic.Int32
}

func (l *logAdapter) AppendManifest(ctx context.Context, m []byte) (uint64, error) {
	if l.failAppends.Add(-1) >= 0 {
		return 0, errors.New("the log did not answer")
	}
	l.appends.Add(1)
	return l.log.Append(ctx, translog.ManifestEntry(m, time.Now()))
}
func (l *logAdapter) NextIndex(ctx context.Context) (uint64, error) { return l.log.NextIndex(ctx) }
func (l *logAdapter) FindManifest(ctx context.Context, m []byte, from uint64) (uint64, bool, error) {
	return l.log.FindManifest(ctx, m, from)
}

// previewWorld is a world whose alpha-lib 1.0 passed its vote, with a
// downloads tree and a public log.
func previewWorld(t *testing.T, options ...func(*core.Options)) (*world, *downloads.Dir, *logAdapter) {
	t.Helper()
	ctx := context.Background()
	w := newWorld(t, options...)
	m := w.actors["member"]
	pol := domain.DefaultPolicy()
	pol.MinVoteHours, pol.MinBindingPlusOnes = 0, 1
	pol.Unsigned = []domain.UnsignedRule{{Pattern: "*.txt", Reason: "notes"}}
	if _, err := w.svc.SetPolicy(ctx, m, "alpha-lib", pol); err != nil {
		t.Fatal(err)
	}
	addSignedArtifact(t, w)
	rel, _ := w.svc.Release(ctx, m, "alpha-lib", "1.0")
	runChecks(t, w, rel)
	for _, step := range []func() error{
		func() error { _, err := w.svc.StartVote(ctx, m, "alpha-lib", "1.0"); return err },
		func() error { _, err := w.svc.CastVote(ctx, m, "alpha-lib", "1.0", 1, ""); return err },
		func() error { _, err := w.svc.ResolveVote(ctx, m, "alpha-lib", "1.0"); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	tree, err := downloads.New(filepath.Join(w.dir, "downloads"), w.blobs)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := translog.LoadOrCreateSigner(filepath.Join(w.dir, "log.key"), "trel.test/log")
	if err != nil {
		t.Fatal(err)
	}
	tl, err := translog.Open(ctx, filepath.Join(w.dir, "log"), signer, translog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close(context.Background()) })
	la := &logAdapter{log: tl}
	w.svc.SetPublisher(tree, la)
	return w, tree, la
}

// manifestEntries counts the release-manifest entries of the log.
func manifestEntries(t *testing.T, l *translog.Log) int {
	t.Helper()
	ctx := context.Background()
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0
		}
		t.Fatal(err)
	}
	n := 0
	for ie, err := range l.Client().Entries(ctx, cp, 0, cp.Size) {
		if err != nil {
			t.Fatal(err)
		}
		if ie.Entry.Kind == translog.KindReleaseManifest {
			n++
		}
	}
	return n
}

// TestPublicationIsRecordedAndLoggedOnce: a publication whose log append
// fails is recorded and taken up again by the retry, which appends once;
// a retry of a published release is refused without touching the log;
// the published manifest proves its own entry.
func TestPublicationIsRecordedAndLoggedOnce(t *testing.T) {
	ctx := context.Background()
	w, _, la := previewWorld(t)
	m := w.actors["member"]
	la.failAppends.Store(1)
	if _, err := w.svc.Publish(ctx, m, "alpha-lib", "1.0"); err == nil {
		t.Fatal("published while the log failed")
	}
	rel, _ := w.svc.Release(ctx, m, "alpha-lib", "1.0")
	pub, err := w.svc.Store().Publication(ctx, rel.ID)
	if err != nil || pub.State != domain.PublicationPublishing || rel.Phase != domain.PhasePreview {
		t.Fatalf("after a failed append: %+v %v, phase %s", pub, err, rel.Phase)
	}
	man, err := w.svc.Publish(ctx, m, "alpha-lib", "1.0")
	if err != nil || man.LogIndex == nil {
		t.Fatalf("retry: %+v %v", man, err)
	}
	if _, err := w.svc.Publish(ctx, m, "alpha-lib", "1.0"); !domain.IsKind(err, domain.KindConflict) || !strings.Contains(domain.PublicMessage(err), "phase released") {
		t.Fatalf("publishing a published release: %v", err)
	}
	if n := manifestEntries(t, la.log); n != 1 || la.appends.Load() != 1 {
		t.Fatalf("%d manifest entries, %d appends; want 1", n, la.appends.Load())
	}
	// The file in the tree carries the index, and the entry is that of the
	// manifest as it was before the index was filled in.
	data, err := os.ReadFile(filepath.Join(w.dir, "downloads", "alpha", "alpha-lib", "1.0", downloads.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	logged, idx, err := translog.LoggedManifest(data)
	if err != nil || idx != *man.LogIndex {
		t.Fatalf("%v, index %d want %d", err, idx, *man.LogIndex)
	}
	cp, _ := la.log.Checkpoint(ctx)
	e, err := la.log.Client().Entry(ctx, cp, idx)
	if err != nil || !e.Matches(logged) {
		t.Fatalf("entry %d: %+v %v", idx, e, err)
	}
	if err := la.log.Client().ProveInclusion(ctx, e, idx, cp); err != nil {
		t.Fatal(err)
	}
}

// TestInterruptedPublicationIsFinished stops a publication at each of its
// steps (as a crash would) and restarts it: the release ends published
// once, with one manifest entry, and no half-written directory is left.
func TestInterruptedPublicationIsFinished(t *testing.T) {
	for _, step := range []string{"recorded", "logged", "index-recorded", "tree-copied", "tree-written"} {
		t.Run(step, func(t *testing.T) {
			ctx := context.Background()
			crash := true
			w, tree, la := previewWorld(t, func(o *core.Options) {
				o.PublishHook = func(s string) {
					if crash && s == step {
						panic("crash at " + s)
					}
				}
			})
			tree.BeforeRename = func() {
				if crash && step == "tree-copied" {
					panic("crash at tree-copied")
				}
			}
			func() {
				defer func() {
					if v := recover(); v == nil {
						t.Fatal("the publication did not reach the step")
					}
				}()
				w.svc.Publish(ctx, w.actors["member"], "alpha-lib", "1.0")
			}()
			crash = false
			// Start-up: remove half-written directories, finish publications.
			if err := tree.CleanTemp(); err != nil {
				t.Fatal(err)
			}
			if err := w.svc.ResumePublications(ctx); err != nil {
				t.Fatal(err)
			}
			rel, _ := w.svc.Release(ctx, w.actors["member"], "alpha-lib", "1.0")
			if rel.Phase != domain.PhaseReleased {
				t.Fatalf("phase %s after the restart", rel.Phase)
			}
			if n := manifestEntries(t, la.log); n != 1 {
				t.Fatalf("%d manifest entries", n)
			}
			entries, _ := os.ReadDir(filepath.Join(w.dir, "downloads", "alpha", "alpha-lib"))
			if len(entries) != 1 || entries[0].Name() != "1.0" {
				t.Fatalf("the project directory holds %v", entries)
			}
			if _, err := w.svc.Publish(ctx, w.actors["member"], "alpha-lib", "1.0"); err == nil {
				t.Fatal("published again")
			}
			if n := manifestEntries(t, la.log); n != 1 {
				t.Fatalf("%d manifest entries after a refused retry", n)
			}
		})
	}
}

// TestConcurrentPublishesLogOnce: two release managers press "publish" at
// once; one publishes, the other is told it is under way (or that it is
// done), and the log holds one manifest.
func TestConcurrentPublishesLogOnce(t *testing.T) {
	ctx := context.Background()
	w, _, la := previewWorld(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := w.svc.Publish(ctx, w.actors["member"], "alpha-lib", "1.0")
			errs <- err
		}()
	}
	ok := 0
	for range 4 {
		err := <-errs
		switch {
		case err == nil:
			ok++
		case domain.IsKind(err, domain.KindConflict):
		default:
			t.Error(err)
		}
	}
	if ok != 1 || manifestEntries(t, la.log) != 1 {
		t.Fatalf("%d publications succeeded, %d manifest entries", ok, manifestEntries(t, la.log))
	}
}

// TestCancelRefusedWhilePublishing: once a publication is recorded (its
// manifest may already be in the public log), the vote can no longer be
// cancelled: the release would return to draft while the publication is
// still finished at the next start-up, or taken up by the next "publish"
// of another revision. The refusal says how to finish it; nothing changes.
func TestCancelRefusedWhilePublishing(t *testing.T) {
	ctx := context.Background()
	w, _, la := previewWorld(t)
	m := w.actors["member"]
	la.failAppends.Store(1)
	if _, err := w.svc.Publish(ctx, m, "alpha-lib", "1.0"); err == nil {
		t.Fatal("published while the log failed")
	}
	err := w.svc.CancelVote(ctx, m, "alpha-lib", "1.0", "the log is down, start over")
	if !domain.IsKind(err, domain.KindConflict) || !strings.Contains(domain.PublicMessage(err), "trel release publish alpha-lib 1.0") {
		t.Fatalf("cancel during an interrupted publication: %v", err)
	}
	rel, _ := w.svc.Release(ctx, m, "alpha-lib", "1.0")
	if rel.Phase != domain.PhasePreview {
		t.Fatalf("phase %s after the refused cancel", rel.Phase)
	}
	if man, err := w.svc.Publish(ctx, m, "alpha-lib", "1.0"); err != nil || man.LogIndex == nil {
		t.Fatalf("finishing the publication: %+v %v", man, err)
	}
	if n := manifestEntries(t, la.log); n != 1 {
		t.Fatalf("%d manifest entries", n)
	}
}
