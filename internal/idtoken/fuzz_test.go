package idtoken

import (
	"strings"
	"testing"
)

// FuzzInspect: any input is decoded or refused without a panic, and a
// refusal never repeats the input (it may be a secret).
func FuzzInspect(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJodHRwczovL2EuYiIsImV4cCI6MX0.c2ln")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4IiwiYXVkIjpbImEiLCJiIl19.")
	f.Fuzz(func(t *testing.T, tok string) {
		info, err := Inspect(tok)
		if err != nil {
			if len(tok) > 12 && strings.Contains(err.Error(), tok) {
				t.Fatalf("the error repeats the token: %v", err)
			}
			return
		}
		if info.Issuer == "" {
			t.Fatal("accepted a token without an issuer")
		}
		if r := Redact("x "+tok+" y", tok); strings.Contains(r, tok) && tok != "" {
			t.Fatalf("Redact left the token: %q", r)
		}
	})
}
