package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trel/internal/blob"
	"trel/internal/checks"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/jobs"
	"trel/internal/sigstore"
	"trel/internal/store"
	"trel/internal/store/sqlstore"
)

// TestQueuedRunsAreCheckedAndRecovered proves the queue feeds the workers
// from the check_runs table: a run queued before the workers started (as
// after a crash) is picked up, and a run queued while they run is too.
func TestQueuedRunsAreCheckedAndRecovered(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "trel.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	blobs, _ := blob.NewDisk(filepath.Join(dir, "blobs"))
	svc := core.New(st, blobs, core.Options{})
	sys := core.SystemActor
	u, err := svc.CreateUser(ctx, sys, core.NewUser{Username: "alice", Email: "alice@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	alice := &core.Actor{User: u}
	svc.CreateCommittee(ctx, sys, "alpha", "Alpha")
	svc.AddMember(ctx, sys, "alpha", "alice", domain.RoleMember)
	svc.CreateProject(ctx, sys, "alpha-lib", "alpha", "Lib")
	if _, err := svc.StartRelease(ctx, alice, "alpha-lib", "1.0"); err != nil {
		t.Fatal(err)
	}
	revision := func(name string) int64 {
		b, err := svc.UploadFile(ctx, alice, "alpha-lib", "1.0", strings.NewReader(name), -1)
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.CreateRevision(ctx, alice, "alpha-lib", "1.0", core.RevisionRequest{Changes: []core.Change{{Op: "put", Path: name, SHA256: b.SHA256}}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Revision.ID
	}
	first := revision("README.txt") // queued with no worker running
	if q, _ := st.QueuedRuns(ctx); len(q) != 1 {
		t.Fatalf("queued: %v", q)
	}
	runner, err := jobs.Start(ctx, st.SQL(), st, checks.NewEngine(st, blobs, sigstore.DefaultVerifier()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer runner.Stop(ctx)
	svc.SetCheckNotifier(runner)
	second := revision("NOTES.txt")
	for _, id := range []int64{first, second} {
		if !waitDone(st, id) {
			t.Fatalf("revision %d was not checked", id)
		}
		rs, _ := st.CheckResults(ctx, id)
		if len(rs) == 0 {
			t.Fatalf("revision %d has no results", id)
		}
	}
}

func waitDone(st store.Store, id int64) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if run, err := st.CheckRun(context.Background(), id); err == nil && run.State == domain.RunDone {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
