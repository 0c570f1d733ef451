package core_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/downloads"
	"trel/internal/mail"
	"trel/internal/testutil/archivetest"
	"trel/internal/testutil/gpgtest"
	"trel/internal/testutil/smtptest"
	"trel/internal/webhook"
)

// mailWorld is a world with mail to a real SMTP server on loopback, the
// downloads and archive trees, and a signing key of "member".
type mailWorld struct {
	*world
	smtp    *smtptest.Server
	gpg     *gpgtest.Home
	fpr     string
	tree    *downloads.Dir
	archive *downloads.Dir
}

const (
	devList      = "dev@alpha.example.org"
	announceList = "announce@alpha.example.org"
	privateList  = "private@alpha.example.org"
	ccList       = "notifications@alpha.example.org"
)

func newMailWorld(t *testing.T) *mailWorld {
	t.Helper()
	ctx := context.Background()
	w := &mailWorld{world: newWorld(t)}
	w.smtp = smtptest.Start(t, smtptest.Options{})
	cfg, err := mail.ParseURL("smtp://"+w.smtp.Addr, "trel <trel@example.org>")
	if err != nil {
		t.Fatal(err)
	}
	w.svc.SetNotify(core.NotifyConfig{Mailer: mail.NewSender(cfg), PublicURL: "https://trel.example.org", Webhooks: webhook.New(true, 5*time.Second),
		AllowPrivateWebhooks: true, RetryBase: time.Millisecond, MaxAttempts: 4})
	if w.tree, err = downloads.New(filepath.Join(w.dir, "downloads"), w.blobs); err != nil {
		t.Fatal(err)
	}
	if w.archive, err = downloads.New(filepath.Join(w.dir, "archive"), w.blobs); err != nil {
		t.Fatal(err)
	}
	w.svc.SetPublisher(w.tree, nil)
	w.svc.SetArchiver(downloads.Mover{From: w.tree, To: w.archive})
	m := w.actors["member"]
	pol := domain.DefaultPolicy()
	pol.MinBindingPlusOnes, pol.MinVoteHours = 1, 1
	pol.Unsigned = []domain.UnsignedRule{{Pattern: "*.txt", Reason: "plain text is fine"}}
	pol.Mail = domain.MailPolicy{VoteTo: []string{devList}, AnnounceTo: []string{announceList}, PrivateTo: []string{privateList}, Cc: []string{ccList}}
	if _, err := w.svc.SetPolicy(ctx, m, "alpha-lib", pol); err != nil {
		t.Fatal(err)
	}
	w.gpg = gpgtest.New(t)
	w.fpr = w.gpg.GenKey(t, "", "Member <member@example.org>", "ed25519", "sign", "2y")
	if _, err := w.svc.AddKeys(ctx, m, w.gpg.Export(t, w.fpr), core.AddKeysOptions{Committees: []string{"alpha"}}); err != nil {
		t.Fatal(err)
	}
	challenge, err := w.svc.KeyChallenge(ctx, m, w.fpr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.ProveKey(ctx, m, w.fpr, w.gpg.Sign(t, "", w.fpr, []byte(challenge))); err != nil {
		t.Fatal(err)
	}
	return w
}

// candidate makes release version ready for a vote: a signed artifact
// with its checksum, checked.
func (w *mailWorld) candidate(t *testing.T, version string, opt core.StartReleaseOptions) {
	t.Helper()
	ctx := context.Background()
	m := w.actors["member"]
	if _, err := w.svc.Release(ctx, m, "alpha-lib", version); domain.IsKind(err, domain.KindNotFound) {
		if _, err := w.svc.StartReleaseWith(ctx, m, "alpha-lib", version, opt); err != nil {
			t.Fatal(err)
		}
	}
	name := "alpha-lib-" + version
	artifact := archivetest.SourceTarGz(t, name, []byte(strings.Repeat("alpha-lib "+version+"\n", 100)))
	d := sha512.Sum512(artifact)
	files := map[string][]byte{
		name + ".tar.gz":        artifact,
		name + ".tar.gz.asc":    w.gpg.Sign(t, "", w.fpr, artifact, "--digest-algo", "SHA512"),
		name + ".tar.gz.sha512": []byte(hex.EncodeToString(d[:]) + "  " + name + ".tar.gz\n"),
	}
	var req core.RevisionRequest
	for p, data := range files {
		b, err := w.svc.UploadFile(ctx, m, "alpha-lib", version, bytes.NewReader(data), -1)
		if err != nil {
			t.Fatal(err)
		}
		req.Changes = append(req.Changes, core.Change{Op: "put", Path: p, SHA256: b.SHA256})
	}
	if _, err := w.svc.CreateRevision(ctx, m, "alpha-lib", version, req); err != nil {
		t.Fatal(err)
	}
	rel, err := w.svc.Release(ctx, m, "alpha-lib", version)
	if err != nil {
		t.Fatal(err)
	}
	w.check(t, rel)
}

// check runs the checks of the release's latest revision and tells the
// service, as the check worker does.
func (w *mailWorld) check(t *testing.T, rel *domain.Release) {
	t.Helper()
	runChecks(t, w.world, rel)
	rev, err := w.svc.Store().Revision(context.Background(), rel.ID, rel.LatestRevision)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.svc.ChecksFinished(context.Background(), rev.ID); err != nil {
		t.Fatal(err)
	}
}

// TestBlockerNotice: the release managers of a draft hear of its
// blockers once per check run; others do not.
func TestBlockerNotice(t *testing.T) {
	ctx := context.Background()
	w := newMailWorld(t)
	rel, _ := w.svc.Release(ctx, w.actors["member"], "alpha-lib", "1.0")
	w.check(t, rel) // a.txt alone: no signed artifact, a blocker
	w.check(t, rel) // the same run told again: no second notice
	var n int
	for _, ns := range notices(t, w.world, "member") {
		if ns.Kind == domain.NoticeBlocker && strings.Contains(ns.Message, "blocker(s) in revision 1 of your draft alpha-lib 1.0") && ns.Link == "/projects/alpha-lib/releases/1.0" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d blocker notices for the release manager", n)
	}
	if hasNotice(notices(t, w.world, "committer"), domain.NoticeBlocker, "alpha-lib") {
		t.Fatal("a committer who is not release manager was told")
	}
}

// publish runs a whole vote on version and publishes it.
func (w *mailWorld) publish(t *testing.T, version string, opt core.StartReleaseOptions) *core.Manifest {
	t.Helper()
	ctx := context.Background()
	m := w.actors["member"]
	w.candidate(t, version, opt)
	if _, err := w.svc.StartVote(ctx, m, "alpha-lib", version); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.CastVote(ctx, m, "alpha-lib", version, 1, ""); err != nil {
		t.Fatal(err)
	}
	w.skew += 2 * time.Hour
	if _, err := w.svc.ResolveVote(ctx, m, "alpha-lib", version); err != nil {
		t.Fatal(err)
	}
	man, err := w.svc.Publish(ctx, m, "alpha-lib", version)
	if err != nil {
		t.Fatal(err)
	}
	return man
}

// deliverDue works the outbox as the job queue would, until nothing is
// due at the service's clock.
func (w *mailWorld) deliverDue(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for range 50 {
		due, err := w.svc.Store().DueDeliveries(ctx, w.svc.Now(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) == 0 {
			return
		}
		for _, d := range due {
			if err := w.svc.Deliver(ctx, d.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Fatal("the outbox never emptied")
}

type received struct {
	smtptest.Message
	h    netmail.Header
	body string
}

func decode(t *testing.T, m smtptest.Message) received {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	return received{Message: m, h: msg.Header, body: strings.ReplaceAll(string(body), "\r\n", "\n")}
}

func (w *mailWorld) inbox(t *testing.T) []received {
	var out []received
	for _, m := range w.smtp.Messages() {
		out = append(out, decode(t, m))
	}
	return out
}

func notices(t *testing.T, w *world, user string) []domain.Notice {
	t.Helper()
	ns, err := w.svc.Notifications(context.Background(), w.actors[user], false)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func hasNotice(ns []domain.Notice, kind, text string) bool {
	for _, n := range ns {
		if n.Kind == kind && strings.Contains(n.Message, text) {
			return true
		}
	}
	return false
}

// TestVoteMailThread: [VOTE] to the vote list with cc, each ballot copied
// to the thread and a receipt to the voter, the reminder when the minimum
// duration ends, [RESULT] with the tally, [ANNOUNCE] at publication; the
// Message-IDs are recorded on the release and in the manifest.
func TestVoteMailThread(t *testing.T) {
	ctx := context.Background()
	w := newMailWorld(t)
	m, c := w.actors["member"], w.actors["committer"]
	w.candidate(t, "1.0", core.StartReleaseOptions{})
	if _, err := w.svc.StartVote(ctx, m, "alpha-lib", "1.0"); err != nil {
		t.Fatal(err)
	}
	w.deliverDue(t)
	got := w.inbox(t)
	if len(got) != 1 {
		t.Fatalf("%d mails after the vote started (the reminder is not due yet)", len(got))
	}
	vote := got[0]
	voteID := vote.h.Get("Message-ID")
	if strings.Join(vote.To, ",") != devList+","+ccList || vote.h.Get("Subject") != "[VOTE] Release Alpha Lib 1.0" || vote.h.Get("In-Reply-To") != "" ||
		vote.h.Get("To") != "<"+devList+">" || vote.h.Get("Cc") != "<"+ccList+">" || !mail.ValidMessageID(voteID) {
		t.Fatalf("vote mail: to %v headers %v", vote.To, vote.h)
	}
	rel, _ := w.svc.Release(ctx, m, "alpha-lib", "1.0")
	rev, _ := w.svc.Store().Revision(ctx, rel.ID, rel.LatestRevision)
	for _, want := range []string{"Hello alpha,", "https://trel.example.org/projects/alpha-lib/releases/1.0", "https://trel.example.org/downloads/alpha/KEYS",
		rev.Files[0].SHA512, "at least 1 hours", "trel vote cast alpha-lib 1.0 +1", "gpg --verify alpha-lib-1.0.tar.gz.asc alpha-lib-1.0.tar.gz"} {
		if !strings.Contains(vote.body, want) {
			t.Errorf("the vote mail lacks %q:\n%s", want, vote.body)
		}
	}
	if !hasNotice(notices(t, w.world, "committer"), domain.NoticeVote, "vote on alpha-lib 1.0 (revision") || hasNotice(notices(t, w.world, "member"), domain.NoticeVote, "started") {
		t.Fatal("the committer was not told of the vote, or the member who started it was")
	}
	if hasNotice(notices(t, w.world, "other-member"), domain.NoticeVote, "alpha-lib") {
		t.Fatal("another committee's member was told")
	}

	if _, err := w.svc.CastVote(ctx, m, "alpha-lib", "1.0", 1, "Checked the signatures.\nBcc: evil@example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.CastVote(ctx, c, "alpha-lib", "1.0", 0, ""); err != nil {
		t.Fatal(err)
	}
	w.deliverDue(t)
	got = w.inbox(t)
	if len(got) != 5 {
		t.Fatalf("%d mails after two ballots (want vote, 2 copies, 2 receipts)", len(got))
	}
	var copies, receipts []received
	for _, r := range got[1:] {
		if r.h.Get("In-Reply-To") == voteID {
			copies = append(copies, r)
		} else {
			receipts = append(receipts, r)
		}
	}
	if len(copies) != 2 || len(receipts) != 2 {
		t.Fatalf("%d copies, %d receipts", len(copies), len(receipts))
	}
	if !strings.HasPrefix(copies[0].body, "+1 (binding)\n") || !strings.Contains(copies[0].body, "member cast this vote in trel") ||
		copies[0].h.Get("Subject") != "Re: [VOTE] Release Alpha Lib 1.0" || copies[0].h.Get("References") != voteID || copies[0].h.Get("Bcc") != "" {
		t.Fatalf("ballot copy: %v\n%s", copies[0].h, copies[0].body)
	}
	if !strings.HasPrefix(copies[1].body, "0 (non-binding)") {
		t.Fatalf("second ballot: %s", copies[1].body)
	}
	if strings.Join(receipts[0].To, ",") != "member@example.org" || receipts[0].h.Get("Auto-Submitted") != "auto-generated" ||
		!strings.Contains(receipts[0].body, "Your vote +1 (binding) on Alpha Lib 1.0") || strings.Join(receipts[1].To, ",") != "committer@example.org" {
		t.Fatalf("receipts: %v %v\n%s", receipts[0].To, receipts[1].To, receipts[0].body)
	}
	if !hasNotice(notices(t, w.world, "member"), domain.NoticeReceipt, "Your vote +1 (binding) on alpha-lib 1.0") {
		t.Fatal("no in-app receipt")
	}

	// The reminder waits for the minimum duration, on the service's clock.
	w.skew += 61 * time.Minute
	w.deliverDue(t)
	got = w.inbox(t)
	if len(got) != 6 || got[5].h.Get("In-Reply-To") != voteID || !strings.Contains(got[5].body, "minimum duration of this vote (1 hours) ended") {
		t.Fatalf("reminder: %d mails, last %v", len(got), got[len(got)-1].h)
	}
	if !hasNotice(notices(t, w.world, "member"), domain.NoticeVote, "you may resolve it now") {
		t.Fatal("the release manager was not reminded in the app")
	}

	tally, err := w.svc.ResolveVote(ctx, m, "alpha-lib", "1.0")
	if err != nil || !tally.Passing {
		t.Fatal(tally, err)
	}
	w.deliverDue(t)
	got = w.inbox(t)
	result := got[6]
	if result.h.Get("Subject") != "[RESULT] [VOTE] Release Alpha Lib 1.0" || result.h.Get("In-Reply-To") != voteID ||
		!strings.Contains(result.body, "it passed") || !strings.Contains(result.body, "Binding +1:     1 (member)") || !strings.Contains(result.body, "Non-binding 0:  1 (committer)") {
		t.Fatalf("result: %v\n%s", result.h, result.body)
	}
	if !hasNotice(notices(t, w.world, "committer"), domain.NoticeVote, "The vote on alpha-lib 1.0 ended: passed") {
		t.Fatal("the voters were not told the vote ended")
	}

	man, err := w.svc.Publish(ctx, m, "alpha-lib", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	if man.Mail == nil || man.Mail.Vote != voteID || man.Mail.Result != result.h.Get("Message-ID") || !mail.ValidMessageID(man.Mail.Announce) {
		t.Fatalf("manifest mail: %+v", man.Mail)
	}
	published, err := os.ReadFile(filepath.Join(w.tree.Root(), "alpha", "alpha-lib", "1.0", downloads.ManifestName))
	var onDisk core.Manifest
	if err != nil || json.Unmarshal(published, &onDisk) != nil || onDisk.Mail == nil || *onDisk.Mail != *man.Mail {
		t.Fatalf("the published manifest does not record the mail: %v %+v", err, onDisk.Mail)
	}
	w.deliverDue(t)
	got = w.inbox(t)
	announce := got[7]
	if announce.h.Get("Message-ID") != man.Mail.Announce || strings.Join(announce.To, ",") != announceList+","+ccList ||
		announce.h.Get("Subject") != "[ANNOUNCE] Alpha Lib 1.0 released" || !strings.Contains(announce.body, "https://trel.example.org/downloads/alpha/alpha-lib/1.0/") {
		t.Fatalf("announce: %v %v\n%s", announce.To, announce.h, announce.body)
	}
	list, err := w.svc.ReleaseMail(ctx, m, "alpha-lib", "1.0")
	if err != nil || len(list) != 6 { // vote, 2 copies, reminder, result, announce (no receipts)
		t.Fatalf("release mail: %d %v", len(list), err)
	}
	for _, d := range list {
		if d.State != domain.DeliverySent || d.MessageID == "" || len(d.Recipients) == 0 {
			t.Errorf("mail %s: %+v", d.Topic, d)
		}
	}
	if _, err := w.svc.ReleaseMail(ctx, w.actors["outsider"], "alpha-lib", "1.0"); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("an outsider read the mail log: %v", err)
	}
}

// TestReminderSkippedWhenResolved: a vote resolved before its reminder is
// due sends none.
func TestReminderSkippedAfterCancel(t *testing.T) {
	ctx := context.Background()
	w := newMailWorld(t)
	m := w.actors["member"]
	w.candidateInVote(t, "1.0")
	if err := w.svc.CancelVote(ctx, m, "alpha-lib", "1.0", "a signature is missing"); err != nil {
		t.Fatal(err)
	}
	w.skew += 2 * time.Hour
	w.deliverDue(t)
	if got := w.inbox(t); len(got) != 1 {
		t.Fatalf("%d mails, want only the vote", len(got))
	}
	ds, _ := w.svc.ReleaseMail(ctx, m, "alpha-lib", "1.0")
	if ds[0].Topic != domain.MailReminder || ds[0].State != domain.DeliverySkipped {
		t.Fatalf("the reminder: %+v", ds[0])
	}
	if !hasNotice(notices(t, w.world, "committer"), domain.NoticeVote, "was cancelled by member: a signature is missing") {
		t.Fatal("the participants were not told of the cancellation")
	}
}

// TestMailRetries: a temporary failure is retried with backoff; a refused
// recipient and a permanent failure show on the release, in the audit log
// and in the release managers' notifications.
func TestMailRetries(t *testing.T) {
	ctx := context.Background()
	w := newMailWorld(t)
	m := w.actors["member"]
	w.candidate(t, "1.0", core.StartReleaseOptions{})
	w.smtp.FailNext(2)
	w.smtp.Refuse(ccList)
	if _, err := w.svc.StartVote(ctx, m, "alpha-lib", "1.0"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		time.Sleep(10 * time.Millisecond) // past the (1 ms, 2 ms) backoff
		w.deliverDue(t)
	}
	if got := w.inbox(t); len(got) != 1 || w.smtp.Attempts() != 3 || strings.Join(got[0].To, ",") != devList {
		t.Fatalf("%d mails after %d attempts", len(got), w.smtp.Attempts())
	}
	ds, _ := w.svc.ReleaseMail(ctx, m, "alpha-lib", "1.0")
	vote := ds[len(ds)-1]
	if vote.Topic != domain.MailVote || vote.State != domain.DeliverySent || vote.Attempts != 3 || vote.Refused != ccList || !strings.Contains(vote.LastError, "") {
		t.Fatalf("vote delivery: %+v", vote)
	}
	if !hasNotice(notices(t, w.world, "member"), domain.NoticeDelivery, "was refused for "+ccList) {
		t.Fatal("the release manager was not told of the refused recipient")
	}
	// Every recipient refused: a permanent failure, no retry.
	w.smtp.Refuse(devList)
	if _, err := w.svc.CastVote(ctx, m, "alpha-lib", "1.0", 1, ""); err != nil {
		t.Fatal(err)
	}
	attempts := w.smtp.Attempts()
	w.deliverDue(t)
	time.Sleep(20 * time.Millisecond)
	w.deliverDue(t)
	ds, _ = w.svc.ReleaseMail(ctx, m, "alpha-lib", "1.0")
	ballot := ds[0]
	if ballot.Topic != domain.MailBallot || ballot.State != domain.DeliveryFailed || ballot.Attempts != 1 || !strings.Contains(ballot.LastError, "every recipient was refused") {
		t.Fatalf("ballot delivery: %+v", ballot)
	}
	if w.smtp.Attempts() != attempts+2 { // the ballot once, the receipt once
		t.Fatalf("%d attempts, want %d", w.smtp.Attempts(), attempts+2)
	}
	events, _ := w.svc.AuditLog(ctx, w.actors["admin"], 50)
	var failed, refused bool
	for _, e := range events {
		failed = failed || (e.Action == "mail.failed" && e.Target == "release:alpha-lib/1.0")
		refused = refused || (e.Action == "mail.refused" && e.Details["refused"] == ccList)
	}
	if !failed || !refused {
		t.Fatalf("audit: failed %v refused %v", failed, refused)
	}
}

// TestEmbargo: an embargoed release is visible to the committee's
// participants only until it is published; its mail goes to the private
// list only, its webhooks wait for publication.
func TestEmbargo(t *testing.T) {
	ctx := context.Background()
	w := newMailWorld(t)
	m := w.actors["member"]
	var mu sync.Mutex
	var events []string
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		events = append(events, r.Header.Get(webhook.HeaderEvent))
		mu.Unlock()
	}))
	defer hook.Close()
	if _, err := w.svc.AddWebhook(ctx, m, "alpha-lib", core.NewWebhook{URL: hook.URL}); err != nil {
		t.Fatal(err)
	}
	w.candidate(t, "2.0", core.StartReleaseOptions{Embargoed: true})
	if _, err := w.svc.StartVote(ctx, m, "alpha-lib", "2.0"); err != nil {
		t.Fatal(err)
	}
	for _, voter := range []string{"committer", "member"} {
		if _, err := w.svc.CastVote(ctx, w.actors[voter], "alpha-lib", "2.0", 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, who := range []string{"anonymous", "outsider", "other-member"} {
		a := w.actors[who]
		if _, err := w.svc.Release(ctx, a, "alpha-lib", "2.0"); err == nil {
			t.Errorf("%s sees the embargoed candidate", who)
		}
		if _, err := w.svc.Tally(ctx, a, "alpha-lib", "2.0"); err == nil {
			t.Errorf("%s sees its tally", who)
		}
		if _, err := w.svc.CastVote(ctx, a, "alpha-lib", "2.0", 1, ""); err == nil {
			t.Errorf("%s voted on it", who)
		}
		rels, _ := w.svc.ListReleases(ctx, a, "alpha-lib")
		for _, r := range rels {
			if r.Version == "2.0" {
				t.Errorf("%s lists it", who)
			}
		}
	}
	if rel, err := w.svc.Release(ctx, w.actors["committer"], "alpha-lib", "2.0"); err != nil || !rel.Embargoed {
		t.Fatalf("a participant: %+v %v", rel, err)
	}
	w.deliverDue(t)
	for _, r := range w.inbox(t) {
		for _, to := range r.To {
			if to != privateList && !strings.HasSuffix(to, "@example.org") {
				t.Fatalf("mail of the embargoed release went to %s", to)
			}
		}
		if to := strings.Join(r.To, ","); to != privateList && to != "committer@example.org" && to != "member@example.org" {
			t.Fatalf("mail to %s: %s", to, r.h.Get("Subject"))
		}
		if r.h.Get("Subject") == "[VOTE] [EMBARGOED] Release Alpha Lib 2.0" && strings.Join(r.To, ",") != privateList {
			t.Fatal("the vote went elsewhere")
		}
	}
	if n := len(w.inbox(t)); n != 5 { // the vote and two ballot copies to the private list, two receipts
		t.Fatalf("%d mails", n)
	}
	mu.Lock()
	if len(events) != 0 {
		t.Fatalf("webhooks were called before publication: %v", events)
	}
	mu.Unlock()

	w.skew += 2 * time.Hour
	if _, err := w.svc.ResolveVote(ctx, m, "alpha-lib", "2.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Publish(ctx, m, "alpha-lib", "2.0"); err != nil {
		t.Fatal(err)
	}
	rel, err := w.svc.Release(ctx, core.Anonymous, "alpha-lib", "2.0")
	if err != nil || rel.Embargoed || rel.EmbargoLiftedAt == nil {
		t.Fatalf("after publication: %+v %v", rel, err)
	}
	w.deliverDue(t)
	got := w.inbox(t)
	last := got[len(got)-1]
	if last.h.Get("Subject") != "[ANNOUNCE] Alpha Lib 2.0 released" || strings.Join(last.To, ",") != announceList+","+ccList {
		t.Fatalf("announce: %v %v", last.To, last.h)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(events, ",") != domain.EventPublished {
		t.Fatalf("webhook events after publication: %v", events)
	}
}

// TestWebhookDeliveries: every event reaches the receiver signed with the
// secret; a call failing twice is retried and then succeeds; the log shows
// it.
func TestWebhookDeliveries(t *testing.T) {
	ctx := context.Background()
	w := newMailWorld(t)
	m := w.actors["member"]
	var mu sync.Mutex
	var got []core.WebhookPayload
	fails := 2
	secret := "a-shared-secret-of-the-receiver"
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !webhook.Verify(secret, r.Header.Get(webhook.HeaderSignature), body) {
			rw.WriteHeader(401)
			return
		}
		var p core.WebhookPayload
		json.Unmarshal(body, &p)
		mu.Lock()
		defer mu.Unlock()
		if p.Event == domain.EventVoteStarted && fails > 0 {
			fails--
			rw.WriteHeader(503)
			return
		}
		if r.Header.Get(webhook.HeaderDelivery) != p.Delivery {
			rw.WriteHeader(400)
			return
		}
		got = append(got, p)
	}))
	defer hook.Close()
	if _, err := w.svc.AddWebhook(ctx, w.actors["committer"], "alpha-lib", core.NewWebhook{URL: hook.URL}); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("a committer added a webhook: %v", err)
	}
	if _, err := w.svc.AddWebhook(ctx, m, "alpha-lib", core.NewWebhook{URL: hook.URL, Secret: "short"}); !domain.IsKind(err, domain.KindInvalid) {
		t.Fatalf("a short secret: %v", err)
	}
	created, err := w.svc.AddWebhook(ctx, m, "alpha-lib", core.NewWebhook{URL: hook.URL, Secret: secret})
	if err != nil || created.Secret != secret {
		t.Fatal(created, err)
	}
	generated, err := w.svc.AddWebhook(ctx, m, "alpha-lib", core.NewWebhook{URL: hook.URL + "/other", Events: []string{domain.EventYanked}})
	if err != nil || !strings.HasPrefix(generated.Secret, "whsec_") || len(generated.Secret) < 40 {
		t.Fatal(generated, err)
	}
	w.publish(t, "1.0", core.StartReleaseOptions{})
	for range 5 {
		time.Sleep(10 * time.Millisecond)
		w.deliverDue(t)
	}
	mu.Lock()
	var names []string
	for _, p := range got {
		names = append(names, p.Event)
		if p.Project != "alpha-lib" || p.Version != "1.0" || p.ReleaseURL != "https://trel.example.org/projects/alpha-lib/releases/1.0" {
			t.Errorf("payload %+v", p)
		}
	}
	mu.Unlock()
	want := []string{domain.EventRevisionCreated, domain.EventChecksFinished, domain.EventVoteStarted, domain.EventVoteEnded, domain.EventPublished}
	for _, e := range want {
		if !strings.Contains(strings.Join(names, ","), e) {
			t.Errorf("event %s missing from %v", e, names)
		}
	}
	log, err := w.svc.WebhookDeliveries(ctx, m, "alpha-lib")
	if err != nil {
		t.Fatal(err)
	}
	var retried *domain.Delivery
	for i := range log {
		if log[i].Topic == domain.EventVoteStarted && log[i].WebhookID == created.Webhook.ID {
			retried = &log[i]
		}
		if log[i].WebhookID == generated.Webhook.ID {
			t.Errorf("the yank-only webhook got %s", log[i].Topic)
		}
	}
	if retried == nil || retried.State != domain.DeliverySent || retried.Attempts != 3 || retried.StatusCode != 200 {
		t.Fatalf("the retried call: %+v", retried)
	}
	if _, err := w.svc.WebhookDeliveries(ctx, w.actors["committer"], "alpha-lib"); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("a committer read the delivery log: %v", err)
	}
	// Private addresses are refused unless the operator allows them.
	w.svc.SetNotify(core.NotifyConfig{PublicURL: "https://trel.example.org"})
	if _, err := w.svc.AddWebhook(ctx, m, "alpha-lib", core.NewWebhook{URL: hook.URL}); !domain.IsKind(err, domain.KindInvalid) {
		t.Fatalf("a loopback webhook without permission: %v", err)
	}
	if err := w.svc.RemoveWebhook(ctx, m, "alpha-lib", created.Webhook.ID); err != nil {
		t.Fatal(err)
	}
	if hooks, _ := w.svc.Webhooks(ctx, m, "alpha-lib"); len(hooks) != 1 {
		t.Fatalf("webhooks after removal: %+v", hooks)
	}
}

// TestYankArchiveFeed: yank and un-yank (release managers, with a
// reason), archive by hand and automatically for the previous release of
// the line, and the feed.
func TestYankArchiveFeed(t *testing.T) {
	ctx := context.Background()
	w := newMailWorld(t)
	m := w.actors["member"]
	w.publish(t, "1.0", core.StartReleaseOptions{})
	if _, err := w.svc.YankRelease(ctx, w.actors["committer"], "alpha-lib", "1.0", "broken"); !domain.IsKind(err, domain.KindForbidden) {
		t.Fatalf("a committer who is not release manager yanked: %v", err)
	}
	if _, err := w.svc.YankRelease(ctx, m, "alpha-lib", "1.0", " "); !domain.IsKind(err, domain.KindInvalid) {
		t.Fatalf("a yank without reason: %v", err)
	}
	if _, err := w.svc.YankRelease(ctx, m, "alpha-lib", "1.0", "line one\nline two"); !domain.IsKind(err, domain.KindInvalid) {
		t.Fatalf("a reason on two lines: %v", err)
	}
	rel, err := w.svc.YankRelease(ctx, m, "alpha-lib", "1.0", "CVE-2026-0001: the build leaks memory")
	if err != nil || rel.YankedAt == nil || rel.YankedBy != "member" {
		t.Fatal(rel, err)
	}
	if _, err := w.svc.YankRelease(ctx, m, "alpha-lib", "1.0", "again"); !domain.IsKind(err, domain.KindConflict) {
		t.Fatalf("yanked twice: %v", err)
	}
	// Still downloadable where it was.
	if _, err := os.Stat(filepath.Join(w.tree.Root(), "alpha", "alpha-lib", "1.0", "alpha-lib-1.0.tar.gz")); err != nil {
		t.Fatal(err)
	}
	feed, err := w.svc.ProjectFeed(ctx, "alpha-lib")
	if err != nil || len(feed.Releases) != 1 || feed.Releases[0].State != domain.StateYanked || feed.Releases[0].YankReason != "CVE-2026-0001: the build leaks memory" ||
		feed.Releases[0].ManifestURL != "https://trel.example.org/downloads/alpha/alpha-lib/1.0/trel-release-manifest.json" {
		t.Fatalf("feed %+v %v", feed, err)
	}
	if rel, err = w.svc.UnyankRelease(ctx, m, "alpha-lib", "1.0"); err != nil || rel.YankedAt != nil {
		t.Fatal(rel, err)
	}
	if _, err := w.svc.UnyankRelease(ctx, m, "alpha-lib", "1.0"); !domain.IsKind(err, domain.KindConflict) {
		t.Fatalf("un-yanked twice: %v", err)
	}
	if _, err := w.svc.YankRelease(ctx, m, "alpha-lib", "1.0-draft", "x"); err == nil {
		t.Fatal("yanked a missing release")
	}

	// Archive by hand: the files move, the manifest is the same bytes.
	before, err := os.ReadFile(filepath.Join(w.tree.Root(), "alpha", "alpha-lib", "1.0", downloads.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	if rel, err = w.svc.ArchiveRelease(ctx, m, "alpha-lib", "1.0"); err != nil || rel.ArchivedAt == nil || rel.FilesPath() != "/archive/alpha/alpha-lib/1.0/" {
		t.Fatal(rel, err)
	}
	if _, err := os.Stat(filepath.Join(w.tree.Root(), "alpha", "alpha-lib", "1.0")); !os.IsNotExist(err) {
		t.Fatalf("the files are still in the downloads tree: %v", err)
	}
	after, err := os.ReadFile(filepath.Join(w.archive.Root(), "alpha", "alpha-lib", "1.0", downloads.ManifestName))
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the archived manifest differs: %v", err)
	}
	if _, err := w.svc.ArchiveRelease(ctx, m, "alpha-lib", "1.0"); !domain.IsKind(err, domain.KindConflict) {
		t.Fatalf("archived twice: %v", err)
	}

	// Automatic archiving of the previous release of the line.
	pol, _ := w.svc.Policy(ctx, m, "alpha-lib")
	pol.ArchivePrevious = domain.ArchiveMinor
	if _, err := w.svc.SetPolicy(ctx, m, "alpha-lib", *pol); err != nil {
		t.Fatal(err)
	}
	w.publish(t, "1.1.0", core.StartReleaseOptions{})
	w.publish(t, "1.1.1", core.StartReleaseOptions{})
	w.publish(t, "1.2.0", core.StartReleaseOptions{})
	feed, _ = w.svc.ProjectFeed(ctx, "alpha-lib")
	states := map[string]string{}
	for _, e := range feed.Releases {
		states[e.Version] = e.State
	}
	if feed.Releases[0].Version != "1.2.0" || states["1.1.0"] != domain.StateArchived || states["1.1.1"] != domain.StateReleased || states["1.2.0"] != domain.StateReleased {
		t.Fatalf("states after 1.1.1 and 1.2.0: %v", states)
	}
	if _, err := os.Stat(filepath.Join(w.archive.Root(), "alpha", "alpha-lib", "1.1.0", "alpha-lib-1.1.0.tar.gz")); err != nil {
		t.Fatal(err)
	}
	events, _ := w.svc.AuditLog(ctx, w.actors["admin"], 200)
	var auto bool
	for _, e := range events {
		auto = auto || (e.Action == "release.archive" && e.Actor == "system" && e.Details["superseded_by"] == "1.1.1")
	}
	if !auto {
		t.Fatal("the automatic archiving is not audited")
	}
}

// TestSignatureNotice: a signature made with a key trel holds is told to
// its holder (tested where server-side signing is: see serverkeys tests);
// here, the policy refuses unknown placeholders and bad lists.
func TestMailPolicyValidation(t *testing.T) {
	ctx := context.Background()
	w := newMailWorld(t)
	m := w.actors["member"]
	for name, change := range map[string]func(*domain.Policy){
		"unknown placeholder": func(p *domain.Policy) { p.Mail.VoteTemplate = "Vote on {project} with {secret}" },
		"address with a name": func(p *domain.Policy) { p.Mail.VoteTo = []string{"Dev <dev@example.org>"} },
		"injected header":     func(p *domain.Policy) { p.Mail.Cc = []string{"dev@example.org\r\nBcc: x@example.org"} },
		"unknown archiving":   func(p *domain.Policy) { p.ArchivePrevious = "always" },
	} {
		pol, _ := w.svc.Policy(ctx, m, "alpha-lib")
		change(pol)
		if _, err := w.svc.SetPolicy(ctx, m, "alpha-lib", *pol); !domain.IsKind(err, domain.KindInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	pol, _ := w.svc.Policy(ctx, m, "alpha-lib")
	pol.Mail.VoteTemplate = "Please vote on {project_name} {version}: {candidate_url}\n{{literal}"
	if _, err := w.svc.SetPolicy(ctx, m, "alpha-lib", *pol); err != nil {
		t.Fatal(err)
	}
	p, err := w.svc.PreviewMail(ctx, m, "alpha-lib", "1.0", domain.MailVote)
	if err != nil || p.Body != "Please vote on Alpha Lib 1.0: https://trel.example.org/projects/alpha-lib/releases/1.0\n{literal}" ||
		strings.Join(p.To, ",") != devList || p.Problem != "" || !p.Templated || p.Subject != "[VOTE] Release Alpha Lib 1.0" {
		t.Fatalf("preview %+v %v", p, err)
	}
	if _, err := w.svc.PreviewMail(ctx, w.actors["outsider"], "alpha-lib", "1.0", domain.MailVote); err == nil {
		t.Fatal("an outsider previewed a draft's mail")
	}
	w.svc.SetNotify(core.NotifyConfig{})
	if p, _ := w.svc.PreviewMail(ctx, m, "alpha-lib", "1.0", domain.MailVote); p.Enabled || !strings.Contains(p.Problem, "mail is off") {
		t.Fatalf("preview without mail: %+v", p)
	}
}
