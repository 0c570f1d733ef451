package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"trel/internal/core"
	"trel/internal/domain"
)

// TestLargeRevision commits the largest revision trel allows,
// domain.MaxFilesPerRev files with ordinary javadoc-like paths, in one
// request, and refuses one file more with a message that says why.
func TestLargeRevision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	if _, err := w.aliceC.StartRelease(ctx, "widget", "4.0.0"); err != nil {
		t.Fatal(err)
	}
	b, err := w.bobC.UploadContent(ctx, "widget", "4.0.0", strings.NewReader("<html></html>\n"), -1)
	if err != nil {
		t.Fatal(err)
	}
	changes := func(n int) []core.Change {
		var cs []core.Change
		for i := range n {
			cs = append(cs, core.Change{Op: "put", SHA256: b.SHA256,
				Path: fmt.Sprintf("site/apidocs/org/example/widget/module%02d/WidgetClass%05d.html", i%50, i)})
		}
		return cs
	}
	_, err = w.bobC.CreateRevision(ctx, "widget", "4.0.0", core.RevisionRequest{Changes: changes(domain.MaxFilesPerRev + 1)})
	apiError(t, "one change over the limit", err, 400, "invalid", fmt.Sprintf("at most %d", domain.MaxFilesPerRev))
	if n := revisionCount(t, w.bobC, "widget", "4.0.0"); n != 0 {
		t.Errorf("a refused request created %d revisions", n)
	}

	// The request body of a revision at the limit is about 1.4 MB.
	res, err := w.bobC.CreateRevision(ctx, "widget", "4.0.0", core.RevisionRequest{Changes: changes(domain.MaxFilesPerRev)})
	if err != nil {
		t.Fatalf("a revision of %d files (the documented limit) should be accepted: %v", domain.MaxFilesPerRev, err)
	}
	if res.Revision.Number != 1 || len(res.Revision.Files) != domain.MaxFilesPerRev {
		t.Errorf("got revision %d with %d files", res.Revision.Number, len(res.Revision.Files))
	}
	rev, err := w.bobC.Revision(ctx, "widget", "4.0.0", 1)
	if err != nil || len(rev.Files) != domain.MaxFilesPerRev {
		t.Errorf("reading the large revision back: %v", err)
	}
}
