package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// Config says where and as whom trel sends mail.
type Config struct {
	// Host and Port of the relay; ImplicitTLS for smtps:// (TLS from the
	// first byte), otherwise STARTTLS whenever the server offers it.
	Host        string
	Port        string
	ImplicitTLS bool
	// Username (from the URL) and Password (from TREL_SMTP_PASSWORD): AUTH
	// PLAIN, only over TLS (or to a relay on loopback).
	Username string
	Password string
	// From is the sender address, possibly with a display name.
	From string
	// RootCAs, if set, is the pool that verifies the relay's certificate
	// (nil: the system's).
	RootCAs *x509.CertPool
	// Timeout bounds one delivery (default 1 minute).
	Timeout time.Duration
}

// ParseURL reads smtp://[USER@]HOST:PORT or smtps://[USER@]HOST:PORT. A
// password in the URL is refused: it would end up in process listings
// and shell histories; give it in TREL_SMTP_PASSWORD.
func ParseURL(raw, from string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" || u.Port() == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return Config{}, fmt.Errorf("--smtp %q: use smtp://[USER@]HOST:PORT (STARTTLS when offered) or smtps://[USER@]HOST:PORT", redactURL(raw))
	}
	if _, has := u.User.Password(); has {
		return Config{}, fmt.Errorf("--smtp: do not put the password in the URL; set TREL_SMTP_PASSWORD")
	}
	a, err := mail.ParseAddress(from)
	if err != nil || strings.ContainsAny(from, "\r\n") {
		return Config{}, fmt.Errorf("--mail-from %q: give the sender address, e.g. 'trel <trel@example.org>'", HeaderText(from, 100))
	}
	c := Config{Host: u.Hostname(), Port: u.Port(), ImplicitTLS: u.Scheme == "smtps", From: a.String()}
	if u.User != nil {
		c.Username = u.User.Username()
	}
	return c, nil
}

// redactURL drops the user information of a URL for messages.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		u.User = url.User("USER")
		return u.String()
	}
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		return "…" + raw[i:]
	}
	return raw
}

// Describe says where mail goes, without secrets (for the log and the UI).
func (c Config) Describe() string {
	scheme := "smtp"
	if c.ImplicitTLS {
		scheme = "smtps"
	}
	return scheme + "://" + net.JoinHostPort(c.Host, c.Port)
}

// Error is a failed delivery. Temporary failures (4xx answers, network
// trouble) are worth retrying; permanent ones (5xx) are not.
type Error struct {
	Temporary bool
	Code      int
	Msg       string
}

func (e *Error) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("%d %s", e.Code, e.Msg)
	}
	return e.Msg
}

// IsTemporary reports whether err is worth retrying later.
func IsTemporary(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Temporary
}

// classify turns an SMTP client error into an *Error.
func classify(step string, err error) error {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return &Error{Temporary: tp.Code >= 400 && tp.Code < 500, Code: tp.Code, Msg: step + ": " + HeaderText(tp.Msg, 300)}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, net.ErrClosed) {
		return &Error{Temporary: true, Msg: step + ": " + HeaderText(err.Error(), 300)}
	}
	var te *tls.CertificateVerificationError
	if errors.As(err, &te) {
		return &Error{Msg: step + ": the relay's certificate is not trusted: " + HeaderText(te.Err.Error(), 200)}
	}
	return &Error{Temporary: true, Msg: step + ": " + HeaderText(err.Error(), 300)}
}

// Sender delivers messages to the configured relay.
type Sender struct {
	cfg Config
	// Hello is the name trel gives in EHLO (default "localhost").
	Hello string
}

// HelloName is the name trel gives in EHLO for its public URL: the host
// when it is a domain name with a dot, an address literal ([192.0.2.1],
// [IPv6:2001:db8::1]) for an address, "localhost" otherwise. Relays that
// check the greeting refuse a bare "localhost" from another machine.
func HelloName(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil {
		return "localhost"
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Is6() && !ip.Is4In6() {
			return "[IPv6:" + ip.WithZone("").String() + "]"
		}
		return "[" + ip.Unmap().String() + "]"
	}
	if strings.Contains(strings.Trim(host, "."), ".") {
		return strings.TrimSuffix(host, ".")
	}
	return "localhost"
}

// NewSender returns a Sender for cfg.
func NewSender(cfg Config) *Sender { return &Sender{cfg: cfg, Hello: "localhost"} }

// From is the configured sender address.
func (s *Sender) From() string { return s.cfg.From }

// Send delivers m in one SMTP transaction. Recipients the relay refuses
// permanently are returned in refused and the others still get the mail;
// if every recipient is refused, or the relay refuses the message, the
// error is permanent. A temporary refusal of any recipient fails the
// whole transaction before DATA (temporary error), so a retry never sends
// the message twice to the others.
func (s *Sender) Send(ctx context.Context, m Message) (refused []string, err error) {
	data, err := m.Bytes()
	if err != nil {
		return nil, &Error{Msg: "the message is malformed: " + err.Error()}
	}
	timeout := s.cfg.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(s.cfg.Host, s.cfg.Port)
	tlsCfg := &tls.Config{ServerName: s.cfg.Host, RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	var conn net.Conn
	d := &net.Dialer{}
	if s.cfg.ImplicitTLS {
		conn, err = (&tls.Dialer{NetDialer: d, Config: tlsCfg}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, classify("connecting to "+s.cfg.Describe(), err)
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		conn.Close()
		return nil, classify("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(s.Hello); err != nil {
		return nil, classify("EHLO", err)
	}
	if !s.cfg.ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsCfg); err != nil {
				return nil, classify("STARTTLS", err)
			}
		}
	}
	if s.cfg.Username != "" {
		// net/smtp's PlainAuth refuses to send the password without TLS,
		// except to a relay on loopback.
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			var tp *textproto.Error
			if errors.As(err, &tp) {
				return nil, classify("AUTH", err)
			}
			return nil, &Error{Msg: "AUTH: " + HeaderText(err.Error(), 200)}
		}
	}
	from, _ := mail.ParseAddress(m.From)
	if from == nil {
		return nil, &Error{Msg: "the sender address is malformed"}
	}
	if err := c.Mail(from.Address); err != nil {
		return nil, classify("MAIL FROM", err)
	}
	accepted := 0
	for _, rcpt := range m.Recipients() {
		a, perr := mail.ParseAddress(rcpt)
		if perr != nil {
			refused = append(refused, HeaderText(rcpt, 100))
			continue
		}
		if err := c.Rcpt(a.Address); err != nil {
			e := classify("RCPT TO "+a.Address, err)
			if IsTemporary(e) {
				c.Reset()
				return nil, e
			}
			refused = append(refused, a.Address)
			continue
		}
		accepted++
	}
	if accepted == 0 {
		c.Reset()
		return refused, &Error{Code: 550, Msg: "every recipient was refused: " + strings.Join(refused, ", ")}
	}
	w, err := c.Data()
	if err != nil {
		return refused, classify("DATA", err)
	}
	if _, err := w.Write(data); err != nil {
		return refused, classify("DATA", err)
	}
	if err := w.Close(); err != nil {
		return refused, classify("end of DATA", err)
	}
	c.Quit()
	return refused, nil
}
