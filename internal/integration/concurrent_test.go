package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"trel/client"
	"trel/internal/core"
)

// TestConcurrentUploads runs writers in parallel against one release:
// without --expect-revision every one lands, as consecutive revisions;
// with the same --expect-revision exactly one wins.
func TestConcurrentUploads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	if _, err := w.aliceC.StartRelease(ctx, "widget", "2.0.0"); err != nil {
		t.Fatal(err)
	}
	// Both committers and members may upload: use bob and alice.
	writers := []*user{w.bob, w.alice}

	const n = 8
	work := t.TempDir()
	files := map[string][]byte{}
	for i := range n {
		name := fmt.Sprintf("part-%d.bin", i)
		files[name] = pseudoRandom(name, 64<<10+i)
		writeFile(t, filepath.Join(work, name), files[name])
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = writers[i%2].runIn(t, work, "", "upload", "widget", "2.0.0", fmt.Sprintf("part-%d.bin", i), "--json")
		}()
	}
	close(start)
	wg.Wait()
	var numbers []int
	for i, r := range results {
		var res core.RevisionResult
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || res.Revision == nil || !res.Created {
			t.Errorf("parallel upload %d: %s", i, r)
			continue
		}
		numbers = append(numbers, res.Revision.Number)
		// Each revision holds its own file and everything before it.
		if len(res.Revision.Files) != res.Revision.Number {
			t.Errorf("revision %d holds %d files, want %d: an earlier upload was lost", res.Revision.Number, len(res.Revision.Files), res.Revision.Number)
		}
	}
	sort.Ints(numbers)
	if fmt.Sprint(numbers) != "[1 2 3 4 5 6 7 8]" {
		t.Fatalf("parallel uploads got revisions %v, want 1..8 each once", numbers)
	}
	revs, err := w.adminC.ListRevisions(ctx, "widget", "2.0.0")
	if err != nil || len(revs) != n {
		t.Fatalf("want %d revisions, got %d (%v)", n, len(revs), err)
	}
	for i, r := range revs {
		if r.Number != i+1 || r.Parent != i {
			t.Errorf("revision list entry %d: number %d parent %d", i, r.Number, r.Parent)
		}
	}
	last, err := w.adminC.Revision(ctx, "widget", "2.0.0", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for name, b := range files {
		want[name] = b
	}
	checkManifest(t, "the last revision", *last, want)
	// Every intermediate revision is a superset of its parent.
	prev := map[string]string{}
	for k := 1; k <= n; k++ {
		rev, err := w.adminC.Revision(ctx, "widget", "2.0.0", k)
		if err != nil {
			t.Fatal(err)
		}
		cur := map[string]string{}
		for _, f := range rev.Files {
			cur[f.Path] = f.SHA256
		}
		for p, s := range prev {
			if cur[p] != s {
				t.Errorf("revision %d lost or changed %s of revision %d", k, p, k-1)
			}
		}
		if len(cur) != len(prev)+1 {
			t.Errorf("revision %d has %d files, its parent %d", k, len(cur), len(prev))
		}
		prev = cur
	}

	t.Run("same expect-revision via the API", func(t *testing.T) {
		// Both writers upload their content first, then race to commit
		// on top of revision 8.
		type outcome struct {
			res *core.RevisionResult
			err error
		}
		clients := []*client.Client{w.bobC, w.aliceC}
		var reqs []core.RevisionRequest
		for i, c := range clients {
			b, err := c.UploadContent(ctx, "widget", "2.0.0", strings.NewReader(fmt.Sprintf("racer %d\n", i)), -1)
			if err != nil {
				t.Fatal(err)
			}
			exp := n
			reqs = append(reqs, core.RevisionRequest{ExpectRevision: &exp, Description: fmt.Sprintf("racer %d", i),
				Changes: []core.Change{{Op: "put", Path: fmt.Sprintf("racer-%d.txt", i), SHA256: b.SHA256}}})
		}
		outs := make([]outcome, len(clients))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err := c.CreateRevision(ctx, "widget", "2.0.0", reqs[i])
				outs[i] = outcome{res, err}
			}()
		}
		close(start)
		wg.Wait()
		winners := 0
		for i, o := range outs {
			if o.err == nil {
				winners++
				if o.res.Revision.Number != n+1 || !o.res.Created || len(o.res.Revision.Files) != n+1 {
					t.Errorf("the winner %d got %+v", i, o.res.Revision)
				}
				continue
			}
			apiError(t, fmt.Sprintf("racer %d", i), o.err, 409, "conflict", fmt.Sprintf("the release is at revision %d, not %d as expected", n+1, n))
		}
		if winners != 1 {
			t.Fatalf("exactly one writer with the same expected revision must win; %d did: %+v", winners, outs)
		}
		if got := revisionCount(t, w.adminC, "widget", "2.0.0"); got != n+1 {
			t.Errorf("after the race there are %d revisions, want %d", got, n+1)
		}
	})

	t.Run("same expect-revision via the CLI", func(t *testing.T) {
		cur := revisionCount(t, w.adminC, "widget", "2.0.0")
		for i := range 2 {
			writeFile(t, filepath.Join(work, fmt.Sprintf("cli-%d.txt", i)), []byte(fmt.Sprintf("cli racer %d\n", i)))
		}
		var rs [2]result
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				rs[i] = writers[i].runIn(t, work, "", "upload", "widget", "2.0.0", fmt.Sprintf("cli-%d.txt", i), "--expect-revision", fmt.Sprint(cur))
			}()
		}
		close(start)
		wg.Wait()
		won, lost := 0, 0
		for _, r := range rs {
			switch {
			case r.code == 0 && strings.Contains(r.stdout, fmt.Sprintf("Created revision %d of widget 2.0.0", cur+1)):
				won++
			case r.code == 1 && strings.Contains(r.stderr, fmt.Sprintf("the release is at revision %d, not %d as expected", cur+1, cur)):
				lost++
			default:
				t.Errorf("unexpected outcome: %s", r)
			}
		}
		if won != 1 || lost != 1 {
			t.Errorf("want one winner and one 409; got %d and %d:\n%s\n%s", won, lost, rs[0], rs[1])
		}
		if got := revisionCount(t, w.adminC, "widget", "2.0.0"); got != cur+1 {
			t.Errorf("after the CLI race there are %d revisions, want %d", got, cur+1)
		}
	})

	// The losers' conflicts are ordinary refusals, never internal errors
	// (for example SQLITE_BUSY leaking out of the store).
	var ce *client.Error
	if _, err := w.bobC.CreateRevision(ctx, "widget", "2.0.0", core.RevisionRequest{Changes: []core.Change{{Op: "delete", Path: "nope"}}}); !errors.As(err, &ce) || ce.Status != 404 {
		t.Errorf("after the races the server should still answer normally: %v", err)
	}
}
