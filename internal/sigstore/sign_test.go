package sigstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeJWT is a syntactically valid, unsigned identity token: enough for
// the checks trel makes before calling any service.
func fakeJWT(claims map[string]any) string {
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256"}`)) + "." + base64.RawURLEncoding.EncodeToString(c) + ".c2lnbmF0dXJl"
}

func signingConfig(t *testing.T, rekorVersion int, withTSA bool) []byte {
	t.Helper()
	svc := func(url string, v int) []map[string]any {
		return []map[string]any{{"url": url, "majorApiVersion": v, "validFor": map[string]string{"start": "2020-01-01T00:00:00Z"}}}
	}
	cfg := map[string]any{
		"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
		"caUrls":    svc("http://127.0.0.1:1", 1), "oidcUrls": svc("http://127.0.0.1:2", 1),
		"rekorTlogUrls": svc("http://127.0.0.1:3", rekorVersion), "tsaUrls": []any{},
		"rekorTlogConfig": map[string]string{"selector": "ANY"}, "tsaConfig": map[string]string{"selector": "ANY"},
	}
	if withTSA {
		cfg["tsaUrls"] = svc("http://127.0.0.1:4/api/v1/timestamp", 1)
	}
	b, _ := json.Marshal(cfg)
	return b
}

func TestEmbeddedInstancesLoad(t *testing.T) {
	for _, staging := range []bool{false, true} {
		in, err := LoadInstance(InstanceOptions{Staging: staging})
		if err != nil {
			t.Fatal(err)
		}
		issuer := in.OIDCIssuer(time.Now())
		if !strings.HasPrefix(issuer, "https://oauth2.sigstore.dev") && !strings.HasPrefix(issuer, "https://oauth2.sigstage.dev") {
			t.Errorf("OIDC issuer of %s: %q", in.Name, issuer)
		}
		svc, err := in.selectServices(true, true, time.Now())
		if err != nil || svc.fulcio == "" || len(svc.rekors) != 1 || len(svc.tsas) != 1 {
			t.Errorf("%s services: %+v %v", in.Name, svc, err)
		}
		if staging && svc.rekors[0].MajorAPIVersion != 2 {
			t.Errorf("staging should sign with Rekor v2: %+v", svc.rekors)
		}
	}
}

func TestInstanceRefusesConfigurationsThatCannotWork(t *testing.T) {
	nr := PublicGoodRoot()
	for _, tt := range []struct {
		name string
		json []byte
		want string
	}{
		{"not JSON", []byte("nope"), "not a Sigstore signing configuration"},
		{"wrong media type", []byte(`{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.1+json"}`), "not a Sigstore signing configuration"},
	} {
		if _, err := NewInstance("x", tt.json, nr); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	// Rekor v2 gives no time: without a TSA the bundles could not verify.
	in, err := NewInstance("x", signingConfig(t, 2, false), nr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.selectServices(true, true, time.Now()); err == nil || !strings.Contains(err.Error(), "Rekor v2") {
		t.Fatalf("Rekor v2 without a TSA: %v", err)
	}
	// A key-based signature (no Rekor) needs a TSA for its time.
	if _, err := in.selectServices(false, false, time.Now()); err == nil || !strings.Contains(err.Error(), "timestamp authority") {
		t.Fatalf("key-based without a TSA: %v", err)
	}
	// A signing configuration from a file replaces the embedded one.
	p := filepath.Join(t.TempDir(), "sc.json")
	os.WriteFile(p, signingConfig(t, 1, true), 0o644)
	in, err = LoadInstance(InstanceOptions{SigningConfig: p})
	if err != nil || in.Name != "private" || in.OIDCIssuer(time.Now()) != "http://127.0.0.1:2" {
		t.Fatalf("from a file: %+v %v", in, err)
	}
}

// TestNewSignerRefusesBeforeAnyNetworkCall: bad arguments and expired or
// malformed tokens fail at once (the services in the configuration do not
// exist), and the errors never contain the token.
func TestNewSignerRefusesBeforeAnyNetworkCall(t *testing.T) {
	in, err := NewInstance("x", signingConfig(t, 1, true), PublicGoodRoot())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	expired := fakeJWT(map[string]any{"iss": "https://issuer.example", "email": "a@example.org", "exp": time.Now().Add(-time.Minute).Unix()})
	for _, tt := range []struct {
		name string
		opts SignerOptions
		want string
	}{
		{"neither token nor key", SignerOptions{}, "exactly one"},
		{"both", SignerOptions{IdentityToken: expired, Key: key}, "exactly one"},
		{"P-384 key", SignerOptions{Key: p384}, "P-256"},
		{"expired token", SignerOptions{IdentityToken: expired}, "expired"},
		{"not a JWT", SignerOptions{IdentityToken: "secret-secret-secret"}, "not an OIDC identity token"},
	} {
		_, err := in.NewSigner(ctx, tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		for _, part := range strings.Split(tt.opts.IdentityToken, ".") {
			if len(part) > 8 && strings.Contains(err.Error(), part) {
				t.Errorf("%s: the error shows the token: %v", tt.name, err)
			}
		}
	}
	// A service that does not answer: the error says which and where, and
	// not the token.
	fresh := fakeJWT(map[string]any{"iss": "https://issuer.example", "email": "a@example.org", "email_verified": true, "exp": time.Now().Add(time.Hour).Unix()})
	_, err = in.NewSigner(ctx, SignerOptions{IdentityToken: fresh})
	if err == nil || !strings.Contains(err.Error(), "cannot reach the certificate authority (Fulcio) at http://127.0.0.1:1") {
		t.Fatalf("unreachable Fulcio: %v", err)
	}
}

func TestStatements(t *testing.T) {
	sum := sha256.Sum256([]byte("a"))
	st, err := Statement("a.txt", Artifact{SHA256: sum[:]})
	if err != nil {
		t.Fatal(err)
	}
	a, err := statementSubject(st)
	if err != nil || string(a.SHA256) != string(sum[:]) {
		t.Fatalf("round trip: %v", err)
	}
	for name, bad := range map[string]string{
		"not JSON":       "{",
		"not in-toto":    `{"_type":"https://example.org","subject":[{"digest":{"sha256":"00"}}],"predicateType":"x"}`,
		"no predicate":   `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + strings.Repeat("00", 32) + `"}}]}`,
		"no usable hash": `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"md5":"00"}}],"predicateType":"x"}`,
		"short digest":   `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"00"}}],"predicateType":"x"}`,
		"too large":      `{"_type":"` + strings.Repeat("x", MaxStatementSize) + `"}`,
	} {
		if _, err := statementSubject([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
