package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// verifyWithJWKS checks a token the way a relying party does: discovery,
// then the JWKS, then the signature with the key its kid names.
func verifyWithJWKS(t *testing.T, is *Issuer, tok string) error {
	t.Helper()
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, is.URL+"/.well-known/openid-configuration", &disc)
	if disc.Issuer != is.URL {
		t.Fatalf("discovery issuer %q, want %q", disc.Issuer, is.URL)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	getJSON(t, disc.JWKSURI, &set)
	parts := strings.Split(tok, ".")
	var header map[string]string
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	json.Unmarshal(h, &header)
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	for _, k := range set.Keys {
		if k["kid"] != header["kid"] {
			continue
		}
		switch k["kty"] {
		case "RSA":
			n, e := dec(k["n"]), dec(k["e"])
			pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
		case "EC":
			pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(dec(k["x"])), Y: new(big.Int).SetBytes(dec(k["y"]))}
			if len(sig) != 64 || !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
				return errBadSig
			}
			return nil
		}
	}
	return errNoKey
}

type testErr string

func (e testErr) Error() string { return string(e) }

const (
	errBadSig testErr = "bad signature"
	errNoKey  testErr = "no key with this kid"
)

func dec(s string) []byte { b, _ := base64.RawURLEncoding.DecodeString(s); return b }

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestTokensVerifyAgainstTheJWKSAndRotationRetiresKeys(t *testing.T) {
	is := New(t)
	for _, alg := range []string{RS256, ES256} {
		tok, err := is.MintWith(MintOptions{Alg: alg, Claims: map[string]any{"sub": "x", "repository": "o/r"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := verifyWithJWKS(t, is, tok); err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		// Tampering with a claim breaks the signature.
		parts := strings.Split(tok, ".")
		forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+is.URL+`","sub":"y"}`)) + "." + parts[2]
		if verifyWithJWKS(t, is, forged) == nil {
			t.Fatalf("%s: a forged token verified", alg)
		}
	}
	old := is.Mint(map[string]any{"sub": "before rotation"})
	oldKids := is.KeyIDs()
	newKid, err := is.Rotate(ES256)
	if err != nil {
		t.Fatal(err)
	}
	rotated := is.Mint(map[string]any{"sub": "after rotation"})
	if err := verifyWithJWKS(t, is, rotated); err != nil || !slices.Contains(is.KeyIDs(), newKid) {
		t.Fatalf("after rotation: %v", err)
	}
	if err := verifyWithJWKS(t, is, old); err != nil {
		t.Fatalf("an old key stays published until retired: %v", err)
	}
	is.Retire(oldKids[1]) // the first ES256 key
	if err := verifyWithJWKS(t, is, old); err != errNoKey {
		t.Fatalf("a retired key still verifies: %v", err)
	}
	// Claims are arbitrary; nil removes a default one.
	tok := is.Mint(map[string]any{"exp": nil, "job_workflow_ref": "o/r/.github/workflows/w.yml@refs/heads/main"})
	var claims map[string]any
	json.Unmarshal(dec(strings.Split(tok, ".")[1]), &claims)
	if _, has := claims["exp"]; has || claims["job_workflow_ref"] == nil || claims["iss"] != is.URL {
		t.Fatalf("claims: %v", claims)
	}
	// Tokens that must be refused: no signature, HMAC.
	none, _ := is.MintWith(MintOptions{Alg: "none", Claims: map[string]any{"sub": "x"}})
	if !strings.HasSuffix(none, ".") {
		t.Fatalf("alg none token: %s", none)
	}
	if hs, _ := is.MintWith(MintOptions{Alg: "HS256", HMACSecret: []byte("k")}); verifyWithJWKS(t, is, hs) == nil {
		t.Fatal("an HMAC token verified against the JWKS")
	}
}
