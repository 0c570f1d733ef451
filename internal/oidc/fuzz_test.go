package oidc

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// FuzzParse: the unverified first look at a token never panics, never
// accepts "none" or an HMAC algorithm, and never repeats the token in an
// error (it may be a live credential).
func FuzzParse(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	f.Add(enc([]byte(`{"alg":"ES256","kid":"k"}`)) + "." + enc([]byte(`{"iss":"https://a","aud":"x","exp":1}`)) + ".c2ln")
	f.Add(enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{"iss":"https://a"}`)) + ".")
	f.Add(enc([]byte(`{"alg":"HS256"}`)) + "." + enc([]byte(`{"iss":"https://a"}`)) + ".c2ln")
	f.Add(enc([]byte(`{"alg":"RS256","crit":["b64"]}`)) + "." + enc([]byte(`{"iss":1}`)) + ".c2ln")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		u, err := Parse(tok)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("untyped error %T", err)
			}
			if len(tok) > 16 && strings.Contains(err.Error(), tok) {
				t.Fatal("the error repeats the token")
			}
			return
		}
		if u.Issuer == "" || !contains(SupportedAlgorithms, u.Header.Alg) {
			t.Fatalf("accepted issuer %q alg %q", u.Issuer, u.Header.Alg)
		}
		_ = CheckAudience(u.Claims, "x")
		_ = CheckTimes(u.Claims, time.Unix(1, 0))
	})
}
