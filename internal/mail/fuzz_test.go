package mail_test

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"
	"time"

	trelmail "trel/internal/mail"
)

// FuzzMessageHeaders: whatever a subject holds, the message has exactly
// the headers trel writes, each on one line.
func FuzzMessageHeaders(f *testing.F) {
	for _, s := range []string{"[VOTE] Release X 1.0", "a\r\nBcc: x@y", "\u2028\u202e", "ümlaut", strings.Repeat("x", 500)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, subject string) {
		m := trelmail.Message{From: "trel@example.org", To: []string{"dev@example.org"}, Subject: subject,
			MessageID: "<a@example.org>", Date: time.Unix(0, 0), Body: subject}
		b, err := m.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(b, []byte("\r\n")) {
			if len(line) > 998 {
				t.Fatalf("a line of %d octets for subject %q", len(line), subject)
			}
		}
		parsed, err := mail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if len(parsed.Header) != 8 { // From, To, Subject, Date, Message-ID and three MIME headers
			t.Fatalf("%d headers for subject %q: %v", len(parsed.Header), subject, parsed.Header)
		}
		if h := trelmail.HeaderText(subject, 200); strings.ContainsAny(h, "\r\n") {
			t.Fatalf("HeaderText kept a line break: %q", h)
		}
	})
}

// FuzzRender: rendering never panics and never leaves a known placeholder.
func FuzzRender(f *testing.F) {
	for _, s := range []string{trelmail.DefaultVote, "{", "{{", "}{", "{project", "{unknown}", "{{project}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tmpl string) {
		out, err := trelmail.Render(tmpl, trelmail.Vars{"project": "P"})
		if err == nil && strings.Contains(out, "{project}") && !strings.Contains(tmpl, "{{project}") {
			t.Fatalf("%q rendered to %q", tmpl, out)
		}
	})
}
