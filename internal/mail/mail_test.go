package mail_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trel/internal/mail"
	"trel/internal/testutil/smtptest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

var sample = mail.Vars{
	"project": "tomcat-server", "project_name": "Tomcat Server", "committee": "tomcat", "version": "11.0.0", "revision": "3",
	"release_url":   "https://trel.example.org/projects/tomcat-server/releases/11.0.0",
	"candidate_url": "https://trel.example.org/projects/tomcat-server/releases/11.0.0",
	"download_url":  "https://trel.example.org/downloads/tomcat/tomcat-server/11.0.0/",
	"keys_url":      "https://trel.example.org/downloads/tomcat/KEYS",
	"manifest_url":  "https://trel.example.org/downloads/tomcat/tomcat-server/11.0.0/trel-release-manifest.json",
	"files":         "  apache-tomcat-11.0.0.tar.gz (10.0 MiB)\n    SHA-512: 0123abcd",
	"vote_hours":    "72", "vote_ends": "2026-12-10 12:00 UTC", "binding_needed": "3",
	"tally":            "Binding +1: alice, bob, carol (3)\nBinding -1: none",
	"result":           "passed",
	"verify":           "  gpg --import KEYS\n  gpg --verify apache-tomcat-11.0.0.tar.gz.asc apache-tomcat-11.0.0.tar.gz",
	"release_managers": "alice",
	"vote_command":     "trel vote cast tomcat-server 11.0.0 +1",
}

// TestDefaultTemplates renders the three default templates with every
// placeholder set (golden files).
func TestDefaultTemplates(t *testing.T) {
	for name, tmpl := range map[string]string{"vote.txt": mail.DefaultVote, "result.txt": mail.DefaultResult, "announce.txt": mail.DefaultAnnounce} {
		out, err := mail.Render(tmpl, sample)
		if err != nil {
			t.Fatal(name, err)
		}
		if strings.Contains(out, "{") {
			t.Errorf("%s keeps a placeholder: %s", name, out)
		}
		golden(t, name, []byte(out))
	}
}

func TestRender(t *testing.T) {
	for _, tc := range []struct{ name, tmpl, want, err string }{
		{"ok/placeholders", "{project} {version}", "tomcat-server 11.0.0", ""},
		{"ok/literal brace", "{{not a placeholder}", "{not a placeholder}", ""},
		{"ok/unset placeholder is empty", "[{download_url}]", "[" + sample["download_url"] + "]", ""},
		{"fail/unknown placeholder", "{password}", "", "unknown placeholder {password}"},
		{"fail/unclosed", "hello {project", "", "is not closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mail.Render(tc.tmpl, sample)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q %v, want %q", got, err, tc.want)
			}
		})
	}
}

func message() mail.Message {
	return mail.Message{
		From: "trel <trel@example.org>", To: []string{"dev@tomcat.example.org"}, Cc: []string{"private@tomcat.example.org"},
		Subject: "[VOTE] Release Tomcat Server 11.0.0", MessageID: "<0001.trel@trel.example.org>",
		Date: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC),
		Body: "Hello,\n.\nA line that is much longer than seventy-six characters so that quoted-printable has to wrap it somewhere.\nÜmlaut: ü\n",
	}
}

// TestMessageBytes: the exact bytes of a message (golden file).
func TestMessageBytes(t *testing.T) {
	b, err := message().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "vote.eml", b)
	m, err := netmail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(m.Body))
	if want := strings.ReplaceAll(message().Body, "\n", "\r\n"); string(body) != want {
		t.Fatalf("body %q, want %q", body, want)
	}
}

// TestHeaderInjection: names, versions and comments are user input; none
// of them can add a header or a recipient.
func TestHeaderInjection(t *testing.T) {
	m := message()
	m.Subject = "Re: [VOTE] x\r\nBcc: evil@attacker.example\r\n\r\nbody\u2028X-Evil: 1\u202e"
	m.From = "=?utf-8?q?tr=C3=A9l?= <trel@example.org>"
	b, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := netmail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Bcc", "X-Evil"} {
		if v := parsed.Header.Get(h); v != "" {
			t.Errorf("header %s was injected: %q", h, v)
		}
	}
	dec := new(mime.WordDecoder)
	subj, _ := dec.DecodeHeader(parsed.Header.Get("Subject"))
	if strings.ContainsAny(subj, "\r\n\u2028\u202e") || !strings.Contains(subj, "Bcc: evil@attacker.example") {
		t.Fatalf("subject %q", subj)
	}
	for _, bad := range []mail.Message{
		{From: "trel@example.org", To: []string{"a@example.org\r\nBcc: b@example.org"}, MessageID: "<a@b>"},
		{From: "\"trel\r\nBcc: evil@attacker.example\" <trel@example.org>", To: []string{"a@example.org"}, MessageID: "<a@b>"},
		{From: "trel@example.org", To: []string{"a@example.org"}, MessageID: "<a@b>\r\nBcc: x@y"},
		{From: "trel@example.org", To: []string{"a@example.org"}, MessageID: "<a@b>", InReplyTo: "<x@y> <z@w>"},
	} {
		if _, err := bad.Bytes(); err == nil {
			t.Errorf("a malformed address or Message-ID was accepted: %+v", bad)
		}
	}
}

func sender(t *testing.T, srv *smtptest.Server, scheme, user, password string) *mail.Sender {
	t.Helper()
	u := scheme + "://"
	if user != "" {
		u += user + "@"
	}
	cfg, err := mail.ParseURL(u+srv.Addr, "trel <trel@example.org>")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password, cfg.RootCAs, cfg.Timeout = password, srv.CA, 10*time.Second
	return mail.NewSender(cfg)
}

func TestSend(t *testing.T) {
	ctx := context.Background()
	t.Run("ok/plain: recipients and headers", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{})
		if _, err := sender(t, srv, "smtp", "", "").Send(ctx, message()); err != nil {
			t.Fatal(err)
		}
		got := srv.Wait(1, 5*time.Second)
		if len(got) != 1 || got[0].From != "trel@example.org" || strings.Join(got[0].To, ",") != "dev@tomcat.example.org,private@tomcat.example.org" || got[0].TLS {
			t.Fatalf("received %+v", got)
		}
		if h := got[0].Header(); h.Get("Message-ID") != "<0001.trel@trel.example.org>" || h.Get("Cc") != "<private@tomcat.example.org>" {
			t.Fatalf("headers %v", h)
		}
	})
	t.Run("ok/STARTTLS when offered, with a password", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{TLS: "starttls", Username: "trel", Password: "relay password"})
		if _, err := sender(t, srv, "smtp", "trel", "relay password").Send(ctx, message()); err != nil {
			t.Fatal(err)
		}
		got := srv.Wait(1, 5*time.Second)
		if len(got) != 1 || !got[0].TLS || got[0].User != "trel" {
			t.Fatalf("received %+v", got)
		}
	})
	t.Run("ok/implicit TLS (smtps)", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{TLS: "implicit"})
		if _, err := sender(t, srv, "smtps", "", "").Send(ctx, message()); err != nil {
			t.Fatal(err)
		}
		if got := srv.Wait(1, 5*time.Second); len(got) != 1 || !got[0].TLS {
			t.Fatalf("received %+v", got)
		}
	})
	t.Run("fail/an untrusted certificate is permanent", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{TLS: "starttls"})
		s := sender(t, srv, "smtp", "", "")
		cfg, _ := mail.ParseURL("smtp://"+srv.Addr, "trel@example.org")
		s = mail.NewSender(cfg) // system roots do not trust the test certificate
		_, err := s.Send(ctx, message())
		if err == nil || mail.IsTemporary(err) || len(srv.Messages()) != 0 {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("fail/a wrong password is permanent and not in the error", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{TLS: "starttls", Username: "trel", Password: "relay password"})
		_, err := sender(t, srv, "smtp", "trel", "wrong password").Send(ctx, message())
		if err == nil || mail.IsTemporary(err) || strings.Contains(err.Error(), "wrong password") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("fail/a temporary failure is temporary, then it goes through", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{})
		srv.FailNext(1)
		s := sender(t, srv, "smtp", "", "")
		if _, err := s.Send(ctx, message()); !mail.IsTemporary(err) {
			t.Fatalf("err %v, want temporary", err)
		}
		if _, err := s.Send(ctx, message()); err != nil {
			t.Fatal(err)
		}
		if len(srv.Messages()) != 1 || srv.Attempts() != 2 {
			t.Fatalf("%d messages after %d attempts", len(srv.Messages()), srv.Attempts())
		}
	})
	t.Run("ok/a refused recipient is reported, the others get the mail", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{})
		srv.Refuse("private@tomcat.example.org")
		refused, err := sender(t, srv, "smtp", "", "").Send(ctx, message())
		if err != nil || len(refused) != 1 || refused[0] != "private@tomcat.example.org" {
			t.Fatalf("refused %v err %v", refused, err)
		}
		if got := srv.Messages(); len(got) != 1 || len(got[0].To) != 1 {
			t.Fatalf("received %+v", got)
		}
	})
	t.Run("fail/every recipient refused is permanent", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{})
		srv.Refuse("dev@tomcat.example.org")
		srv.Refuse("private@tomcat.example.org")
		refused, err := sender(t, srv, "smtp", "", "").Send(ctx, message())
		if err == nil || mail.IsTemporary(err) || len(refused) != 2 || len(srv.Messages()) != 0 {
			t.Fatalf("refused %v err %v", refused, err)
		}
	})
	t.Run("fail/nobody listening is temporary", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		cfg, _ := mail.ParseURL("smtp://"+addr, "trel@example.org")
		if _, err := mail.NewSender(cfg).Send(ctx, message()); !mail.IsTemporary(err) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct{ url, from, err string }{
		{"smtp://relay.example.org:587", "trel@example.org", ""},
		{"smtps://trel@relay.example.org:465", "trel <trel@example.org>", ""},
		{"smtp://trel:hunter2@relay.example.org:587", "trel@example.org", "TREL_SMTP_PASSWORD"},
		{"http://relay.example.org:25", "trel@example.org", "use smtp://"},
		{"smtp://relay.example.org", "trel@example.org", "use smtp://"},
		{"smtp://relay.example.org:25", "not an address", "--mail-from"},
	} {
		_, err := mail.ParseURL(tc.url, tc.from)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: err %v, want %q", tc.url, err, tc.err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the password is in the error: %v", err)
		}
	}
}

// TestLongHeaders: the longest lists and names a policy accepts (20
// addresses of 254 characters, a 200-byte non-ASCII project name) still
// make lines of at most 998 octets (RFC 5322 2.1.1), which relays accept
// and readers parse back to the same recipients and subject.
func TestLongHeaders(t *testing.T) {
	m := message()
	m.To, m.Cc = nil, nil
	for i := 0; i < 20; i++ {
		local := fmt.Sprintf("list%02d-", i) + strings.Repeat("a", 64-7)
		domain := strings.Repeat("d", 63) + "." + strings.Repeat("e", 63) + "." + strings.Repeat("f", 56) + ".example.org"
		m.To = append(m.To, local+"@"+domain)
		m.Cc = append(m.Cc, "cc"+local[2:]+"@"+domain)
	}
	m.Subject = "[RESULT] [VOTE] [EMBARGOED] Release " + strings.Repeat("Ünïcödé ", 25) + "1.0.0-rc1+build.2026"
	b, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(b), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line %d is %d octets long: %.120q…", i+1, len(line), line)
		}
	}
	parsed, err := netmail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string][]string{"To": m.To, "Cc": m.Cc} {
		list, err := parsed.Header.AddressList(h)
		if err != nil || len(list) != len(want) || list[19].Address != want[19] {
			t.Fatalf("%s parsed back as %d addresses (%v)", h, len(list), err)
		}
	}
	if subj, _ := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject")); subj != mail.HeaderText(m.Subject, 200) {
		t.Fatalf("subject %q", subj)
	}
	srv := smtptest.Start(t, smtptest.Options{})
	if _, err := sender(t, srv, "smtp", "", "").Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if got := srv.Wait(1, 5*time.Second); len(got) != 1 || len(got[0].To) != 40 {
		t.Fatalf("received %d messages", len(got))
	}
}

// TestHelloName: the EHLO name for a public URL.
func TestHelloName(t *testing.T) {
	for url, want := range map[string]string{
		"https://trel.example.org": "trel.example.org", "https://trel.example.org.:8443/x": "trel.example.org",
		"http://localhost:8080": "localhost", "http://127.0.0.1:8080": "[127.0.0.1]", "https://[2001:db8::1]/": "[IPv6:2001:db8::1]",
		"https://trel": "localhost", "::bad": "localhost",
	} {
		if got := mail.HelloName(url); got != want {
			t.Errorf("HelloName(%q) = %q, want %q", url, got, want)
		}
	}
}
