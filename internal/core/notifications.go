package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"trel/internal/domain"
	"trel/internal/mail"
	"trel/internal/store"
	"trel/internal/webhook"
)

// Mail, webhooks and in-app notifications.
//
// Every mail and webhook call is a row of the outbox (store.Delivery),
// written in the same transaction as the event it tells about: the vote's
// start, a ballot, the result, the publication... The job queue is fed
// from the outbox after commit and by a periodic sweep (see package jobs),
// and a worker claims each row with one conditional UPDATE before it
// sends (Deliver), so a delivery runs once across replicas and survives a
// restart. Temporary failures are retried with an exponential backoff;
// permanent ones, and recipients the relay refuses, are recorded on the
// row, audited, and told to the release managers.
//
// In-app notifications (notices) are written in the event's transaction
// too. Nothing in a mail or a webhook body is secret: they hold names,
// versions, digests, URLs and the tally, all public once the release is;
// an embargoed release's mail goes only to the policy's private list, and
// its webhooks are not called before publication.

// Mailer sends one mail (mail.Sender).
type Mailer interface {
	Send(ctx context.Context, m mail.Message) (refused []string, err error)
	From() string
}

// WebhookPoster calls one webhook (webhook.Poster).
type WebhookPoster interface {
	Post(ctx context.Context, url, secret, event, delivery string, body []byte) (status int, err error)
}

// NotifyConfig connects mail and webhooks.
type NotifyConfig struct {
	// Mailer is nil when mail is off (no --smtp): nothing is queued then.
	Mailer Mailer
	// MailRelay describes the relay for the UI (no secrets).
	MailRelay string
	Webhooks  WebhookPoster
	// AllowPrivateWebhooks lets webhooks point at loopback and private
	// addresses (`trel serve --webhook-allow-private`).
	AllowPrivateWebhooks bool
	// PublicURL is where people reach trel (links in mail and webhooks).
	PublicURL string
	// RetryBase is the first retry's delay (doubling, at most an hour);
	// MaxAttempts bounds the attempts of one delivery.
	RetryBase   time.Duration
	MaxAttempts int
}

// Defaults of NotifyConfig.
const (
	DefaultRetryBase   = 30 * time.Second
	DefaultMaxAttempts = 8
	deliveryClaim      = 3 * time.Minute
)

// SetNotify connects mail and webhooks (and the public URL used in their
// links).
func (s *Service) SetNotify(c NotifyConfig) {
	if c.RetryBase <= 0 {
		c.RetryBase = DefaultRetryBase
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	s.notify = c
}

// MailStatus says whether this server sends mail, and through which relay.
type MailStatus struct {
	Enabled bool   `json:"enabled"`
	Relay   string `json:"relay,omitempty"`
	From    string `json:"from,omitempty"`
}

// MailStatus reports whether mail is on (public: the UI says when it is
// off).
func (s *Service) MailStatus() MailStatus {
	if s.notify.Mailer == nil {
		return MailStatus{}
	}
	return MailStatus{Enabled: true, Relay: s.notify.MailRelay, From: s.notify.Mailer.From()}
}

// wakeDeliveries feeds newly queued deliveries to the workers.
func (s *Service) wakeDeliveries() { s.notifyChecks() }

// ---- links

func (s *Service) publicURL() string {
	if s.notify.PublicURL == "" {
		return "http://localhost:8080"
	}
	return s.notify.PublicURL
}

// releasePath is the release's page in the web interface.
func releasePath(rel *domain.Release) string {
	return "/projects/" + url.PathEscape(rel.ProjectKey) + "/releases/" + url.PathEscape(rel.Version)
}

func (s *Service) releaseURL(rel *domain.Release) string { return s.publicURL() + releasePath(rel) }

func (s *Service) keysURL(rel *domain.Release) string {
	return s.publicURL() + "/downloads/" + url.PathEscape(rel.CommitteeKey) + "/KEYS"
}

func (s *Service) filesURL(rel *domain.Release) string {
	return s.publicURL() + "/" + rel.Tree() + "/" + url.PathEscape(rel.CommitteeKey) + "/" + url.PathEscape(rel.ProjectKey) + "/" + url.PathEscape(rel.Version) + "/"
}

// ---- in-app notifications

// participants lists the user ids of a committee's members and committers.
func participants(ctx context.Context, tx store.Reader, committeeID int64) ([]int64, error) {
	ms, err := tx.Members(ctx, committeeID)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, m := range ms {
		out = append(out, m.UserID)
	}
	return out, nil
}

// notifyUsers leaves the same notification for each user (but skip);
// dedupe, when set, makes it once per user whatever replays the event.
func (s *Service) notifyUsers(ctx context.Context, tx store.Tx, users []int64, skip int64, kind, message, link, dedupe string) error {
	seen := map[int64]bool{skip: true}
	for _, id := range users {
		if seen[id] {
			continue
		}
		seen[id] = true
		if _, err := tx.AddNotification(ctx, domain.Notice{UserID: id, Message: message, Kind: kind, Link: link, CreatedAt: s.now()}, dedupe); err != nil {
			return err
		}
	}
	return nil
}

// releaseManagerIDs lists who answers for a release: its release
// managers, or, for a release that has none (a CI workflow started it),
// its committee's members, who trusted the workflow and may add one.
func releaseManagerIDs(ctx context.Context, tx store.Reader, rel *domain.Release) ([]int64, error) {
	rms, err := tx.ReleaseManagers(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	var out []int64
	for id := range rms {
		out = append(out, id)
	}
	if len(out) == 0 {
		ms, err := tx.Members(ctx, rel.CommitteeID)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if m.Role == domain.RoleMember {
				out = append(out, m.UserID)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Notifications lists the actor's notices, read ones too when all is set
// (newest first, at most 200).
func (s *Service) Notifications(ctx context.Context, a *Actor, all bool) ([]domain.Notice, error) {
	if err := s.authorize(ctx, a, OpOwnTokens, 0, ""); err != nil {
		return nil, err
	}
	if !all {
		ns, err := s.store.Notices(ctx, a.User.ID)
		if err != nil {
			return nil, err
		}
		sort.Slice(ns, func(i, j int) bool { return ns[i].ID > ns[j].ID })
		return ns, nil
	}
	return s.store.AllNotices(ctx, a.User.ID, 200)
}

// DismissAllNotices marks every open notice of the actor read.
func (s *Service) DismissAllNotices(ctx context.Context, a *Actor) (int, error) {
	if err := s.authorize(ctx, a, OpOwnTokens, 0, ""); err != nil {
		return 0, err
	}
	var n int
	err := s.store.Tx(ctx, func(tx store.Tx) (err error) {
		n, err = tx.DismissAllNotices(ctx, a.User.ID, s.now())
		return err
	})
	return n, err
}

// ---- mail

// mailLists returns who gets a mail of the topic about rel: an embargoed
// release's mail before publication goes to the private list only.
func mailLists(pol *domain.Policy, rel *domain.Release, topic string) (to, cc []string) {
	if topic == domain.MailAnnounce {
		return pol.Mail.AnnounceTo, pol.Mail.Cc
	}
	if rel.Embargoed {
		return pol.Mail.PrivateTo, nil
	}
	return pol.Mail.VoteTo, pol.Mail.Cc
}

// mailContext is what the mails of one release are made of.
type mailContext struct {
	rel     *domain.Release
	project *domain.Project
	pol     *domain.Policy
	vars    mail.Vars
}

// mailContextFor gathers the release's data for its mails; rev is the
// revision the mail is about (nil: none).
func (s *Service) mailContextFor(ctx context.Context, tx store.Reader, rel *domain.Release, rev *domain.Revision) (*mailContext, error) {
	p, err := tx.ProjectByKey(ctx, rel.ProjectKey)
	if err != nil {
		return nil, err
	}
	pol, err := tx.Policy(ctx, rel.ProjectID)
	if err != nil {
		return nil, err
	}
	rms, err := tx.ReleaseManagers(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range rms {
		names = append(names, n)
	}
	sort.Strings(names)
	published := *rel
	published.ArchivedAt = nil
	v := mail.Vars{
		"project": rel.ProjectKey, "project_name": p.Name, "committee": rel.CommitteeKey, "version": rel.Version,
		"release_url": s.releaseURL(rel), "candidate_url": s.releaseURL(rel), "keys_url": s.keysURL(rel),
		"download_url": s.filesURL(&published), "manifest_url": s.filesURL(&published) + "trel-release-manifest.json",
		"release_managers": strings.Join(names, ", "),
		"vote_command":     "trel vote cast " + rel.ProjectKey + " " + rel.Version + " +1",
		"vote_hours":       strconv.Itoa(pol.MinVoteHours), "binding_needed": strconv.Itoa(pol.MinBindingPlusOnes),
	}
	if rev != nil {
		v["revision"] = strconv.Itoa(rev.Number)
		v["files"], v["verify"] = filesText(rev.Files), verifyText(rev.Files)
	}
	return &mailContext{rel: rel, project: p, pol: pol, vars: v}, nil
}

// filesText lists files with sizes and SHA-512, for mail bodies.
func filesText(files []domain.File) string {
	var b strings.Builder
	for i, f := range files {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "  %s (%s)\n    %s", f.Path, domain.HumanSize(f.Size), f.SHA512)
	}
	return b.String()
}

// verifyText says how to verify, with the first signed artifact as the
// example.
func verifyText(files []domain.File) string {
	have := map[string]bool{}
	for _, f := range files {
		have[f.Path] = true
	}
	example := "ARTIFACT"
	for _, f := range files {
		if have[f.Path+".asc"] {
			example = f.Path
			break
		}
	}
	return fmt.Sprintf("  trel verify %[1]s --keys KEYS\nor with GnuPG and coreutils:\n  gpg --import KEYS\n  gpg --verify %[1]s.asc %[1]s\n  sha512sum -c %[1]s.sha512", example)
}

// tallyText writes the votes for the [RESULT] mail.
func tallyText(t *domain.Tally) string {
	groups := map[string][]string{}
	for _, v := range t.Votes {
		key := fmt.Sprintf("%+d", v.Value)
		if v.Value == 0 {
			key = "0"
		}
		if v.Binding {
			key = "binding " + key
		} else {
			key = "non-binding " + key
		}
		groups[key] = append(groups[key], v.User)
	}
	var b strings.Builder
	for _, k := range []string{"binding +1", "binding 0", "binding -1", "non-binding +1", "non-binding 0", "non-binding -1"} {
		names := groups[k]
		list := "none"
		if len(names) > 0 {
			list = strings.Join(names, ", ")
		}
		fmt.Fprintf(&b, "%-15s %d (%s)\n", strings.ToUpper(k[:1])+k[1:]+":", len(names), list)
	}
	fmt.Fprintf(&b, "\nThe vote needed at least %d binding +1 votes and more binding +1 than -1 votes (policy version %d).",
		t.Round.MinBindingPlusOnes, t.Round.PolicyVersion)
	return b.String()
}

// subject writes the subject of a mail about the release.
func (mc *mailContext) subject(topic string) string {
	name := mc.project.Name + " " + mc.rel.Version
	tag := ""
	if mc.rel.Embargoed {
		tag = "[EMBARGOED] "
	}
	switch topic {
	case domain.MailVote:
		return "[VOTE] " + tag + "Release " + name
	case domain.MailResult:
		return "[RESULT] [VOTE] " + tag + "Release " + name
	case domain.MailAnnounce:
		return "[ANNOUNCE] " + name + " released"
	case domain.MailReceipt:
		return "Your vote on " + name
	}
	return "Re: [VOTE] " + tag + "Release " + name
}

// template returns the policy's template for a topic, or the default.
func (mc *mailContext) template(topic string) string {
	var t, def string
	switch topic {
	case domain.MailVote:
		t, def = mc.pol.Mail.VoteTemplate, mail.DefaultVote
	case domain.MailResult:
		t, def = mc.pol.Mail.ResultTemplate, mail.DefaultResult
	case domain.MailAnnounce:
		t, def = mc.pol.Mail.AnnounceTemplate, mail.DefaultAnnounce
	}
	if strings.TrimSpace(t) == "" {
		return def
	}
	return t
}

// host is the host of the public URL, for Message-IDs.
func (s *Service) host() string {
	if u, err := url.Parse(s.publicURL()); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "localhost"
}

// message builds a mail of the topic about the release; id is its
// Message-ID (a new one when empty) and thread the Message-ID it answers
// ("" starts a thread).
func (s *Service) message(mc *mailContext, topic, id, thread string, to, cc []string, body string) mail.Message {
	if id == "" {
		id = mail.NewMessageID(s.host())
	}
	m := mail.Message{From: s.notify.Mailer.From(), To: to, Cc: cc, Subject: mc.subject(topic), MessageID: id, Date: s.now().UTC(), Body: body,
		AutoSubmitted: topic == domain.MailReceipt || topic == domain.MailReminder}
	if thread != "" {
		m.InReplyTo, m.References = thread, []string{thread}
	}
	return m
}

// queueMail stores a mail in the outbox, due at notBefore.
func (s *Service) queueMail(ctx context.Context, tx store.Tx, rel *domain.Release, topic string, round int, m mail.Message, notBefore time.Time) error {
	payload, err := json.Marshal(m)
	if err != nil {
		return domain.Internal("queueing a mail", err)
	}
	return tx.AddDelivery(ctx, &domain.Delivery{Channel: domain.ChannelMail, Topic: topic, ProjectID: rel.ProjectID, ReleaseID: rel.ID,
		Round: round, MessageID: m.MessageID, Payload: string(payload), NotBefore: notBefore, CreatedAt: s.now()})
}

// renderTopic renders a templated mail (vote, result, announce).
func (mc *mailContext) render(topic string) (string, error) {
	body, err := mail.Render(mc.template(topic), mc.vars)
	if err != nil {
		return "", domain.Errorf(domain.KindInvalid, "the policy's %s template of %s: %s; fix it on the policy page or with `trel policy set %s --%s-template FILE`",
			topic, mc.rel.ProjectKey, err.Error(), mc.rel.ProjectKey, topic)
	}
	return body, nil
}

// threadOf finds the Message-ID of the round's [VOTE] mail ("" if none
// was sent).
func threadOf(ctx context.Context, tx store.Reader, releaseID int64, round int) (string, error) {
	ds, err := tx.ReleaseDeliveries(ctx, releaseID)
	if err != nil {
		return "", err
	}
	for _, d := range ds {
		if d.Topic == domain.MailVote && d.Round == round {
			return d.MessageID, nil
		}
	}
	return "", nil
}

// MailPreview is a mail as it would be sent.
type MailPreview struct {
	Topic     string   `json:"topic"`
	Enabled   bool     `json:"mail_enabled"` // whether this server sends mail at all
	From      string   `json:"from,omitempty"`
	To        []string `json:"to"`
	Cc        []string `json:"cc,omitempty"`
	Subject   string   `json:"subject"`
	Body      string   `json:"body"`
	Problem   string   `json:"problem,omitempty"` // why it would not be sent
	Templated bool     `json:"templated"`         // the policy has its own template
}

// PreviewMail renders the release's [VOTE], [RESULT] or [ANNOUNCE] mail
// as it would be sent now (participants; `trel vote start --preview`).
func (s *Service) PreviewMail(ctx context.Context, a *Actor, projectKey, version, topic string) (*MailPreview, error) {
	rel, err := s.release(ctx, a, OpReadDraft, projectKey, version)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, a, OpReadDraft, rel.CommitteeID, rel.CommitteeKey); err != nil {
		return nil, err
	}
	switch topic {
	case domain.MailVote, domain.MailResult, domain.MailAnnounce:
	default:
		return nil, domain.Errorf(domain.KindInvalid, "mail %s: preview vote, result or announce", domain.SafeText(topic))
	}
	var rev *domain.Revision
	if rel.LatestRevision > 0 {
		if rev, err = s.store.Revision(ctx, rel.ID, rel.LatestRevision); err != nil {
			return nil, err
		}
	}
	mc, err := s.mailContextFor(ctx, s.store, rel, rev)
	if err != nil {
		return nil, err
	}
	if rev == nil {
		mc.vars["files"], mc.vars["verify"] = "  (no files yet)", verifyText(nil)
	}
	mc.vars["vote_ends"] = s.now().Add(time.Duration(mc.pol.MinVoteHours) * time.Hour).UTC().Format("2006-01-02 15:04 UTC")
	if t, err := s.tally(ctx, rel); err == nil {
		mc.vars["tally"], mc.vars["result"] = tallyText(t), resultWord(t.Passing)
	} else {
		mc.vars["tally"], mc.vars["result"] = "(no vote yet)", "passed"
	}
	to, cc := mailLists(mc.pol, rel, topic)
	p := &MailPreview{Topic: topic, Enabled: s.notify.Mailer != nil, To: nonNilStrings(to), Cc: cc, Subject: mc.subject(topic)}
	p.Templated = strings.TrimSpace(mc.template(topic)) != strings.TrimSpace(map[string]string{domain.MailVote: mail.DefaultVote, domain.MailResult: mail.DefaultResult, domain.MailAnnounce: mail.DefaultAnnounce}[topic])
	if s.notify.Mailer != nil {
		p.From = s.notify.Mailer.From()
	}
	body, err := mc.render(topic)
	if err != nil {
		p.Problem = domain.PublicMessage(err)
	}
	p.Body = body
	switch {
	case p.Problem != "":
	case !p.Enabled:
		p.Problem = "mail is off on this server (the operator starts `trel serve` with --smtp and --mail-from to turn it on)"
	case len(to) == 0 && rel.Embargoed && topic != domain.MailAnnounce:
		p.Problem = "the release is embargoed and the policy names no private list (--private-to): no mail will be sent before publication"
	case len(to) == 0:
		p.Problem = "the policy names no list for this mail (trel policy set " + rel.ProjectKey + " --vote-to/--announce-to ADDRESS)"
	}
	return p, nil
}

func resultWord(passed bool) string {
	if passed {
		return "passed"
	}
	return "failed"
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ReleaseMail lists the mail of a release: [VOTE], ballots, reminders,
// [RESULT] and [ANNOUNCE] with their Message-IDs and delivery state
// (committee participants). Receipts to voters are not listed.
func (s *Service) ReleaseMail(ctx context.Context, a *Actor, projectKey, version string) ([]domain.Delivery, error) {
	rel, err := s.release(ctx, a, OpReadDraft, projectKey, version)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, a, OpReadDraft, rel.CommitteeID, rel.CommitteeKey); err != nil {
		return nil, err
	}
	ds, err := s.store.ReleaseDeliveries(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	out := []domain.Delivery{}
	for _, d := range ds {
		if d.Topic == domain.MailReceipt {
			continue
		}
		full, err := s.store.Delivery(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		var m mail.Message
		if json.Unmarshal([]byte(full.Payload), &m) == nil {
			d.Recipients, d.Subject = m.Recipients(), m.Subject
		}
		out = append(out, d)
	}
	return out, nil
}

// ---- events (each runs inside the transaction of the change)

// onVoteStarted queues the [VOTE] mail and its reminder, notifies the
// committee's participants and calls the webhooks.
func (s *Service) onVoteStarted(ctx context.Context, tx store.Tx, a *Actor, rel *domain.Release, round domain.VoteRound) error {
	rev, err := tx.Revision(ctx, rel.ID, round.Revision)
	if err != nil {
		return err
	}
	closes := round.ClosesAt().UTC().Format("2006-01-02 15:04 UTC")
	if s.notify.Mailer != nil {
		mc, err := s.mailContextFor(ctx, tx, rel, rev)
		if err != nil {
			return err
		}
		mc.vars["vote_hours"], mc.vars["binding_needed"] = strconv.Itoa(round.MinHours), strconv.Itoa(round.MinBindingPlusOnes)
		mc.vars["vote_ends"] = closes
		if to, cc := mailLists(mc.pol, rel, domain.MailVote); len(to) > 0 {
			body, err := mc.render(domain.MailVote)
			if err != nil {
				return err
			}
			vote := s.message(mc, domain.MailVote, "", "", to, cc, body)
			if err := s.queueMail(ctx, tx, rel, domain.MailVote, round.Round, vote, s.now()); err != nil {
				return err
			}
			reminder := s.message(mc, domain.MailReminder, "", vote.MessageID, to, cc, fmt.Sprintf(
				"The minimum duration of this vote (%d hours) ended at %s.\n\nA release manager may now resolve it:\n  %s\nor\n  trel vote resolve %s %s\n",
				round.MinHours, closes, s.releaseURL(rel), rel.ProjectKey, rel.Version))
			if err := s.queueMail(ctx, tx, rel, domain.MailReminder, round.Round, reminder, round.ClosesAt()); err != nil {
				return err
			}
		}
	}
	users, err := participants(ctx, tx, rel.CommitteeID)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("The vote on %s %s (revision %d) started; it runs until at least %s.", rel.ProjectKey, rel.Version, round.Revision, closes)
	if err := s.notifyUsers(ctx, tx, users, a.id(), domain.NoticeVote, msg, releasePath(rel), fmt.Sprintf("vote-start:%d:%d", rel.ID, round.Round)); err != nil {
		return err
	}
	return s.queueWebhooks(ctx, tx, rel, domain.EventVoteStarted, map[string]any{"round": round.Round, "revision": round.Revision,
		"closes_at": round.ClosesAt().UTC(), "min_binding_plus_ones": round.MinBindingPlusOnes})
}

func voteWord(value int, binding bool) string {
	v := "0"
	if value > 0 {
		v = "+1"
	} else if value < 0 {
		v = "-1"
	}
	if binding {
		return v + " (binding)"
	}
	return v + " (non-binding)"
}

// quotedComment writes a voter's comment into a mail trel sends: each
// line quoted with "> ", so that no line passes for trel's own words (a
// "+1 (binding)" or a signature naming another voter), with control,
// invisible and reordering characters escaped (\u202e).
func quotedComment(comment string) string {
	comment = strings.ReplaceAll(strings.ReplaceAll(comment, "\r\n", "\n"), "\r", "\n")
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(comment, "\n"), "\n") {
		if safe := domain.SafeText(line); safe != line {
			line = safe[1 : len(safe)-1] // without the quotes SafeText adds
		}
		b.WriteString("> " + line + "\n")
	}
	return b.String()
}

// onVoteCast copies the ballot to the vote's thread, sends the voter a
// receipt (mail and notification).
func (s *Service) onVoteCast(ctx context.Context, tx store.Tx, a *Actor, rel *domain.Release, round int, value int, binding bool, comment string) error {
	word := voteWord(value, binding)
	when := s.now().UTC().Format("2006-01-02 15:04 UTC")
	if s.notify.Mailer != nil {
		mc, err := s.mailContextFor(ctx, tx, rel, nil)
		if err != nil {
			return err
		}
		thread, err := threadOf(ctx, tx, rel.ID, round)
		if err != nil {
			return err
		}
		if to, cc := mailLists(mc.pol, rel, domain.MailBallot); thread != "" && len(to) > 0 {
			body := word + "\n"
			if strings.TrimSpace(comment) != "" {
				body += "\n" + quotedComment(comment)
			}
			body += fmt.Sprintf("\n-- \n%s cast this vote in trel on %s:\n%s\n", a.User.Username, when, s.releaseURL(rel))
			if err := s.queueMail(ctx, tx, rel, domain.MailBallot, round, s.message(mc, domain.MailBallot, "", thread, to, cc, body), s.now()); err != nil {
				return err
			}
		}
		if a.User.Email != "" {
			body := fmt.Sprintf("Your vote %s on %s %s (vote round %d) was recorded on %s.\n\nThe tally and your vote are on the release page:\n  %s\n\nA later vote replaces this one.\n",
				word, mc.project.Name, rel.Version, round, when, s.releaseURL(rel))
			if strings.TrimSpace(comment) != "" {
				body += "\nYour comment:\n" + quotedComment(comment)
			}
			if err := s.queueMail(ctx, tx, rel, domain.MailReceipt, round, s.message(mc, domain.MailReceipt, "", "", []string{a.User.Email}, nil, body), s.now()); err != nil {
				return err
			}
		}
	}
	msg := fmt.Sprintf("Your vote %s on %s %s was recorded on %s.", word, rel.ProjectKey, rel.Version, when)
	return s.notifyUsers(ctx, tx, []int64{a.id()}, 0, domain.NoticeReceipt, msg, releasePath(rel), "")
}

// onVoteEnded sends the [RESULT] (when the vote was resolved), notifies
// the participants and everyone who voted, and calls the webhooks.
// cancelled is the reason of a cancelled vote ("" when resolved).
func (s *Service) onVoteEnded(ctx context.Context, tx store.Tx, a *Actor, rel *domain.Release, t *domain.Tally, cancelled string) error {
	outcome := resultWord(t.Passing)
	if cancelled != "" {
		outcome = "cancelled"
	}
	if s.notify.Mailer != nil && cancelled == "" {
		rev, err := tx.Revision(ctx, rel.ID, t.Round.Revision)
		if err != nil {
			return err
		}
		mc, err := s.mailContextFor(ctx, tx, rel, rev)
		if err != nil {
			return err
		}
		mc.vars["tally"], mc.vars["result"] = tallyText(t), outcome
		mc.vars["vote_hours"], mc.vars["binding_needed"] = strconv.Itoa(t.Round.MinHours), strconv.Itoa(t.Round.MinBindingPlusOnes)
		mc.vars["vote_ends"] = t.ClosesAt.UTC().Format("2006-01-02 15:04 UTC")
		if to, cc := mailLists(mc.pol, rel, domain.MailResult); len(to) > 0 {
			thread, err := threadOf(ctx, tx, rel.ID, t.Round.Round)
			if err != nil {
				return err
			}
			body, err := mc.render(domain.MailResult)
			if err != nil {
				return err
			}
			if err := s.queueMail(ctx, tx, rel, domain.MailResult, t.Round.Round, s.message(mc, domain.MailResult, "", thread, to, cc, body), s.now()); err != nil {
				return err
			}
		}
	}
	users, err := participants(ctx, tx, rel.CommitteeID)
	if err != nil {
		return err
	}
	for _, v := range t.Votes {
		users = append(users, v.UserID)
	}
	msg := fmt.Sprintf("The vote on %s %s ended: %s (binding +1 %d, -1 %d).", rel.ProjectKey, rel.Version, outcome, t.BindingPlus, t.BindingMinus)
	if cancelled != "" {
		msg = fmt.Sprintf("The vote on %s %s was cancelled by %s: %s", rel.ProjectKey, rel.Version, a.name(), cancelled)
	}
	key := "vote-end"
	if cancelled != "" {
		key = "vote-cancel"
	}
	if err := s.notifyUsers(ctx, tx, users, a.id(), domain.NoticeVote, msg, releasePath(rel), fmt.Sprintf("%s:%d:%d", key, rel.ID, t.Round.Round)); err != nil {
		return err
	}
	return s.queueWebhooks(ctx, tx, rel, domain.EventVoteEnded, map[string]any{"round": t.Round.Round, "outcome": outcome,
		"binding_plus": t.BindingPlus, "binding_minus": t.BindingMinus, "binding_zero": t.BindingZero})
}

// announceID is the Message-ID the [ANNOUNCE] of a publication will have,
// chosen before the manifest is written (the manifest records it): "" when
// no announcement will be sent.
func (s *Service) announceID(pol *domain.Policy) string {
	if s.notify.Mailer == nil || len(pol.Mail.AnnounceTo) == 0 {
		return ""
	}
	return mail.NewMessageID(s.host())
}

// manifestMail collects the Message-IDs a publication's manifest records.
func (s *Service) manifestMail(ctx context.Context, rel *domain.Release, round int, pol *domain.Policy) (*ManifestMail, error) {
	ds, err := s.store.ReleaseDeliveries(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	m := &ManifestMail{Announce: s.announceID(pol)}
	for _, d := range ds {
		if d.Round != round {
			continue
		}
		switch d.Topic {
		case domain.MailVote:
			m.Vote = d.MessageID
		case domain.MailResult:
			m.Result = d.MessageID
		}
	}
	if *m == (ManifestMail{}) {
		return nil, nil
	}
	return m, nil
}

// onPublished lifts the embargo, sends the [ANNOUNCE] (with the
// Message-ID the manifest recorded), and calls the webhooks.
func (s *Service) onPublished(ctx context.Context, tx store.Tx, rel *domain.Release, rev *domain.Revision, manifest []byte) error {
	if err := tx.LiftEmbargo(ctx, rel.ID, s.now()); err != nil {
		return err
	}
	public := *rel
	public.Embargoed, public.Phase = false, domain.PhaseReleased
	var m struct {
		Mail *ManifestMail `json:"mail"`
	}
	json.Unmarshal(manifest, &m)
	if s.notify.Mailer != nil && m.Mail != nil && m.Mail.Announce != "" {
		mc, err := s.mailContextFor(ctx, tx, &public, rev)
		if err != nil {
			return err
		}
		if to, cc := mailLists(mc.pol, &public, domain.MailAnnounce); len(to) > 0 {
			body, err := mc.render(domain.MailAnnounce)
			if err != nil {
				// The policy changed since the manifest was written; the
				// default template still announces the release.
				mc.pol.Mail.AnnounceTemplate = ""
				body, _ = mc.render(domain.MailAnnounce)
			}
			msg := s.message(mc, domain.MailAnnounce, m.Mail.Announce, "", to, cc, body)
			if err := s.queueMail(ctx, tx, &public, domain.MailAnnounce, 0, msg, s.now()); err != nil {
				return err
			}
		}
	}
	return s.queueWebhooks(ctx, tx, &public, domain.EventPublished, map[string]any{"revision": rev.Number, "files": len(rev.Files),
		"download_url": s.filesURL(&public), "manifest_url": s.filesURL(&public) + "trel-release-manifest.json"})
}

// ChecksFinished runs after a check run's results are stored (the check
// worker calls it): the release managers of a draft hear about its
// blockers, and the webhooks about the run.
func (s *Service) ChecksFinished(ctx context.Context, revisionID int64) error {
	rev, err := s.store.RevisionByID(ctx, revisionID)
	if err != nil {
		return err
	}
	rel, err := s.store.ReleaseByID(ctx, rev.ReleaseID)
	if err != nil {
		return err
	}
	results, err := s.store.CheckResults(ctx, revisionID)
	if err != nil {
		return err
	}
	run, err := s.store.CheckRun(ctx, revisionID)
	if err != nil {
		return err
	}
	summary := map[domain.CheckStatus]int{}
	for _, r := range results {
		summary[r.Status]++
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if n := summary[domain.StatusBlocker]; n > 0 && rel.Phase == domain.PhaseDraft && rev.Number == rel.LatestRevision {
			rms, err := releaseManagerIDs(ctx, tx, rel)
			if err != nil {
				return err
			}
			msg := fmt.Sprintf("The checks found %d blocker(s) in revision %d of your draft %s %s.", n, rev.Number, rel.ProjectKey, rel.Version)
			if err := s.notifyUsers(ctx, tx, rms, 0, domain.NoticeBlocker, msg, releasePath(rel), fmt.Sprintf("blocker:%d:%d", revisionID, run.Generation)); err != nil {
				return err
			}
		}
		return s.queueWebhooks(ctx, tx, rel, domain.EventChecksFinished, map[string]any{"revision": rev.Number, "summary": summary})
	})
	if err == nil {
		s.wakeDeliveries()
	}
	return err
}

// notifySignature tells a key's holder that trel signed with it.
func (s *Service) notifySignature(ctx context.Context, tx store.Tx, ownerID int64, fpr string, rel *domain.Release, rev *domain.Revision, files int) error {
	msg := fmt.Sprintf("Your key %s held by trel signed %d file(s) of %s %s (revision %d) on %s. If you did not ask for this, revoke the key and tell an administrator.",
		fpr, files, rel.ProjectKey, rel.Version, rev.Number, s.now().UTC().Format("2006-01-02 15:04 UTC"))
	return s.notifyUsers(ctx, tx, []int64{ownerID}, 0, domain.NoticeSignature, msg, "/keys", "")
}

// ManifestMail records, in a published release's manifest, the
// Message-IDs of the mail about it: evidence that the vote and the result
// were sent to the lists, and what the announcement's id is.
type ManifestMail struct {
	Vote     string `json:"vote,omitempty"`
	Result   string `json:"result,omitempty"`
	Announce string `json:"announce,omitempty"`
}

// checkMailTemplates refuses a policy whose templates use unknown
// placeholders.
func checkMailTemplates(pol *domain.Policy) error {
	for name, t := range map[string]string{"vote": pol.Mail.VoteTemplate, "result": pol.Mail.ResultTemplate, "announce": pol.Mail.AnnounceTemplate} {
		if err := mail.CheckTemplate(t); err != nil {
			return domain.Errorf(domain.KindInvalid, "the %s template: %s", name, err.Error()).On(name + "_template")
		}
	}
	return nil
}

// ---- webhooks

// newDeliveryID is the random id a webhook receiver sees (X-Trel-Delivery).
func newDeliveryID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// WebhookPayload is the JSON body of every webhook call.
type WebhookPayload struct {
	Event      string         `json:"event"`
	Delivery   string         `json:"delivery"`
	Time       time.Time      `json:"time"`
	Committee  string         `json:"committee"`
	Project    string         `json:"project"`
	Version    string         `json:"version,omitempty"`
	Phase      string         `json:"phase,omitempty"`
	ReleaseURL string         `json:"release_url,omitempty"`
	Data       map[string]any `json:"data,omitempty"`
}

// queueWebhooks queues a call of every webhook of the release's project
// that wants the event. An embargoed release calls none before it is
// published.
func (s *Service) queueWebhooks(ctx context.Context, tx store.Tx, rel *domain.Release, event string, data map[string]any) error {
	if rel.Embargoed && rel.Phase != domain.PhaseReleased {
		return nil
	}
	hooks, err := tx.Webhooks(ctx, rel.ProjectID)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		if !h.Wants(event) {
			continue
		}
		p := WebhookPayload{Event: event, Delivery: newDeliveryID(), Time: s.now().UTC(), Committee: rel.CommitteeKey, Project: rel.ProjectKey,
			Version: rel.Version, Phase: string(rel.Phase), ReleaseURL: s.releaseURL(rel), Data: data}
		body, err := json.Marshal(p)
		if err != nil {
			return domain.Internal("queueing a webhook", err)
		}
		if err := tx.AddDelivery(ctx, &domain.Delivery{Channel: domain.ChannelWebhook, Topic: event, ProjectID: rel.ProjectID, ReleaseID: rel.ID,
			WebhookID: h.ID, MessageID: p.Delivery, Payload: string(body), NotBefore: s.now(), CreatedAt: s.now()}); err != nil {
			return err
		}
	}
	return nil
}

// OpManageWebhooks: a project's webhooks are its committee members'.
const OpManageWebhooks Op = "manage the project's webhooks"

func init() { required[OpManageWebhooks] = levelMember }

// NewWebhook is a webhook to register. An empty secret makes trel choose
// one (returned once).
type NewWebhook struct {
	URL    string   `json:"url"`
	Secret string   `json:"secret,omitempty"`
	Events []string `json:"events,omitempty"`
}

// CreatedWebhook is returned once, with the secret.
type CreatedWebhook struct {
	Webhook domain.Webhook `json:"webhook"`
	Secret  string         `json:"secret"`
}

// maxWebhooks is how many webhooks a project may have.
const maxWebhooks = 20

// AddWebhook registers a webhook of a project (committee members).
func (s *Service) AddWebhook(ctx context.Context, a *Actor, projectKey string, req NewWebhook) (*CreatedWebhook, error) {
	p, err := s.projectFor(ctx, a, OpManageWebhooks, projectKey)
	if err != nil {
		return nil, err
	}
	if err := webhook.CheckURL(req.URL, s.notify.AllowPrivateWebhooks); err != nil {
		return nil, domain.Errorf(domain.KindInvalid, "%s", err.Error())
	}
	if err := domain.ValidateWebhookEvents(req.Events); err != nil {
		return nil, err
	}
	secret := req.Secret
	if secret == "" {
		secret = "whsec_" + newDeliveryID() + newDeliveryID()
	} else if len(secret) < 16 || len(secret) > 256 || strings.ContainsFunc(secret, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return nil, domain.Errorf(domain.KindInvalid, "a webhook secret is 16 to 256 printable ASCII characters without spaces (or leave it empty and trel makes one)")
	}
	w := &domain.Webhook{ProjectID: p.ID, URL: req.URL, Secret: secret, Events: req.Events, CreatedBy: a.name(), CreatedAt: s.now()}
	if w.Events == nil {
		w.Events = []string{}
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.AddWebhook(ctx, w, a.id(), maxWebhooks); err != nil {
			return err
		}
		// The URL may carry a token in its query: only its origin is audited.
		return s.audit(ctx, tx, a, "webhook.add", "project:"+p.Key, map[string]any{"id": w.ID, "origin": urlOrigin(w.URL), "events": w.Events})
	})
	if err != nil {
		return nil, err
	}
	return &CreatedWebhook{Webhook: *w, Secret: secret}, nil
}

// urlOrigin is scheme://host of a URL, for the audit log.
func urlOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// Webhooks lists a project's webhooks (committee members; the secrets are
// never shown again).
func (s *Service) Webhooks(ctx context.Context, a *Actor, projectKey string) ([]domain.Webhook, error) {
	p, err := s.projectFor(ctx, a, OpManageWebhooks, projectKey)
	if err != nil {
		return nil, err
	}
	return s.store.Webhooks(ctx, p.ID)
}

// RemoveWebhook removes a project's webhook (committee members); its
// delivery log stays.
func (s *Service) RemoveWebhook(ctx context.Context, a *Actor, projectKey string, id int64) error {
	p, err := s.projectFor(ctx, a, OpManageWebhooks, projectKey)
	if err != nil {
		return err
	}
	return s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.DeleteWebhook(ctx, p.ID, id, s.now()); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "webhook.remove", "project:"+p.Key, map[string]any{"id": id})
	})
}

// WebhookDeliveries is the delivery log of a project's webhooks
// (committee members), newest first.
func (s *Service) WebhookDeliveries(ctx context.Context, a *Actor, projectKey string) ([]domain.Delivery, error) {
	p, err := s.projectFor(ctx, a, OpManageWebhooks, projectKey)
	if err != nil {
		return nil, err
	}
	ds, err := s.store.WebhookDeliveries(ctx, p.ID, 200)
	for i := range ds {
		ds[i].WebhookURL = urlOrigin(ds[i].WebhookURL)
	}
	return ds, err
}

// ---- delivery (the job queue's worker calls Deliver)

// backoff is the delay before attempt n+1 (n >= 1): base, 2 base, 4
// base... at most an hour.
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// finishTries bounds the attempts at recording a delivery's outcome (each
// waits up to the database's busy timeout), well within a claim.
const finishTries = 5

// Deliver makes one attempt of a delivery, if it is still pending and due:
// the claim is one conditional UPDATE, so of two workers racing (two
// replicas) one sends and the other does nothing.
func (s *Service) Deliver(ctx context.Context, id int64) error {
	now := s.now()
	var d *domain.Delivery
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		got, ok, err := tx.ClaimDelivery(ctx, id, now, now.Add(deliveryClaim))
		if ok {
			d = got
		}
		return err
	})
	if err != nil || d == nil {
		return err
	}
	out := store.DeliveryOutcome{State: domain.DeliverySent}
	var sendErr error
	temporary := false
	switch d.Channel {
	case domain.ChannelMail:
		out, temporary, sendErr = s.deliverMail(ctx, d)
	case domain.ChannelWebhook:
		out, temporary, sendErr = s.deliverWebhook(ctx, d)
	}
	out.At = s.now()
	if sendErr != nil {
		out.LastError = sendErr.Error()
		if temporary && d.Attempts < s.notify.MaxAttempts {
			out.State, out.NotBefore = domain.DeliveryPending, out.At.Add(backoff(s.notify.RetryBase, d.Attempts))
		} else {
			out.State = domain.DeliveryFailed
			if temporary {
				out.LastError = fmt.Sprintf("gave up after %d attempts: %s", d.Attempts, sendErr.Error())
			}
		}
	}
	// The attempt happened: its outcome must be recorded, or the row stays
	// claimed until the claim runs out and a mail the relay accepted is
	// sent again. A busy database (SQLite under load) is waited out.
	for try := 1; ; try++ {
		err = s.store.Tx(ctx, func(tx store.Tx) error {
			ok, err := tx.FinishAttempt(ctx, d.ID, d.Attempts, out)
			if err != nil || !ok {
				return err
			}
			return s.recordOutcome(ctx, tx, d, out)
		})
		if err == nil || try == finishTries || ctx.Err() != nil {
			break
		}
		s.log.Warn("recording a delivery's outcome failed; trying again", "delivery", d.ID, "try", try, "err", err)
		time.Sleep(time.Duration(try) * 200 * time.Millisecond)
	}
	if out.State == domain.DeliveryPending {
		s.log.Info("delivery will be retried", "delivery", d.ID, "channel", d.Channel, "topic", d.Topic, "attempt", d.Attempts, "at", out.NotBefore, "err", out.LastError)
	}
	return err
}

// recordOutcome audits a failed delivery or refused recipients and tells
// the release managers (the project's members for a webhook).
func (s *Service) recordOutcome(ctx context.Context, tx store.Tx, d *domain.Delivery, out store.DeliveryOutcome) error {
	if out.State != domain.DeliveryFailed && out.Refused == "" {
		return nil
	}
	rel, err := tx.ReleaseByID(ctx, d.ReleaseID)
	if err != nil {
		return err
	}
	what, action := "The "+d.Topic+" mail", "mail.failed"
	if d.Channel == domain.ChannelWebhook {
		what, action = "The "+d.Topic+" webhook call", "webhook.failed"
	}
	details := map[string]any{"delivery": d.ID, "topic": d.Topic, "attempts": d.Attempts, "error": out.LastError}
	msg := fmt.Sprintf("%s of %s %s failed: %s", what, rel.ProjectKey, rel.Version, out.LastError)
	if out.State != domain.DeliveryFailed {
		action, msg = "mail.refused", fmt.Sprintf("%s of %s %s was refused for %s.", what, rel.ProjectKey, rel.Version, out.Refused)
		details["refused"] = out.Refused
	}
	if d.MessageID != "" && d.Channel == domain.ChannelMail {
		details["message_id"] = d.MessageID
	}
	if err := tx.Audit(ctx, domain.AuditEvent{Time: s.now(), Actor: "system", Action: action, Target: releaseTarget(rel), Details: details}); err != nil {
		return err
	}
	rms, err := releaseManagerIDs(ctx, tx, rel)
	if err != nil {
		return err
	}
	return s.notifyUsers(ctx, tx, rms, 0, domain.NoticeDelivery, msg, releasePath(rel), fmt.Sprintf("delivery:%d", d.ID))
}

// deliverMail sends a mail delivery (or skips a reminder no longer wanted).
func (s *Service) deliverMail(ctx context.Context, d *domain.Delivery) (store.DeliveryOutcome, bool, error) {
	out := store.DeliveryOutcome{State: domain.DeliverySent}
	if s.notify.Mailer == nil {
		return out, false, fmt.Errorf("mail is off on this server (no --smtp)")
	}
	if d.Topic == domain.MailReminder {
		wanted, err := s.reminderWanted(ctx, d)
		if err != nil {
			return out, true, err
		}
		if !wanted {
			out.State = domain.DeliverySkipped
			return out, false, nil
		}
	}
	var m mail.Message
	if err := json.Unmarshal([]byte(d.Payload), &m); err != nil {
		return out, false, fmt.Errorf("the stored message is unreadable: %v", err)
	}
	refused, err := s.notify.Mailer.Send(ctx, m)
	if len(m.Envelope) > 0 && d.Refused != "" {
		// A retry of deferred recipients: those refused before stay refused.
		refused = append(strings.Split(d.Refused, ", "), refused...)
	}
	out.Refused = strings.Join(refused, ", ")
	if deferred := mail.DeferredRecipients(err); len(deferred) > 0 {
		// The others have the message: a retry goes to these only.
		m.Envelope = deferred
		payload, jerr := json.Marshal(m)
		if jerr != nil {
			return out, false, jerr
		}
		out.Payload = string(payload)
	}
	if err != nil {
		return out, mail.IsTemporary(err), err
	}
	return out, false, nil
}

// reminderWanted: a reminder goes out only while its round is open, and
// then also tells the release managers in the app.
func (s *Service) reminderWanted(ctx context.Context, d *domain.Delivery) (bool, error) {
	rel, err := s.store.ReleaseByID(ctx, d.ReleaseID)
	if err != nil {
		return false, err
	}
	round, err := s.store.CurrentVote(ctx, rel.ID)
	if err != nil {
		return false, err
	}
	if rel.Phase != domain.PhaseCandidate || round.Round != d.Round || round.ResolvedAt != nil {
		return false, nil
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		rms, err := releaseManagerIDs(ctx, tx, rel)
		if err != nil {
			return err
		}
		msg := fmt.Sprintf("The vote on %s %s has run its minimum duration: you may resolve it now.", rel.ProjectKey, rel.Version)
		return s.notifyUsers(ctx, tx, rms, 0, domain.NoticeVote, msg, releasePath(rel), fmt.Sprintf("vote-due:%d:%d", rel.ID, round.Round))
	})
	return err == nil, err
}

// deliverWebhook calls a webhook delivery's receiver.
func (s *Service) deliverWebhook(ctx context.Context, d *domain.Delivery) (store.DeliveryOutcome, bool, error) {
	out := store.DeliveryOutcome{State: domain.DeliverySent}
	h, err := s.store.Webhook(ctx, d.WebhookID)
	if err != nil {
		return out, true, err
	}
	if h.DeletedAt != nil {
		out.State = domain.DeliverySkipped
		return out, false, nil
	}
	if s.notify.Webhooks == nil {
		return out, false, fmt.Errorf("this server does not call webhooks")
	}
	status, err := s.notify.Webhooks.Post(ctx, h.URL, h.Secret, d.Topic, d.MessageID, []byte(d.Payload))
	out.StatusCode = status
	if err != nil {
		return out, webhook.IsTemporary(err), err
	}
	return out, false, nil
}

// Now is the service's clock (tests inject one with Options.Now): the
// queue's sweep judges which deliveries are due by it.
func (s *Service) Now() time.Time { return s.now() }
