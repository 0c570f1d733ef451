package integration

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/testutil/archivetest"
	"trel/internal/testutil/smtptest"
	"trel/internal/webhook"
)

// hookReceiver is a webhook receiver on loopback that verifies every
// signature and records the events it accepted.
type hookReceiver struct {
	*httptest.Server
	secret string
	mu     sync.Mutex
	events []core.WebhookPayload
	bad    int
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	h := &hookReceiver{secret: secret}
	h.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		var p core.WebhookPayload
		if !webhook.Verify(h.secret, r.Header.Get(webhook.HeaderSignature), body) || json.Unmarshal(body, &p) != nil || p.Event != r.Header.Get(webhook.HeaderEvent) {
			h.bad++
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.events = append(h.events, p)
	}))
	t.Cleanup(h.Close)
	return h
}

// seen lists "event version" of the accepted calls.
func (h *hookReceiver) seen() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, p := range h.events {
		out = append(out, p.Event+" "+p.Version)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// subjects maps each received mail's subject to its recipients.
func subjects(t *testing.T, sink *smtptest.Server) map[string][]string {
	out := map[string][]string{}
	for _, m := range sink.Messages() {
		s := m.Header().Get("Subject")
		out[s] = append(out[s], m.To...)
	}
	return out
}

// releaseTo brings widget VERSION through a vote to publication with the
// CLI (started embargoed when asked).
func releaseTo(t *testing.T, w *world, s *signer, version string, embargoed bool) {
	t.Helper()
	ctx := context.Background()
	args := []string{"release", "start", "widget", version}
	if embargoed {
		args = append(args, "--embargoed")
	}
	w.alice.ok(t, args...)
	name := "widget-" + version + ".tar.gz"
	artifact := archivetest.SourceTarGz(t, "widget-"+version, pseudoRandom(name, 32<<10))
	d := sha512.Sum512(artifact)
	put(t, w.aliceC, version, map[string][]byte{
		name:             artifact,
		name + ".asc":    s.g.Sign(t, "", s.fpr, artifact, "--digest-algo", "SHA512"),
		name + ".sha512": []byte(hex.EncodeToString(d[:]) + "  " + name + "\n"),
	})
	waitChecks(t, w.aliceC, version)
	w.alice.ok(t, "vote", "start", "widget", version)
	w.alice.ok(t, "vote", "cast", "widget", version, "+1", "--comment", "checked the signature")
	w.alice.ok(t, "vote", "resolve", "widget", version)
	if _, err := w.aliceC.Release(ctx, "widget", version); err != nil {
		t.Fatal(err)
	}
}

// TestMailWebhooksAndAfterlife drives issue 17 through the binary: mail to
// a real SMTP server, signed webhooks to a receiver on loopback, yank,
// un-yank, archive and an embargoed release, as the CLI user and as an
// anonymous visitor.
func TestMailWebhooksAndAfterlife(t *testing.T) {
	ctx := context.Background()
	sink := smtptest.Start(t, smtptest.Options{})
	w := newWorld(t, "--smtp", "smtp://"+sink.Addr, "--mail-from", "trel <trel@example.org>", "--webhook-allow-private", "--delivery-retry", "50ms")
	if !strings.Contains(w.srv.stderr.String(), "mail is on") {
		t.Fatalf("the server does not say mail is on: %s", w.srv.stderr)
	}
	st, err := w.carC.MailStatus(ctx)
	if err != nil || !st.Enabled || st.From != `"trel" <trel@example.org>` {
		t.Fatalf("mail status %+v %v", st, err)
	}
	s := aliceSigner(t, w)
	const dev, announce, private = "dev@widget.example.org", "announce@widget.example.org", "private@widget.example.org"
	w.alice.ok(t, "policy", "set", "widget", "--min-vote-hours", "0", "--min-binding-votes", "1",
		"--vote-to", dev, "--announce-to", announce, "--private-to", private)
	if out := w.alice.ok(t, "policy", "show", "widget"); !strings.Contains(out, "vote to "+dev) || !strings.Contains(out, "private list "+private) {
		t.Fatalf("policy show: %s", out)
	}
	secretFile := filepath.Join(t.TempDir(), "secret")
	writeFile(t, secretFile, []byte("a-webhook-secret-of-the-receiver\n"))
	hook := newHookReceiver(t, "a-webhook-secret-of-the-receiver")
	w.bob.fails(t, 1, []string{"member"}, "webhook", "add", "widget", hook.URL, "--secret-file", secretFile)
	w.alice.ok(t, "webhook", "add", "widget", hook.URL, "--secret-file", secretFile)

	// The [VOTE] preview before the vote.
	w.alice.ok(t, "release", "start", "widget", "0.9")
	out := w.alice.ok(t, "vote", "start", "widget", "0.9", "--preview")
	if !strings.Contains(out, "To: "+dev) || !strings.Contains(out, "Subject: [VOTE] Release Widget 0.9") || !strings.Contains(out, "Hello demo,") {
		t.Fatalf("preview: %s", out)
	}
	if rel, _ := w.aliceC.Release(ctx, "widget", "0.9"); rel.Phase != domain.PhaseDraft {
		t.Fatal("the preview started the vote")
	}

	releaseTo(t, w, s, "1.0", false)
	w.alice.ok(t, "release", "publish", "widget", "1.0")
	if !eventually(30*time.Second, func() bool { return len(subjects(t, sink)["[ANNOUNCE] Widget 1.0 released"]) > 0 }) {
		t.Fatalf("no announcement; received %v", subjects(t, sink))
	}
	got := subjects(t, sink)
	if strings.Join(got["[VOTE] Release Widget 1.0"], ",") != dev || strings.Join(got["[RESULT] [VOTE] Release Widget 1.0"], ",") != dev ||
		!contains(got["Re: [VOTE] Release Widget 1.0"], dev) || strings.Join(got["Your vote on Widget 1.0"], ",") != "alice@example.org" ||
		strings.Join(got["[ANNOUNCE] Widget 1.0 released"], ",") != announce {
		t.Fatalf("mail: %v", got)
	}
	var mails []domain.Delivery
	w.alice.okJSON(t, &mails, "release", "mail", "widget", "1.0", "--json")
	ids := map[string]string{}
	for _, d := range mails {
		ids[d.Topic] = d.MessageID
	}
	var manifest core.Manifest
	getJSON(t, w.srv.url+"/downloads/demo/widget/1.0/trel-release-manifest.json", &manifest)
	if manifest.Mail == nil || manifest.Mail.Vote != ids["vote"] || manifest.Mail.Result != ids["result"] || manifest.Mail.Announce != ids["announce"] || ids["vote"] == "" {
		t.Fatalf("manifest mail %+v, release mail %v", manifest.Mail, ids)
	}
	if !eventually(30*time.Second, func() bool { return contains(hook.seen(), "release.published 1.0") }) {
		t.Fatalf("webhook events: %v", hook.seen())
	}
	for _, e := range []string{"revision.created 1.0", "checks.finished 1.0", "vote.started 1.0", "vote.ended 1.0"} {
		if !contains(hook.seen(), e) {
			t.Errorf("webhook event %s missing: %v", e, hook.seen())
		}
	}
	if hook.bad != 0 {
		t.Fatalf("%d calls with a bad signature", hook.bad)
	}

	// Yank: release managers only, with a reason; still downloadable.
	w.bob.fails(t, 1, []string{"release manager"}, "release", "yank", "widget", "1.0", "--reason", "broken")
	w.alice.fails(t, 2, []string{"reason"}, "release", "yank", "widget", "1.0")
	w.alice.ok(t, "release", "yank", "widget", "1.0", "--reason", "CVE-2026-1234: do not use")
	if out := w.carol.ok(t, "release", "show", "widget", "1.0"); !strings.Contains(out, "YANKED") || !strings.Contains(out, "CVE-2026-1234: do not use") {
		t.Fatalf("release show: %s", out)
	}
	if out := w.carol.ok(t, "release", "feed", "widget"); !strings.Contains(out, "yanked") || !strings.Contains(out, "CVE-2026-1234") {
		t.Fatalf("feed: %s", out)
	}
	var status core.FeedEntry
	getJSON(t, w.srv.url+"/downloads/demo/widget/1.0/trel-release-status.json", &status)
	if status.State != domain.StateYanked || status.YankReason != "CVE-2026-1234: do not use" {
		t.Fatalf("anonymous status: %+v", status)
	}
	if code := httpStatus(t, w.srv.url+"/downloads/demo/widget/1.0/widget-1.0.tar.gz"); code != 200 {
		t.Fatalf("a yanked release's file: %d", code)
	}
	if !eventually(30*time.Second, func() bool { return contains(hook.seen(), "release.yanked 1.0") }) {
		t.Fatalf("no yank event: %v", hook.seen())
	}
	w.alice.ok(t, "release", "unyank", "widget", "1.0")
	getJSON(t, w.srv.url+"/api/v1/projects/widget/feed", &struct{}{})

	// Archive: the files move to /archive/, and still verify there.
	w.alice.ok(t, "release", "archive", "widget", "1.0")
	if code := httpStatus(t, w.srv.url+"/downloads/demo/widget/1.0/widget-1.0.tar.gz"); code != 404 {
		t.Fatalf("an archived file is still under /downloads/: %d", code)
	}
	dir := t.TempDir()
	for _, f := range []string{"widget-1.0.tar.gz", "widget-1.0.tar.gz.asc", "widget-1.0.tar.gz.sha512", "trel-release-manifest.json"} {
		writeFile(t, filepath.Join(dir, f), []byte(getBody(t, w.srv.url+"/archive/demo/widget/1.0/"+f)))
	}
	writeFile(t, filepath.Join(dir, "KEYS"), []byte(getBody(t, w.srv.url+"/downloads/demo/KEYS")))
	if out := w.carol.ok(t, "verify", filepath.Join(dir, "widget-1.0.tar.gz"), "--keys", filepath.Join(dir, "KEYS")); !strings.Contains(out, "VERIFIED") {
		t.Fatalf("verify the archived file: %s", out)
	}
	if out := w.carol.ok(t, "log", "verify", filepath.Join(dir, "trel-release-manifest.json")); !strings.Contains(out, "Inclusion proven") {
		t.Fatalf("log verify of the archived manifest: %s", out)
	}
	getJSON(t, w.srv.url+"/archive/demo/widget/1.0/trel-release-status.json", &status)
	if status.State != domain.StateArchived || !strings.HasSuffix(status.FilesURL, "/archive/demo/widget/1.0/") {
		t.Fatalf("archived status: %+v", status)
	}
	if !strings.Contains(getBody(t, w.srv.url+"/archive/demo/widget/"), "1.0/") {
		t.Fatal("the archive tree does not list the release")
	}

	// An embargoed release: only participants see it, mail to the private
	// list, no webhook before publication.
	before := len(sink.Messages())
	releaseTo(t, w, s, "2.0", true)
	w.carol.fails(t, 1, nil, "release", "show", "widget", "2.0")
	if out := w.carol.ok(t, "release", "list", "widget"); strings.Contains(out, "2.0") {
		t.Fatalf("carol lists the embargoed release: %s", out)
	}
	var anon struct{ Releases []domain.Release }
	getJSON(t, w.srv.url+"/api/v1/projects/widget/releases", &anon)
	for _, r := range anon.Releases {
		if r.Version == "2.0" {
			t.Fatal("an anonymous visitor lists the embargoed release")
		}
	}
	for _, public := range []string{"/downloads/demo/widget/", "/downloads/demo/KEYS", "/api/v1/projects/widget/feed"} {
		if body := getBody(t, w.srv.url+public); strings.Contains(body, "2.0") {
			t.Fatalf("%s names the embargoed release: %s", public, body)
		}
	}
	if code := httpStatus(t, w.srv.url+"/api/v1/projects/widget/releases/2.0/vote"); code < 400 {
		t.Fatalf("an anonymous visitor reads the embargoed tally: %d", code)
	}
	if out := w.bob.ok(t, "release", "show", "widget", "2.0"); !strings.Contains(out, "Embargoed") {
		t.Fatalf("bob (committer): %s", out)
	}
	if !eventually(30*time.Second, func() bool { return len(subjects(t, sink)["[RESULT] [VOTE] [EMBARGOED] Release Widget 2.0"]) > 0 }) {
		t.Fatalf("no embargoed result mail: %v", subjects(t, sink))
	}
	for _, m := range sink.Messages()[before:] {
		for _, to := range m.To {
			if to != private && to != "alice@example.org" {
				t.Fatalf("mail of the embargoed release to %s: %s", to, m.Header().Get("Subject"))
			}
		}
	}
	for _, e := range hook.seen() {
		if strings.HasSuffix(e, " 2.0") {
			t.Fatalf("a webhook heard of the embargoed release: %v", hook.seen())
		}
	}
	w.alice.ok(t, "release", "publish", "widget", "2.0")
	if out := w.carol.ok(t, "release", "show", "widget", "2.0"); strings.Contains(out, "Embargoed") {
		t.Fatalf("still embargoed after publication: %s", out)
	}
	if !eventually(30*time.Second, func() bool { return strings.Join(subjects(t, sink)["[ANNOUNCE] Widget 2.0 released"], ",") == announce }) {
		t.Fatalf("no public announcement after publication: %v", subjects(t, sink))
	}
	if !eventually(30*time.Second, func() bool { return contains(hook.seen(), "release.published 2.0") }) {
		t.Fatalf("no publication event: %v", hook.seen())
	}
	out = w.alice.ok(t, "webhook", "deliveries", "widget")
	if !strings.Contains(out, "release.published") || !strings.Contains(out, "sent") {
		t.Fatalf("delivery log: %s", out)
	}
	// The notifications: bob (a committer) heard of both votes.
	ns, err := w.bobC.Notices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var votes int
	for _, n := range ns {
		if n.Kind == domain.NoticeVote && strings.Contains(n.Message, "started") {
			votes++
		}
	}
	if votes != 2 {
		t.Fatalf("bob's vote notifications: %+v", ns)
	}
	w.bob.ok(t, "notices", "dismiss", "--all")
	if ns, _ := w.bobC.Notices(ctx); len(ns) != 0 {
		t.Fatalf("notices after dismissing all: %+v", ns)
	}
}

// TestMailOff: without --smtp nothing is sent and the API says so.
func TestMailOff(t *testing.T) {
	w := newWorld(t)
	st, err := w.carC.MailStatus(context.Background())
	if err != nil || st.Enabled {
		t.Fatalf("mail status %+v %v", st, err)
	}
	if !strings.Contains(w.srv.stderr.String(), "mail is off") {
		t.Fatalf("the log does not say mail is off: %s", w.srv.stderr)
	}
	w.alice.ok(t, "release", "start", "widget", "1.0")
	if out := w.alice.ok(t, "vote", "start", "widget", "1.0", "--preview"); !strings.Contains(out, "Not sent: mail is off on this server") {
		t.Fatalf("preview: %s", out)
	}
	// A refused configuration is an error at start-up, naming the fix.
	bad := newUser(t, "operator").run(t, "serve", "--data", filepath.Join(t.TempDir(), "d"), "--addr", "127.0.0.1:0", "--smtp", "smtp://u:pw@relay.example.org:587", "--mail-from", "trel@example.org")
	if bad.code == 0 || !strings.Contains(bad.stderr, "TREL_SMTP_PASSWORD") || strings.Contains(bad.stderr, "pw@") {
		t.Fatalf("a password in the URL: %s", bad)
	}
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
