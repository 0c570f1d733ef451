// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) on
// loopback for tests: it stores every message it accepts, can refuse
// recipients, fail the next transactions with a temporary error, require a
// password, and offer STARTTLS or implicit TLS with a certificate made for
// the test.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one accepted message.
type Message struct {
	From  string
	To    []string
	Data  []byte
	TLS   bool   // the session was encrypted (STARTTLS or implicit TLS)
	User  string // who authenticated, if anyone
	Hello string // the name the client gave in EHLO
}

// Header parses the message's headers.
func (m Message) Header() mail.Header {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return mail.Header{}
	}
	return msg.Header
}

// Options configure a Server.
type Options struct {
	// TLS: "" plain, "starttls" offers STARTTLS, "implicit" speaks TLS
	// from the first byte (smtps).
	TLS string
	// Username and Password, when set, are required (AUTH PLAIN).
	Username, Password string
}

// Server is a running SMTP server.
type Server struct {
	Addr string
	// CA is the pool that trusts the server's certificate.
	CA *x509.CertPool

	srv *smtp.Server
	opt Options

	mu        sync.Mutex
	messages  []Message
	refuse    map[string]bool
	failNext  int
	failCode  int
	attempts  int
	arrived   chan struct{}
	authFails int
	onMessage func()
}

// Start runs a server on 127.0.0.1; it stops when the test ends.
func Start(t testing.TB, opt Options) *Server {
	t.Helper()
	s := &Server{opt: opt, refuse: map[string]bool{}, arrived: make(chan struct{}, 1000)}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.ErrorLog = discard{}
	var ln net.Listener
	var err error
	if opt.TLS != "" {
		cfg, pool, cerr := testCertificate()
		if cerr != nil {
			t.Fatal(cerr)
		}
		s.CA = pool
		s.srv.TLSConfig = cfg
	}
	if opt.TLS == "implicit" {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", s.srv.TLSConfig)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

type discard struct{}

func (discard) Printf(string, ...interface{}) {}
func (discard) Println(...interface{})        {}

// Refuse makes the server refuse a recipient permanently (550).
func (s *Server) Refuse(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse[strings.ToLower(addr)] = true
}

// OnMessage calls f each time a message is accepted, before the client
// hears so (tests act between a delivery and its recording).
func (s *Server) OnMessage(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onMessage = f
}

// FailNext makes the next n transactions fail at MAIL FROM with a
// temporary error (451).
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failCode = n, 451
}

// Attempts counts the transactions started (MAIL FROM), failed ones too.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Wait waits until at least n messages arrived (or the timeout passed)
// and returns them.
func (s *Server) Wait(n int, timeout time.Duration) []Message {
	deadline := time.After(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.arrived:
		case <-deadline:
			return s.Messages()
		}
	}
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, tlsOn := c.TLSConnectionState()
	return &session{s: s, msg: Message{TLS: tlsOn}, conn: c}, nil
}

type session struct {
	s    *Server
	conn *smtp.Conn
	msg  Message
	auth bool
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opt.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.s.opt.Username || password != ss.s.opt.Password {
			ss.s.mu.Lock()
			ss.s.authFails++
			ss.s.mu.Unlock()
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication failed"}
		}
		ss.auth, ss.msg.User = true, username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	s := ss.s
	if s.opt.Username != "" && !ss.auth {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.failNext > 0 {
		s.failNext--
		return &smtp.SMTPError{Code: s.failCode, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	_, tlsOn := ss.conn.TLSConnectionState()
	ss.msg.From, ss.msg.TLS, ss.msg.Hello = from, tlsOn, ss.conn.Hostname()
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	refused := ss.s.refuse[strings.ToLower(to)]
	ss.s.mu.Unlock()
	if refused {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	ss.msg.To = append(ss.msg.To, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(ss.msg.To) == 0 {
		return errors.New("no recipients")
	}
	ss.msg.Data = b
	s := ss.s
	s.mu.Lock()
	s.messages = append(s.messages, ss.msg)
	on := s.onMessage
	s.mu.Unlock()
	if on != nil {
		on()
	}
	select {
	case s.arrived <- struct{}{}:
	default:
	}
	ss.msg = Message{TLS: ss.msg.TLS, User: ss.msg.User}
	return nil
}

func (ss *session) Reset()        { ss.msg = Message{TLS: ss.msg.TLS, User: ss.msg.User} }
func (ss *session) Logout() error { return nil }

// testCertificate makes a CA-less self-signed certificate for 127.0.0.1
// and localhost, and the pool that trusts it.
func testCertificate() (*tls.Config, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}, MinVersion: tls.VersionTLS12}, pool, nil
}
