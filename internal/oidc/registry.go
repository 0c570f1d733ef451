// Package oidc verifies the OpenID Connect ID tokens CI systems (GitHub
// Actions, GitLab CI, or any issuer an administrator adds) give their jobs,
// for trusted publishing. It is a small layer over github.com/coreos/go-oidc
// (which checks the signature with go-jose, restricted to public-key
// algorithms, and the issuer) that adds what trel needs around it:
//
//   - Parse, the unverified first look at a token, refuses "none" and HMAC
//     algorithms and malformed tokens with a clear message (it is fuzzed);
//   - each issuer's discovery document and JWKS are fetched over HTTPS only
//     (plain http only for loopback issuers), bounded in size and time,
//     cached, and refetched when a token names an unknown key id, at most
//     once per MinRefresh per issuer so that forged kids cannot make trel
//     hammer the issuer;
//   - audience, expiry and not-before are checked here with messages that
//     say what to do;
//   - Run turns the verified claims of a GitHub- or GitLab-shaped token into
//     the workflow run trel records (repository, workflow, ref, commit, run).
//
// The package knows nothing of projects or publishers: the core decides
// what a verified run may do.
package oidc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"trel/internal/domain"
)

// Defaults of Options.
const (
	DefaultMinRefresh = 10 * time.Second
	DefaultKeysTTL    = time.Hour
	maxDocument       = 1 << 20
)

// Options configure a Registry.
type Options struct {
	// HTTP fetches discovery documents and key sets; nil means a client
	// with a 10 s timeout that follows redirects only to allowed URLs.
	HTTP *http.Client
	// Now is the clock (tests move it); nil means time.Now.
	Now func() time.Time
	// MinRefresh is the shortest interval between two fetches of one
	// issuer's keys caused by unknown key ids.
	MinRefresh time.Duration
	// KeysTTL is how long fetched keys and discovery are used before
	// they are fetched again.
	KeysTTL time.Duration
}

// Registry verifies tokens of any number of issuers, caching each one's
// keys. It is safe for concurrent use.
type Registry struct {
	opt     Options
	mu      sync.Mutex
	issuers map[string]*keySet
}

// NewRegistry returns a Registry.
func NewRegistry(opt Options) *Registry {
	if opt.HTTP == nil {
		opt.HTTP = secureClient()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.MinRefresh <= 0 {
		opt.MinRefresh = DefaultMinRefresh
	}
	if opt.KeysTTL <= 0 {
		opt.KeysTTL = DefaultKeysTTL
	}
	return &Registry{opt: opt, issuers: map[string]*keySet{}}
}

// Verified is a token whose signature, issuer, audience and times checked
// out.
type Verified struct {
	Header Header
	Claims map[string]any
	// Expiry is the token's exp: how long its jti must be remembered.
	Expiry time.Time
}

// Verify checks token as an ID token of issuer for audience.
func (r *Registry) Verify(ctx context.Context, issuer, token, audience string) (*Verified, error) {
	u, err := Parse(token)
	if err != nil {
		return nil, err
	}
	if u.Issuer != issuer {
		return nil, errorf(CodeIssuer, "the ID token was issued by %s, not %s", safe(u.Issuer), issuer)
	}
	if err := checkURL(issuer); err != nil {
		return nil, err
	}
	ks := r.keysFor(issuer)
	holder := &verifyErr{}
	v := gooidc.NewVerifier(issuer, ks, &gooidc.Config{
		SkipClientIDCheck:    true, // CheckAudience, with a clearer message
		SkipExpiryCheck:      true, // CheckTimes, idem
		SupportedSigningAlgs: SupportedAlgorithms,
	})
	if _, err := v.Verify(context.WithValue(ctx, verifyErrKey{}, holder), token); err != nil {
		if holder.err != nil {
			return nil, holder.err
		}
		return nil, errorf(CodeSignature, "the ID token does not verify: %v", err)
	}
	if err := CheckAudience(u.Claims, audience); err != nil {
		return nil, err
	}
	if err := CheckTimes(u.Claims, r.opt.Now()); err != nil {
		return nil, err
	}
	// The claims Parse decoded are the payload whose signature verified.
	exp, _, _ := timeClaim(u.Claims, "exp")
	return &Verified{Header: u.Header, Claims: u.Claims, Expiry: exp}, nil
}

// verifyErr carries the typed error of our KeySet through go-oidc, which
// only formats it.
type verifyErr struct{ err *Error }

type verifyErrKey struct{}

func (r *Registry) keysFor(issuer string) *keySet {
	r.mu.Lock()
	defer r.mu.Unlock()
	ks := r.issuers[issuer]
	if ks == nil {
		ks = &keySet{issuer: issuer, opt: &r.opt}
		r.issuers[issuer] = ks
	}
	return ks
}

// Forget drops an issuer's cached keys (when it is removed).
func (r *Registry) Forget(issuer string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.issuers, issuer)
}

// keySet is one issuer's keys, implementing go-oidc's KeySet.
type keySet struct {
	issuer string
	opt    *Options

	mu        sync.Mutex
	jwksURL   string
	keys      []jose.JSONWebKey
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last fetch attempt
}

// VerifySignature implements gooidc.KeySet: the signature must verify
// with the issuer's published key of the token's kid.
func (ks *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	holder, _ := ctx.Value(verifyErrKey{}).(*verifyErr)
	fail := func(e *Error) ([]byte, error) {
		if holder != nil {
			holder.err = e
		}
		return nil, e
	}
	algs := make([]jose.SignatureAlgorithm, len(SupportedAlgorithms))
	for i, a := range SupportedAlgorithms {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	jws, err := jose.ParseSigned(jwt, algs)
	if err != nil || len(jws.Signatures) != 1 {
		return fail(errorf(CodeMalformed, "the ID token is not a JWS with one signature"))
	}
	kid := jws.Signatures[0].Header.KeyID
	// The cached keys first; on an unknown kid, the issuer may have
	// rotated its keys: fetch them again (rate-limited).
	for _, refresh := range []bool{false, true} {
		keys, err := ks.current(ctx, refresh)
		if err != nil {
			return fail(asError(err))
		}
		payload, found, ok := try(jws, keys, kid)
		if ok {
			return payload, nil
		}
		if found {
			return fail(errorf(CodeSignature, "the ID token's signature does not verify with the issuer's key %s: it was altered or not made by %s", safe(kid), ks.issuer))
		}
	}
	return fail(errorf(CodeUnknownKey, "the ID token names the key %s, which %s does not publish (keys fetched %s): the token was not made by this issuer, or its key was retired",
		safe(kid), ks.issuer, ks.fetched().Format(time.RFC3339)))
}

// try verifies with the keys of kid (all keys when the token names none).
// found says whether any key was tried.
func try(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid string) (payload []byte, found, ok bool) {
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		found = true
		if p, err := jws.Verify(&keys[i]); err == nil {
			return p, true, true
		}
	}
	return nil, found, false
}

func (ks *keySet) fetched() time.Time {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.fetchedAt
}

// current returns the cached keys, fetching them when there are none or
// they are older than KeysTTL; refresh asks for a fetch anyway (an unknown
// kid), granted at most once per MinRefresh.
func (ks *keySet) current(ctx context.Context, refresh bool) ([]jose.JSONWebKey, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	now := ks.opt.Now()
	stale := ks.keys == nil || now.Sub(ks.fetchedAt) > ks.opt.KeysTTL
	if !stale && !refresh {
		return ks.keys, nil
	}
	if !ks.triedAt.IsZero() && now.Sub(ks.triedAt) < ks.opt.MinRefresh {
		if refresh {
			return nil, errorf(CodeUnknownKey, "the ID token names a key that %s does not publish (its keys were fetched %s ago, and trel fetches them again at most every %s: if the issuer has just rotated its keys, try again shortly)",
				ks.issuer, now.Sub(ks.triedAt).Round(time.Second), ks.opt.MinRefresh)
		}
		if ks.keys != nil {
			return ks.keys, nil
		}
		return nil, errorf(CodeUnreachable, "the keys of %s could not be fetched a moment ago; try again in %s", ks.issuer, ks.opt.MinRefresh)
	}
	ks.triedAt = now
	if ks.jwksURL == "" || now.Sub(ks.fetchedAt) > ks.opt.KeysTTL {
		u, err := ks.discover(ctx)
		if err != nil {
			return nil, err
		}
		ks.jwksURL = u
	}
	keys, err := ks.fetchKeys(ctx)
	if err != nil {
		return nil, err
	}
	ks.keys, ks.fetchedAt = keys, now
	return keys, nil
}

// discover reads the issuer's discovery document with go-oidc (which
// checks that it names the same issuer) and returns its jwks_uri.
func (ks *keySet) discover(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	p, err := gooidc.NewProvider(gooidc.ClientContext(ctx, ks.opt.HTTP), ks.issuer)
	if err != nil {
		var mismatch *gooidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return "", errorf(CodeDiscoveryBad, "the discovery document of %s names another issuer (%s)", ks.issuer, safe(mismatch.Discovered))
		}
		var e *Error
		if errors.As(err, &e) {
			return "", e
		}
		return "", errorf(CodeUnreachable, "cannot read the discovery document of %s: %s", ks.issuer, shorten(err.Error()))
	}
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&doc); err != nil || doc.JWKSURI == "" {
		return "", errorf(CodeDiscoveryBad, "the discovery document of %s names no jwks_uri", ks.issuer)
	}
	if err := checkURL(doc.JWKSURI); err != nil {
		return "", err
	}
	return doc.JWKSURI, nil
}

func (ks *keySet) fetchKeys(ctx context.Context) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.jwksURL, nil)
	if err != nil {
		return nil, errorf(CodeDiscoveryBad, "the jwks_uri of %s is not a URL", ks.issuer)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.opt.HTTP.Do(req)
	if err != nil {
		return nil, asError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errorf(CodeUnreachable, "the key set of %s answered %s", ks.issuer, resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := jsonDecode(resp.Body, &set); err != nil {
		return nil, errorf(CodeDiscoveryBad, "the key set of %s is not a JWKS: %s", ks.issuer, shorten(err.Error()))
	}
	var keys []jose.JSONWebKey
	for _, k := range set.Keys {
		if k.IsPublic() && (k.Use == "" || k.Use == "sig") {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errorf(CodeDiscoveryBad, "the key set of %s holds no public signing key", ks.issuer)
	}
	return keys, nil
}

// asError turns a fetch failure (perhaps our own *Error from the
// transport) into an *Error.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return errorf(CodeUnreachable, "cannot reach the issuer: %s", shorten(err.Error()))
}

func shorten(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// checkURL allows https, and plain http only to loopback hosts.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errorf(CodeInsecureURL, "%s is not a URL", safe(raw))
	}
	if u.Scheme == "https" || (u.Scheme == "http" && domain.IsLoopbackHost(u.Hostname())) {
		return nil
	}
	return errorf(CodeInsecureURL, "%s is not an https URL: trel fetches issuer keys over https only (plain http only on loopback)", safe(raw))
}

// secureClient fetches over https (or loopback http) only, follows at most
// three redirects to such URLs, and reads at most 1 MiB per answer.
func secureClient() *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: limitTransport{http.DefaultTransport},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errorf(CodeUnreachable, "too many redirects")
			}
			if err := checkURL(req.URL.String()); err != nil {
				return err
			}
			return nil
		},
	}
}

// limitTransport refuses disallowed URLs and bounds response bodies.
type limitTransport struct{ next http.RoundTripper }

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := checkURL(req.URL.String()); err != nil {
		return nil, err
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, maxDocument), resp.Body}
	return resp, nil
}

func jsonDecode(r io.Reader, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, maxDocument))
	if err != nil {
		return err
	}
	return strictJSON(data, v)
}

// String describes an error for logs.
func (e *Error) String() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }
