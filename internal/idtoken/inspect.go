package idtoken

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxTokenSize bounds identity tokens; real ones are 1-4 KiB.
const MaxTokenSize = 64 << 10

// Info is what an identity token says about itself. It is NOT verified:
// the service the token is for (Fulcio, trel) checks the signature. Use it
// to show who is about to sign and to refuse an expired token early.
type Info struct {
	Issuer   string
	Subject  string
	Email    string
	Audience []string
	Expiry   time.Time
	Nonce    string
}

// Identity is the name a signing certificate will carry: the e-mail address
// when the token has one, else the subject.
func (i Info) Identity() string {
	if i.Email != "" {
		return i.Email
	}
	return i.Subject
}

// ErrMalformed marks a string that is not a JWT identity token.
var ErrMalformed = errors.New("not an OIDC identity token (a JWT: three base64url parts separated by dots)")

// Inspect decodes the claims of an identity token without verifying it.
// Errors never contain the token.
func Inspect(token string) (Info, error) {
	if len(token) > MaxTokenSize {
		return Info{}, fmt.Errorf("%w: %d bytes is more than the %d allowed", ErrMalformed, len(token), MaxTokenSize)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return Info{}, ErrMalformed
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return Info{}, ErrMalformed
	}
	var c struct {
		Iss   string          `json:"iss"`
		Sub   string          `json:"sub"`
		Email string          `json:"email"`
		Aud   json.RawMessage `json:"aud"`
		Exp   json.Number     `json:"exp"`
		Nonce string          `json:"nonce"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return Info{}, fmt.Errorf("%w: its claims are not JSON", ErrMalformed)
	}
	info := Info{Issuer: c.Iss, Subject: c.Sub, Email: c.Email, Nonce: c.Nonce}
	var one string
	if json.Unmarshal(c.Aud, &one) == nil && one != "" {
		info.Audience = []string{one}
	} else {
		_ = json.Unmarshal(c.Aud, &info.Audience)
	}
	if c.Exp != "" {
		exp, err := c.Exp.Float64()
		if err != nil {
			return Info{}, fmt.Errorf("%w: its exp claim is not a number", ErrMalformed)
		}
		info.Expiry = time.Unix(int64(exp), 0).UTC()
	}
	if info.Issuer == "" {
		return Info{}, fmt.Errorf("%w: it names no issuer (iss)", ErrMalformed)
	}
	return info, nil
}

// CheckFresh refuses a token that expired (or expires within margin) at
// now, saying when and what to do.
func (i Info) CheckFresh(now time.Time, margin time.Duration) error {
	if i.Expiry.IsZero() {
		return nil
	}
	if !now.Add(margin).Before(i.Expiry) {
		ago := now.Sub(i.Expiry).Round(time.Second)
		if ago < 0 {
			return fmt.Errorf("the identity token from %s expires at %s, too soon to sign with: get a new token", i.Issuer, i.Expiry.Format(time.RFC3339))
		}
		return fmt.Errorf("the identity token from %s expired at %s (%s ago): get a new token", i.Issuer, i.Expiry.Format(time.RFC3339), ago)
	}
	return nil
}

// Redact removes the token, and each of its parts, from a message, so that
// an error echoing a request can never leak it.
func Redact(msg, token string) string {
	if token == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, token, "[identity token]")
	for _, p := range strings.Split(token, ".") {
		if len(p) >= 8 {
			msg = strings.ReplaceAll(msg, p, "[redacted]")
		}
	}
	return msg
}
