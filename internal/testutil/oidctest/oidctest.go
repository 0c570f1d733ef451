// Package oidctest is a real OpenID Connect issuer for tests: an HTTP
// server on 127.0.0.1 with discovery, a JWKS, RS256 and ES256 keys that
// can be rotated, and tokens with arbitrary claims signed by real keys. It
// also answers the two interactive flows a command-line client uses: the
// authorization-code flow with PKCE and a loopback redirect, and the device
// authorization grant (RFC 8628). The "user" who signs in is whoever the
// test says (SetUser); nobody types anything.
//
// Tests that need tokens Fulcio accepts mint email tokens (EmailToken);
// tests of trusted publishing mint GitHub- or GitLab-shaped claim sets with
// Mint. Broken tokens (alg none, HMAC, unknown kid, expired) are made with
// MintWith.
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Algorithms of signing keys.
const (
	RS256 = "RS256"
	ES256 = "ES256"
)

// DefaultLifetime is how long minted tokens live unless exp is given.
const DefaultLifetime = 10 * time.Minute

type key struct {
	kid    string
	alg    string
	signer crypto.Signer
}

// Issuer is a running OIDC issuer. Its methods are safe for concurrent use.
type Issuer struct {
	// URL is the issuer identifier (http://127.0.0.1:PORT), also the
	// value of the iss claim.
	URL string
	// ClientID is the client the interactive flows accept ("sigstore").
	ClientID string

	srv *http.Server
	ln  net.Listener

	mu      sync.Mutex
	keys    []*key          // published in the JWKS
	active  map[string]*key // alg -> the key that signs
	user    map[string]any  // claims of whoever signs in interactively
	codes   map[string]authCode
	devices map[string]*device // device_code -> state
	now     func() time.Time
	// TokenRequests counts calls to the token endpoint.
	tokenRequests int
	// jwksRequests counts fetches of the key set.
	jwksRequests int
}

type authCode struct {
	challenge, redirectURI, nonce string
	expires                       time.Time
}

type device struct {
	userCode string
	approved bool
	denied   bool
	polls    int
	expires  time.Time
}

// Start runs an issuer on a free loopback port with one RS256 and one
// ES256 key.
func Start() (*Issuer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	is := &Issuer{URL: "http://" + ln.Addr().String(), ClientID: "sigstore", ln: ln,
		active: map[string]*key{}, codes: map[string]authCode{}, devices: map[string]*device{}, now: time.Now,
		user: map[string]any{"sub": "user-1", "email": "user@example.org", "email_verified": true}}
	for _, alg := range []string{RS256, ES256} {
		if _, err := is.Rotate(alg); err != nil {
			ln.Close()
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", is.discovery)
	mux.HandleFunc("GET /jwks", is.jwks)
	mux.HandleFunc("GET /authorize", is.authorize)
	mux.HandleFunc("POST /token", is.token)
	mux.HandleFunc("POST /device/code", is.deviceCode)
	mux.HandleFunc("GET /device", is.deviceVerify)
	is.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go is.srv.Serve(ln)
	return is, nil
}

// New starts an issuer that stops when the test ends.
func New(t testing.TB) *Issuer {
	t.Helper()
	is, err := Start()
	if err != nil {
		t.Fatalf("starting the OIDC issuer: %v", err)
	}
	t.Cleanup(is.Close)
	return is
}

// Close stops the server.
func (is *Issuer) Close() { is.srv.Close() }

// Rotate makes a new key for alg, publishes it and signs with it from now
// on. Older keys stay in the JWKS until Retire. It returns the new kid.
func (is *Issuer) Rotate(alg string) (string, error) {
	var s crypto.Signer
	var err error
	switch alg {
	case RS256:
		s, err = rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return "", fmt.Errorf("oidctest: unknown algorithm %q", alg)
	}
	if err != nil {
		return "", err
	}
	k := &key{kid: randomHex(8), alg: alg, signer: s}
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = append(is.keys, k)
	is.active[alg] = k
	return k.kid, nil
}

// Retire removes a key from the JWKS: tokens it signed stop verifying.
func (is *Issuer) Retire(kid string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	for i, k := range is.keys {
		if k.kid == kid {
			is.keys = append(is.keys[:i], is.keys[i+1:]...)
			return
		}
	}
}

// KeyIDs lists the kids of the published keys.
func (is *Issuer) KeyIDs() []string {
	is.mu.Lock()
	defer is.mu.Unlock()
	var ids []string
	for _, k := range is.keys {
		ids = append(ids, k.kid)
	}
	return ids
}

// SetUser sets the claims of whoever signs in through the interactive
// flows (merged into the ID token those flows return).
func (is *Issuer) SetUser(claims map[string]any) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.user = claims
}

// TokenRequests is how many times the token endpoint was called.
func (is *Issuer) TokenRequests() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.tokenRequests
}

// JWKSRequests is how many times the key set was fetched.
func (is *Issuer) JWKSRequests() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.jwksRequests
}

// MintOptions describe one token. Claims are copied as they are, after the
// defaults (iss, iat, exp in DefaultLifetime); a claim set to nil is
// removed.
type MintOptions struct {
	// Alg is RS256 or ES256 (default), or "none" and "HS256" for tokens
	// that must be refused.
	Alg string
	// Kid overrides the key id in the header (e.g. a kid nobody knows).
	Kid string
	// Key signs instead of the active key of Alg (e.g. a key never
	// published).
	Key crypto.Signer
	// HMACSecret signs HS256 tokens.
	HMACSecret []byte
	Claims     map[string]any
}

// Mint signs a token with the active ES256 key.
func (is *Issuer) Mint(claims map[string]any) string {
	tok, err := is.MintWith(MintOptions{Claims: claims})
	if err != nil {
		panic(err) // only on programming errors in the test
	}
	return tok
}

// EmailToken is the token Fulcio's "email" issuer type accepts:
// audience sigstore, email verified.
func (is *Issuer) EmailToken(email string) string {
	return is.Mint(map[string]any{"sub": email, "email": email, "email_verified": true, "aud": "sigstore"})
}

// MintWith signs a token as described.
func (is *Issuer) MintWith(o MintOptions) (string, error) {
	now := is.now()
	claims := map[string]any{"iss": is.URL, "iat": now.Unix(), "exp": now.Add(DefaultLifetime).Unix()}
	for k, v := range o.Claims {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	alg := o.Alg
	if alg == "" {
		alg = ES256
	}
	header := map[string]any{"alg": alg, "typ": "JWT"}
	var signer crypto.Signer
	switch alg {
	case RS256, ES256:
		is.mu.Lock()
		k := is.active[alg]
		is.mu.Unlock()
		signer = k.signer
		header["kid"] = k.kid
		if o.Key != nil {
			signer = o.Key
		}
	case "none", "HS256":
	default:
		return "", fmt.Errorf("oidctest: unknown algorithm %q", alg)
	}
	if o.Kid != "" {
		header["kid"] = o.Kid
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64(h) + "." + b64(c)
	var sig []byte
	switch alg {
	case "none":
	case "HS256":
		m := hmac.New(sha256.New, o.HMACSecret)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	default:
		if sig, err = signJWS(signer, alg, []byte(input)); err != nil {
			return "", err
		}
	}
	return input + "." + b64(sig), nil
}

func signJWS(s crypto.Signer, alg string, input []byte) ([]byte, error) {
	sum := sha256.Sum256(input)
	switch alg {
	case RS256:
		return s.Sign(rand.Reader, sum[:], crypto.SHA256)
	case ES256:
		priv, ok := s.(*ecdsa.PrivateKey)
		if !ok {
			return nil, errors.New("oidctest: ES256 needs an ECDSA key")
		}
		r, ss, err := ecdsa.Sign(rand.Reader, priv, sum[:])
		if err != nil {
			return nil, err
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		ss.FillBytes(out[32:])
		return out, nil
	}
	return nil, fmt.Errorf("oidctest: cannot sign %s", alg)
}

func (is *Issuer) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                is.URL,
		"authorization_endpoint":                is.URL + "/authorize",
		"token_endpoint":                        is.URL + "/token",
		"device_authorization_endpoint":         is.URL + "/device/code",
		"jwks_uri":                              is.URL + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{RS256, ES256},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      []string{"openid", "email"},
		"grant_types_supported":                 []string{"authorization_code", "urn:ietf:params:oauth:grant-type:device_code"},
	})
}

func (is *Issuer) jwks(w http.ResponseWriter, r *http.Request) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.jwksRequests++
	var keys []map[string]any
	for _, k := range is.keys {
		jwk := map[string]any{"kid": k.kid, "alg": k.alg, "use": "sig"}
		switch pub := k.signer.Public().(type) {
		case *rsa.PublicKey:
			jwk["kty"], jwk["n"], jwk["e"] = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
		case *ecdsa.PublicKey:
			x, y := make([]byte, 32), make([]byte, 32)
			pub.X.FillBytes(x)
			pub.Y.FillBytes(y)
			jwk["kty"], jwk["crv"], jwk["x"], jwk["y"] = "EC", "P-256", b64(x), b64(y)
		}
		keys = append(keys, jwk)
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// authorize signs the configured user in at once and redirects back to the
// client's loopback redirect URI with a code bound to the PKCE challenge.
func (is *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case q.Get("client_id") != is.ClientID:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	case err != nil || redirect.Scheme != "http" || (redirect.Hostname() != "localhost" && redirect.Hostname() != "127.0.0.1"):
		http.Error(w, "redirect_uri must be a loopback http URL", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code":
		http.Error(w, "response_type must be code", http.StatusBadRequest)
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "PKCE with S256 is required", http.StatusBadRequest)
		return
	}
	code := randomHex(16)
	is.mu.Lock()
	is.codes[code] = authCode{challenge: q.Get("code_challenge"), redirectURI: redirect.String(), nonce: q.Get("nonce"), expires: is.now().Add(time.Minute)}
	is.mu.Unlock()
	back := redirect.Query()
	back.Set("code", code)
	back.Set("state", q.Get("state"))
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func (is *Issuer) token(w http.ResponseWriter, r *http.Request) {
	is.mu.Lock()
	is.tokenRequests++
	is.mu.Unlock()
	if err := r.ParseForm(); err != nil {
		oauthError(w, "invalid_request", "the form cannot be read")
		return
	}
	if r.PostForm.Get("client_id") != is.ClientID {
		oauthError(w, "invalid_client", "unknown client")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		is.mu.Lock()
		c, ok := is.codes[r.PostForm.Get("code")]
		delete(is.codes, r.PostForm.Get("code")) // single use
		is.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		switch {
		case !ok || is.now().After(c.expires):
			oauthError(w, "invalid_grant", "unknown or expired code")
		case subtle.ConstantTimeCompare([]byte(b64(sum[:])), []byte(c.challenge)) != 1:
			oauthError(w, "invalid_grant", "the PKCE code_verifier does not match the code_challenge")
		case r.PostForm.Get("redirect_uri") != c.redirectURI:
			oauthError(w, "invalid_grant", "redirect_uri differs from the authorization request")
		default:
			is.issue(w, c.nonce)
		}
	case "urn:ietf:params:oauth:grant-type:device_code":
		is.mu.Lock()
		d, ok := is.devices[r.PostForm.Get("device_code")]
		var state string
		switch {
		case !ok:
			state = "invalid_grant"
		case is.now().After(d.expires):
			state = "expired_token"
		case d.denied:
			state = "access_denied"
		case !d.approved:
			d.polls++
			state = "authorization_pending"
		default:
			delete(is.devices, r.PostForm.Get("device_code"))
		}
		is.mu.Unlock()
		if state != "" {
			oauthError(w, state, "")
			return
		}
		is.issue(w, "")
	default:
		oauthError(w, "unsupported_grant_type", "")
	}
}

// issue answers a token request with an ID token for the current user.
func (is *Issuer) issue(w http.ResponseWriter, nonce string) {
	is.mu.Lock()
	claims := map[string]any{"aud": is.ClientID}
	for k, v := range is.user {
		claims[k] = v
	}
	is.mu.Unlock()
	if nonce != "" {
		claims["nonce"] = nonce
	}
	tok, err := is.MintWith(MintOptions{Claims: claims})
	if err != nil {
		oauthError(w, "server_error", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": randomHex(16), "token_type": "Bearer", "expires_in": 600, "id_token": tok})
}

func (is *Issuer) deviceCode(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("client_id") != is.ClientID {
		oauthError(w, "invalid_client", "unknown client")
		return
	}
	dc, uc := randomHex(16), randomHex(4)
	is.mu.Lock()
	is.devices[dc] = &device{userCode: uc, expires: is.now().Add(5 * time.Minute)}
	is.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"device_code": dc, "user_code": uc,
		"verification_uri": is.URL + "/device", "verification_uri_complete": is.URL + "/device?user_code=" + uc,
		"expires_in": 300, "interval": 1})
}

// deviceVerify is the page a person opens to approve a device code
// (?user_code=X; &deny=1 refuses it).
func (is *Issuer) deviceVerify(w http.ResponseWriter, r *http.Request) {
	uc := r.URL.Query().Get("user_code")
	is.mu.Lock()
	defer is.mu.Unlock()
	for _, d := range is.devices {
		if d.userCode == uc && uc != "" {
			if r.URL.Query().Get("deny") != "" {
				d.denied = true
			} else {
				d.approved = true
			}
			fmt.Fprintln(w, "Done: return to your terminal.")
			return
		}
	}
	http.Error(w, "unknown user code", http.StatusNotFound)
}

// ApproveDevice approves the pending device authorization with this user
// code, as a person on the verification page would.
func (is *Issuer) ApproveDevice(userCode string) error {
	resp, err := http.Get(is.URL + "/device?user_code=" + url.QueryEscape(userCode))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("oidctest: approving %q: %s", userCode, resp.Status)
	}
	return nil
}

func oauthError(w http.ResponseWriter, code, desc string) {
	body := map[string]any{"error": code}
	if desc != "" {
		body["error_description"] = desc
	}
	writeJSON(w, http.StatusBadRequest, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
