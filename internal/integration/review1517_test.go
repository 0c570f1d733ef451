package integration

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestVerifyReleaseAfterlife: `trel verify --release` reports a yanked
// release with its reason, and verifies an archived release at its
// archive URL and by --server PROJECT VERSION (issue 17 promises both).
func TestVerifyReleaseAfterlife(t *testing.T) {
	w := newWorld(t)
	s := aliceSigner(t, w)
	w.alice.ok(t, "policy", "set", "widget", "--min-vote-hours", "0", "--min-binding-votes", "1")
	releaseTo(t, w, s, "1.0", false)
	w.alice.ok(t, "release", "publish", "widget", "1.0")
	relURL := w.srv.url + "/downloads/demo/widget/1.0/"
	if out := w.carol.ok(t, "verify", "--release", relURL); !strings.Contains(out, "VERIFIED: widget 1.0") || strings.Contains(out, "YANKED") {
		t.Fatalf("verify --release of a published release:\n%s", out)
	}

	w.alice.ok(t, "release", "yank", "widget", "1.0", "--reason", "CVE-2026-0001: do not use")
	out := w.carol.ok(t, "verify", "--release", relURL)
	if !strings.Contains(out, "YANKED") || !strings.Contains(out, "CVE-2026-0001: do not use") {
		t.Fatalf("verify --release does not say the release is yanked:\n%s", out)
	}
	var rep struct {
		Status struct {
			State      string `json:"state"`
			YankReason string `json:"yank_reason"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(w.carol.ok(t, "verify", "--release", relURL, "--json")), &rep); err != nil || rep.Status.State != "yanked" || rep.Status.YankReason != "CVE-2026-0001: do not use" {
		t.Fatalf("verify --release --json: %+v %v", rep, err)
	}
	out = w.carol.ok(t, "verify", "--server", w.srv.url, "widget", "1.0")
	if !strings.Contains(out, "YANKED") {
		t.Fatalf("verify --server does not say the release is yanked:\n%s", out)
	}

	w.alice.ok(t, "release", "unyank", "widget", "1.0")
	w.alice.ok(t, "release", "archive", "widget", "1.0")
	for _, args := range [][]string{
		{"verify", "--release", w.srv.url + "/archive/demo/widget/1.0/"},
		{"verify", "--server", w.srv.url, "widget", "1.0"},
	} {
		r := w.carol.run(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "VERIFIED: widget 1.0") || !strings.Contains(r.stdout, "archive") {
			t.Errorf("%v of an archived release: %s", args, r)
		}
	}
	// The old URL (in scripts, in the [ANNOUNCE]) follows the files.
	if out := w.carol.ok(t, "verify", "--release", relURL); !strings.Contains(out, "VERIFIED: widget 1.0") || !strings.Contains(out, "moved from "+relURL+" to "+w.srv.url+"/archive/demo/widget/1.0/") {
		t.Errorf("verify --release at the old URL of an archived release:\n%s", out)
	}
}
