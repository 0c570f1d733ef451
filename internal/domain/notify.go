package domain

import (
	"net/mail"
	"strings"
	"time"
)

// Kinds of notices (in-app notifications).
const (
	NoticeAccount   = "account"   // an action on the user's account (incident response)
	NoticeVote      = "vote"      // a vote started or ended on a release the user may vote on
	NoticeReceipt   = "receipt"   // the receipt of the user's own vote
	NoticeBlocker   = "blocker"   // a blocker on a draft the user manages
	NoticeSignature = "signature" // a signature made with a key trel holds for the user
	NoticeDelivery  = "delivery"  // a mail or webhook of a release the user manages failed
)

// Delivery channels and states.
const (
	ChannelMail    = "mail"
	ChannelWebhook = "webhook"

	DeliveryPending = "pending"
	DeliverySending = "sending"
	DeliverySent    = "sent"
	DeliveryFailed  = "failed"
	DeliverySkipped = "skipped" // no longer wanted when due (a reminder of a closed vote)
)

// Mail topics (the kinds of mail trel sends).
const (
	MailVote     = "vote"     // [VOTE] to the vote list (private list when embargoed)
	MailBallot   = "ballot"   // a ballot cast in trel, copied to the thread
	MailReceipt  = "receipt"  // the voter's receipt
	MailReminder = "reminder" // the minimum duration has passed
	MailResult   = "result"   // [RESULT] with the tally
	MailAnnounce = "announce" // [ANNOUNCE] after publication
)

// Webhook events.
const (
	EventRevisionCreated = "revision.created"
	EventChecksFinished  = "checks.finished"
	EventVoteStarted     = "vote.started"
	EventVoteEnded       = "vote.ended"
	EventPublished       = "release.published"
	EventYanked          = "release.yanked"
	EventUnyanked        = "release.unyanked"
	EventArchived        = "release.archived"
)

// WebhookEvents lists every event a webhook may subscribe to.
var WebhookEvents = []string{EventRevisionCreated, EventChecksFinished, EventVoteStarted, EventVoteEnded,
	EventPublished, EventYanked, EventUnyanked, EventArchived}

// Delivery is one mail or webhook call in the outbox.
type Delivery struct {
	ID        int64  `json:"id"`
	Channel   string `json:"channel"`
	Topic     string `json:"topic"` // a Mail* topic or a webhook event
	ProjectID int64  `json:"-"`
	ReleaseID int64  `json:"-"`
	WebhookID int64  `json:"webhook_id,omitempty"`
	// Round is the vote round a vote mail belongs to.
	Round     int    `json:"round,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	// Payload is the rendered mail (JSON of mail.Message) or the webhook
	// body.
	Payload      string     `json:"-"`
	State        string     `json:"state"`
	Attempts     int        `json:"attempts"`
	NotBefore    time.Time  `json:"not_before"`
	ClaimedUntil *time.Time `json:"-"`
	LastError    string     `json:"last_error,omitempty"`
	// Refused lists recipients the mail server refused (the others got
	// the mail).
	Refused     string     `json:"refused,omitempty"`
	StatusCode  int        `json:"status_code,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	Recipients  []string   `json:"recipients,omitempty"`
	Subject     string     `json:"subject,omitempty"`
	WebhookURL  string     `json:"webhook_url,omitempty"`
	ReleaseName string     `json:"release,omitempty"`
}

// Webhook is a project's webhook. The secret is never returned after
// creation.
type Webhook struct {
	ID        int64      `json:"id"`
	ProjectID int64      `json:"-"`
	URL       string     `json:"url"`
	Secret    string     `json:"-"`
	Events    []string   `json:"events"` // empty: every event
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
}

// Wants reports whether the webhook subscribed to the event.
func (w Webhook) Wants(event string) bool {
	if len(w.Events) == 0 {
		return true
	}
	for _, e := range w.Events {
		if e == event {
			return true
		}
	}
	return false
}

// ValidateWebhookEvents checks a list of event names.
func ValidateWebhookEvents(events []string) error {
	for _, e := range events {
		known := false
		for _, k := range WebhookEvents {
			known = known || e == k
		}
		if !known {
			return Errorf(KindInvalid, "unknown webhook event %s: use %s", SafeText(e), strings.Join(WebhookEvents, ", "))
		}
	}
	return nil
}

// MailPolicy is the policy group of a project's mail: where [VOTE],
// [RESULT] and [ANNOUNCE] go and what they say. Templates are plain text
// with {placeholders} (see mail.Placeholders); empty means trel's default.
type MailPolicy struct {
	VoteTo     []string `json:"vote_to"`
	AnnounceTo []string `json:"announce_to"`
	// PrivateTo receives every mail of an embargoed release before it is
	// published (the committee's private list).
	PrivateTo []string `json:"private_to"`
	Cc        []string `json:"cc"`

	VoteTemplate     string `json:"vote_template,omitempty"`
	ResultTemplate   string `json:"result_template,omitempty"`
	AnnounceTemplate string `json:"announce_template,omitempty"`
}

// Archive settings of the policy: when a release is published, older
// published releases of the same line leave the downloads tree.
const (
	ArchiveNever = ""      // keep every release in the downloads tree
	ArchiveMinor = "minor" // same MAJOR.MINOR: 11.0.2 archives 11.0.1
	ArchiveMajor = "major" // same MAJOR: 11.1.0 archives 11.0.2
)

// MaxTemplateSize bounds a mail template.
const MaxTemplateSize = 16 << 10

// Validate checks the mail group (templates are checked by the core,
// which knows the placeholders).
func (m MailPolicy) Validate() error {
	for _, l := range []struct {
		name  string
		addrs []string
	}{{"vote_to", m.VoteTo}, {"announce_to", m.AnnounceTo}, {"private_to", m.PrivateTo}, {"cc", m.Cc}} {
		// Each error names its field (the JSON field and the web form's
		// input), so that the form shows it there.
		if len(l.addrs) > 20 {
			return Errorf(KindInvalid, "%s lists more than 20 addresses", l.name).On(l.name)
		}
		for _, a := range l.addrs {
			if err := ValidateMailAddress(a); err != nil {
				return Errorf(KindInvalid, "%s: %s", l.name, PublicMessage(err)).On(l.name)
			}
		}
	}
	for _, t := range []struct{ name, text string }{{"vote_template", m.VoteTemplate}, {"result_template", m.ResultTemplate}, {"announce_template", m.AnnounceTemplate}} {
		if len(t.text) > MaxTemplateSize {
			return Errorf(KindInvalid, "a mail template is at most %d bytes", MaxTemplateSize).On(t.name)
		}
	}
	return nil
}

// ValidateMailAddress checks one bare address (a list's, such as
// dev@tomcat.apache.org): no display name, no line breaks, at most 254
// bytes.
func ValidateMailAddress(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 || strings.ContainsAny(s, "\r\n<>,;\"") {
		return Errorf(KindInvalid, "%s is not a mail address: give a bare address such as dev@example.org", SafeText(s))
	}
	return nil
}
