package oidc

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// MaxTokenSize bounds an ID token; real ones are 1-4 KiB.
const MaxTokenSize = 16 << 10

// Codes of the errors Verify and Parse return, for callers that map them.
const (
	CodeMalformed    = "malformed"     // not a JWT, or its JSON is broken
	CodeAlgorithm    = "algorithm"     // alg none, HMAC, or another refused algorithm
	CodeUnknownKey   = "unknown_key"   // no published key has the kid (keys refetched at most every MinRefresh)
	CodeSignature    = "signature"     // the signature does not verify
	CodeIssuer       = "issuer"        // iss is not the issuer asked for
	CodeAudience     = "audience"      // aud does not name the expected audience
	CodeExpired      = "expired"       // exp has passed (or is missing)
	CodeNotYetValid  = "not_yet_valid" // nbf or iat is in the future
	CodeClaims       = "claims"        // a claim the issuer kind needs is missing
	CodeUnreachable  = "unreachable"   // discovery or JWKS could not be fetched
	CodeInsecureURL  = "insecure_url"  // an endpoint is not https (nor loopback)
	CodeDiscoveryBad = "discovery"     // the discovery document is wrong
)

// Error is a refusal of a token, with a code and a message that never
// contains the token.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// SupportedAlgorithms are the signature algorithms trel accepts: public-key
// signatures only (never "none", never an HMAC whose key would be public).
var SupportedAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Header is the protected header of a token.
type Header struct {
	Alg  string   `json:"alg"`
	Kid  string   `json:"kid"`
	Typ  string   `json:"typ"`
	Crit []string `json:"crit"`
}

// Unverified is a token split and decoded, NOT verified: use it only to
// choose the issuer and to give clear errors before the signature check.
type Unverified struct {
	Header Header
	// Claims are the payload's claims; numbers stay json.Number.
	Claims map[string]any
	Issuer string
	JTI    string
}

// Parse decodes a compact JWS ID token without verifying it, refusing
// what trel never accepts: oversized or malformed tokens, "none" and HMAC
// algorithms, critical header extensions, and claims without an issuer.
// Errors never repeat the token.
func Parse(token string) (*Unverified, error) {
	if len(token) > MaxTokenSize {
		return nil, errorf(CodeMalformed, "the ID token is %d bytes, more than the %d allowed", len(token), MaxTokenSize)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errorf(CodeMalformed, "this is not an ID token: a JWT has three base64url parts separated by dots")
	}
	var u Unverified
	hdr, err := b64(parts[0])
	if err != nil {
		return nil, errorf(CodeMalformed, "the ID token's header is not base64url")
	}
	if err := strictJSON(hdr, &u.Header); err != nil {
		return nil, errorf(CodeMalformed, "the ID token's header is not a JSON object")
	}
	switch alg := u.Header.Alg; {
	case alg == "" || strings.EqualFold(alg, "none"):
		return nil, errorf(CodeAlgorithm, "the ID token is not signed (alg %q): trel accepts only tokens signed with the issuer's public key", alg)
	case strings.HasPrefix(strings.ToUpper(alg), "HS"):
		return nil, errorf(CodeAlgorithm, "the ID token is signed with a shared secret (alg %s, HMAC), which anyone who knows the issuer's public key could forge: trel accepts only public-key signatures (%s)", safe(alg), strings.Join(SupportedAlgorithms, ", "))
	case !contains(SupportedAlgorithms, alg):
		return nil, errorf(CodeAlgorithm, "the ID token's algorithm %s is not supported: use one of %s", safe(alg), strings.Join(SupportedAlgorithms, ", "))
	}
	if len(u.Header.Crit) > 0 {
		return nil, errorf(CodeMalformed, "the ID token has critical header extensions trel does not understand")
	}
	payload, err := b64(parts[1])
	if err != nil {
		return nil, errorf(CodeMalformed, "the ID token's claims are not base64url")
	}
	if err := strictJSON(payload, &u.Claims); err != nil || u.Claims == nil {
		return nil, errorf(CodeMalformed, "the ID token's claims are not a JSON object")
	}
	if _, err := b64(parts[2]); err != nil || parts[2] == "" {
		return nil, errorf(CodeMalformed, "the ID token's signature is missing or not base64url")
	}
	u.Issuer, _ = u.Claims["iss"].(string)
	if u.Issuer == "" {
		return nil, errorf(CodeClaims, "the ID token names no issuer (iss)")
	}
	u.JTI, _ = u.Claims["jti"].(string)
	return &u, nil
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// strictJSON decodes one JSON value, keeping numbers exact.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// safe shortens and quotes an attacker-chosen value for a message.
func safe(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// timeClaim reads a NumericDate claim; ok is false when it is absent.
func timeClaim(claims map[string]any, name string) (t time.Time, ok bool, err error) {
	v, present := claims[name]
	if !present {
		return time.Time{}, false, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return time.Time{}, true, errorf(CodeMalformed, "the ID token's %s claim is not a number", name)
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e11 {
		return time.Time{}, true, errorf(CodeMalformed, "the ID token's %s claim is not a valid time", name)
	}
	return time.Unix(int64(f), 0).UTC(), true, nil
}

// Leeway is the clock skew allowed for nbf and iat.
const Leeway = time.Minute

// CheckTimes refuses a token that has expired, has no expiry, or is not
// valid yet (nbf or iat later than now plus Leeway).
func CheckTimes(claims map[string]any, now time.Time) error {
	exp, ok, err := timeClaim(claims, "exp")
	if err != nil {
		return err
	}
	if !ok {
		return errorf(CodeExpired, "the ID token has no expiry (exp): trel accepts only short-lived tokens")
	}
	if !now.Before(exp) {
		return errorf(CodeExpired, "the ID token expired at %s (%s ago): get a fresh token from the CI and exchange it at once", exp.Format(time.RFC3339), now.Sub(exp).Round(time.Second))
	}
	for _, name := range []string{"nbf", "iat"} {
		t, ok, err := timeClaim(claims, name)
		if err != nil {
			return err
		}
		if ok && t.After(now.Add(Leeway)) {
			return errorf(CodeNotYetValid, "the ID token is not valid yet: its %s claim is %s, %s from now (is a clock wrong?)", name, t.Format(time.RFC3339), t.Sub(now).Round(time.Second))
		}
	}
	return nil
}

// CheckAudience refuses a token whose aud does not name want.
func CheckAudience(claims map[string]any, want string) error {
	var auds []string
	switch v := claims["aud"].(type) {
	case string:
		auds = []string{v}
	case []any:
		for _, a := range v {
			if s, ok := a.(string); ok {
				auds = append(auds, s)
			}
		}
	}
	if contains(auds, want) {
		return nil
	}
	got := "no audience"
	if len(auds) > 0 {
		quoted := make([]string, 0, len(auds))
		for _, a := range auds {
			quoted = append(quoted, safe(a))
		}
		got = "the audience " + strings.Join(quoted, ", ")
	}
	return errorf(CodeAudience, "the ID token was issued for %s, not for this trel server (%s): ask the CI for a token with the audience %s (`trel login --oidc` does)", got, want, want)
}
