// Package webhook posts trel's events to a project's webhooks: a JSON
// body signed with HMAC-SHA256 of the webhook's secret, sent in the header
// X-Trel-Signature-256 as "sha256=HEX" (the form GitHub uses), with the
// event in X-Trel-Event and the delivery's id in X-Trel-Delivery.
//
// Webhook URLs are chosen by committee members, so the poster guards
// against server-side request forgery: the address it actually connects
// to (after DNS, at dial time, so a name that later resolves elsewhere
// does not help) must be a public unicast address, unless the operator
// allows private ones (tests on loopback, an internal CI). Proxies from
// the environment are not used and redirects are not followed.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Header names.
const (
	HeaderSignature = "X-Trel-Signature-256"
	HeaderEvent     = "X-Trel-Event"
	HeaderDelivery  = "X-Trel-Delivery"
)

// Sign returns the signature header value of body: "sha256=" and the hex
// HMAC-SHA256 under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header in constant time (for receivers).
func Verify(secret, header string, body []byte) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}

// Error is a failed call: Temporary ones (network trouble, 408, 425, 429,
// 5xx) are retried, the others are not.
type Error struct {
	Temporary bool
	Status    int
	Msg       string
}

func (e *Error) Error() string { return e.Msg }

// IsTemporary reports whether err is worth retrying.
func IsTemporary(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Temporary
}

// errBlocked is returned by the dialer for a refused address.
var errBlocked = errors.New("refused address")

// blocked are the ranges a webhook may not reach unless allowed: besides
// loopback, private, link-local, multicast and unspecified addresses
// (netip's predicates), shared address space, "this network", IETF and
// benchmarking ranges, reserved, and NAT64 (which reaches IPv4 inside).
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("240.0.0.0/4"), netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"), netip.MustParsePrefix("2002::/16"),
}

// Public reports whether a webhook may reach ip without the operator's
// permission for private addresses.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// CheckURL validates a webhook URL when it is registered: http or https,
// a host, no user information, and, for a literal address or a name that
// is obviously local, a public one unless allowPrivate. (Names are
// resolved, and checked again, when each call dials.)
func CheckURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("the webhook URL must be an http or https URL, such as https://ci.example.org/hooks/trel")
	}
	if u.User != nil {
		return fmt.Errorf("the webhook URL must not hold a user name or password: trel signs each call with the secret instead")
	}
	if len(raw) > 2000 || strings.ContainsAny(raw, " \r\n\t") {
		return fmt.Errorf("the webhook URL is malformed or longer than 2000 characters")
	}
	if allowPrivate {
		return nil
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".local") || strings.HasSuffix(host, ".internal") {
		return fmt.Errorf("the webhook URL names a local host (%s): this server only calls public addresses", host)
	}
	if ip, err := netip.ParseAddr(host); err == nil && !Public(ip) {
		return fmt.Errorf("the webhook URL points at a private or local address (%s): this server only calls public addresses", ip)
	}
	return nil
}

// Poster calls webhooks.
type Poster struct {
	client *http.Client
}

// New returns a Poster; allowPrivate lets it reach loopback and private
// addresses (the operator's choice: `trel serve --webhook-allow-private`).
func New(allowPrivate bool, timeout time.Duration) *Poster {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	d := &net.Dialer{Timeout: timeout, Control: func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !Public(ap.Addr()) {
			return fmt.Errorf("%w %s", errBlocked, address)
		}
		return nil
	}}
	tr := &http.Transport{Proxy: nil, DialContext: d.DialContext, TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute, ForceAttemptHTTP2: true}
	return &Poster{client: &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Post sends one event. The status is the receiver's answer (0 when none).
func (p *Poster) Post(ctx context.Context, rawURL, secret, event, delivery string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, &Error{Msg: "the webhook URL is malformed"}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "trel-webhook/1")
	h.Set(HeaderEvent, event)
	h.Set(HeaderDelivery, delivery)
	h.Set(HeaderSignature, Sign(secret, body))
	resp, err := p.client.Do(req)
	if err != nil {
		if errors.Is(err, errBlocked) {
			return 0, &Error{Msg: "refused: the webhook's host resolves to a private or local address, which this server does not call"}
		}
		return 0, &Error{Temporary: true, Msg: "no answer: " + safeErr(err)}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return s, nil
	case s == 408 || s == 425 || s == 429 || s >= 500:
		return s, &Error{Temporary: true, Status: s, Msg: fmt.Sprintf("the receiver answered %d", s)}
	case s >= 300 && s < 400:
		return s, &Error{Status: s, Msg: fmt.Sprintf("the receiver answered %d (a redirect, which trel does not follow): register the final URL", s)}
	default:
		return s, &Error{Status: s, Msg: fmt.Sprintf("the receiver answered %d", s)}
	}
}

// safeErr describes a transport error without the URL (which might carry
// a token in its query).
func safeErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
