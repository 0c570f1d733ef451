// Package mail builds and sends trel's mail: [VOTE], [RESULT] and
// [ANNOUNCE] rendered from per-project templates with {placeholders},
// ballots copied to the vote's thread, receipts and reminders.
//
// Messages are plain-text RFC 5322 written by trel itself. Every header
// value that people choose (project names, versions, comments in a
// subject, display names) is reduced to one line of visible text and
// encoded (RFC 2047) when it is not ASCII, and every address is parsed
// and formatted again, so no input can add a header or a recipient. The
// body is quoted-printable, so no line is too long and no dot ends the
// SMTP data early.
//
// Sender speaks SMTP to the operator's relay: STARTTLS whenever the server
// offers it (required before a password is sent), implicit TLS for
// smtps://, and it tells temporary failures (4xx, network) from permanent
// ones (5xx) and refused recipients, so that the caller can retry.
package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Message is one mail as trel stores it in the outbox (JSON) and sends it.
type Message struct {
	From       string    `json:"from"`
	To         []string  `json:"to"`
	Cc         []string  `json:"cc,omitempty"`
	Subject    string    `json:"subject"`
	MessageID  string    `json:"message_id"`
	InReplyTo  string    `json:"in_reply_to,omitempty"`
	References []string  `json:"references,omitempty"`
	Date       time.Time `json:"date"`
	Body       string    `json:"body"`
	// AutoSubmitted marks receipts and reminders (RFC 3834), so that
	// auto-responders stay quiet.
	AutoSubmitted bool `json:"auto_submitted,omitempty"`
}

// Recipients returns To and Cc, without duplicates, in order.
func (m Message) Recipients() []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range append(append([]string{}, m.To...), m.Cc...) {
		if k := strings.ToLower(a); !seen[k] {
			seen[k] = true
			out = append(out, a)
		}
	}
	return out
}

// NewMessageID returns a new globally unique Message-ID for the host of
// trel's public URL: <RANDOM.trel@HOST>.
func NewMessageID(host string) string {
	var b [16]byte
	rand.Read(b[:])
	host = strings.Map(func(r rune) rune {
		if r > 0x20 && r < 0x7f && !strings.ContainsRune("<>()[]\\,;:@\"", r) {
			return r
		}
		return -1
	}, host)
	if host == "" {
		host = "localhost"
	}
	return "<" + hex.EncodeToString(b[:]) + ".trel@" + host + ">"
}

// ValidMessageID reports whether s is a Message-ID as trel writes them
// (angle brackets around visible ASCII, one @, no spaces).
func ValidMessageID(s string) bool {
	if len(s) < 5 || len(s) > 250 || s[0] != '<' || s[len(s)-1] != '>' || strings.Count(s, "@") != 1 {
		return false
	}
	for _, r := range s[1 : len(s)-1] {
		if r <= 0x20 || r >= 0x7f || r == '<' || r == '>' {
			return false
		}
	}
	return true
}

// HeaderText reduces s to one line of visible text: control, format and
// line-separator characters become spaces, runs of spaces collapse, and
// the result is at most max runes.
func HeaderText(s string, max int) string {
	var b strings.Builder
	space := false
	n := 0
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if n >= max {
			break
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// encodeWord encodes s (RFC 2047) when it is not ASCII, one encoded word
// per line: a long non-ASCII subject fits the 998 octets of a line.
func encodeWord(s string) string {
	for _, r := range s {
		if r >= 0x80 {
			return strings.ReplaceAll(mime.QEncoding.Encode("utf-8", s), "?= =?", "?=\r\n =?")
		}
	}
	return s
}

// formatAddress parses one address (possibly with a display name) and
// writes it again, encoded.
func formatAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || strings.ContainsAny(a.Address, "\r\n") {
		return "", fmt.Errorf("%q is not a mail address", HeaderText(s, 100))
	}
	a.Name = HeaderText(a.Name, 100)
	return a.String(), nil
}

// Bytes renders the message with CRLF line ends, ready for SMTP DATA.
func (m Message) Bytes() ([]byte, error) {
	if len(m.To) == 0 {
		return nil, fmt.Errorf("a message needs at least one recipient")
	}
	var h bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&h, "%s: %s\r\n", name, value) }
	from, err := formatAddress(m.From)
	if err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	list := func(addrs []string) (string, error) {
		var out []string
		for _, a := range addrs {
			f, err := formatAddress(a)
			if err != nil {
				return "", err
			}
			out = append(out, f)
		}
		// One address per line: 20 long addresses would make a line
		// longer than the 998 octets RFC 5322 allows.
		return strings.Join(out, ",\r\n "), nil
	}
	header("From", from)
	to, err := list(m.To)
	if err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	header("To", to)
	if len(m.Cc) > 0 {
		cc, err := list(m.Cc)
		if err != nil {
			return nil, fmt.Errorf("cc: %w", err)
		}
		header("Cc", cc)
	}
	header("Subject", encodeWord(HeaderText(m.Subject, 200)))
	header("Date", m.Date.Format(time.RFC1123Z))
	for _, id := range append([]string{m.MessageID, m.InReplyTo}, m.References...) {
		if id != "" && !ValidMessageID(id) {
			return nil, fmt.Errorf("invalid Message-ID %q", HeaderText(id, 100))
		}
	}
	if m.MessageID == "" {
		return nil, fmt.Errorf("a message needs a Message-ID")
	}
	header("Message-ID", m.MessageID)
	if m.InReplyTo != "" {
		header("In-Reply-To", m.InReplyTo)
	}
	if len(m.References) > 0 {
		header("References", strings.Join(m.References, " "))
	}
	if m.AutoSubmitted {
		header("Auto-Submitted", "auto-generated")
	}
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	h.WriteString("\r\n")
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\r", "\n")
	qp := quotedprintable.NewWriter(&h)
	// The writer turns "\n" into CRLF only with Binary false (the default).
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(h.Bytes(), []byte("\r\n")) {
		h.WriteString("\r\n")
	}
	return h.Bytes(), nil
}
