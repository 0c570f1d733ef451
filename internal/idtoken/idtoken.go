// Package idtoken gets an OpenID Connect identity token for the person or
// CI job running trel, to sign keylessly with Sigstore. In order:
//
//  1. a token given on the command line (TOKEN, or @FILE to read it from a
//     file, "-" for standard input);
//  2. ambient CI credentials: SIGSTORE_ID_TOKEN (how GitLab's id_tokens
//     hand one over, and cosign's convention), or GitHub Actions'
//     ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN,
//     asked for the audience "sigstore";
//  3. the browser: the authorization-code flow with PKCE (S256) and a
//     redirect to a one-shot HTTP server on 127.0.0.1, like cosign and
//     sigstore-python; trel prints the URL and tries to open a browser;
//  4. the device authorization grant (RFC 8628) when no browser can run
//     here (no display, e.g. over SSH): trel prints a URL and a code to
//     enter on any other device.
//
// The token is a secret for its short life: it never appears in errors or
// output. Inspect decodes its claims (unverified) to show who will sign.
package idtoken

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Flow names, as reported by Get and chosen by Options.Flow.
const (
	FlowGiven   = "given"
	FlowAmbient = "ambient"
	FlowBrowser = "browser"
	FlowDevice  = "device"
)

// Limits of the interactive flows.
const (
	BrowserTimeout  = 5 * time.Minute
	maxResponseBody = 1 << 20
)

// Options configure Get.
type Options struct {
	// Given is the --identity-token value: the token, "@FILE", or "-".
	Given string
	// Issuer is the OIDC provider of the interactive flows, e.g.
	// https://oauth2.sigstore.dev/auth.
	Issuer string
	// ClientID of the interactive flows; "sigstore" when empty.
	ClientID string
	// Audience asked of GitHub Actions; "sigstore" when empty.
	Audience string
	// TokenEnv, for CI, names the variable holding the job's token (how
	// GitLab's id_tokens hand one over).
	TokenEnv string
	// Flow forces one interactive flow: FlowBrowser or FlowDevice; empty
	// picks the browser when a display is available.
	Flow string
	// Getenv reads the environment; os.Getenv when nil.
	Getenv func(string) string
	// HTTP is the client for the issuer and GitHub; a client with a 30 s
	// timeout when nil.
	HTTP *http.Client
	// OpenBrowser opens a URL in a browser; xdg-open/open when nil. Tests
	// replace it with an HTTP client that follows the redirects.
	OpenBrowser func(url string) error
	// Stdin is read for --identity-token -.
	Stdin io.Reader
	// Messages receives what the person must read (URLs, codes); never
	// the token.
	Messages io.Writer
}

// Get returns an identity token and the flow that produced it.
func Get(ctx context.Context, o Options) (token, flow string, err error) {
	o.defaults()
	if o.Given != "" {
		tok, err := readGiven(o.Given, o.Stdin)
		return tok, FlowGiven, err
	}
	if tok, ok, err := ambient(ctx, o); ok || err != nil {
		return tok, FlowAmbient, err
	}
	if o.Issuer == "" {
		return "", "", errors.New("no identity token: pass --identity-token, run in CI with an OIDC token, or choose a Sigstore instance with an OIDC provider")
	}
	flow = o.Flow
	if flow == "" {
		flow = FlowDevice
		if hasDisplay(o.Getenv) {
			flow = FlowBrowser
		}
	}
	switch flow {
	case FlowBrowser:
		tok, err := browserFlow(ctx, o)
		return tok, flow, err
	case FlowDevice:
		tok, err := deviceFlow(ctx, o)
		return tok, flow, err
	}
	return "", "", fmt.Errorf("unknown sign-in flow %q: use browser or device", flow)
}

func (o *Options) defaults() {
	if o.ClientID == "" {
		o.ClientID = "sigstore"
	}
	if o.Audience == "" {
		o.Audience = "sigstore"
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if o.OpenBrowser == nil {
		o.OpenBrowser = openBrowser
	}
	if o.Messages == nil {
		o.Messages = io.Discard
	}
}

// readGiven reads --identity-token: the token itself, @FILE or -.
func readGiven(v string, stdin io.Reader) (string, error) {
	var data []byte
	switch {
	case v == "-":
		if stdin == nil {
			return "", errors.New("--identity-token -: no standard input")
		}
		b, err := io.ReadAll(io.LimitReader(stdin, MaxTokenSize+1))
		if err != nil {
			return "", fmt.Errorf("reading the identity token from standard input: %w", err)
		}
		data = b
	case strings.HasPrefix(v, "@"):
		f, err := os.Open(v[1:])
		if err != nil {
			return "", fmt.Errorf("reading the identity token: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, MaxTokenSize+1))
		if err != nil {
			return "", fmt.Errorf("reading the identity token from %s: %w", v[1:], err)
		}
		data = b
	default:
		data = []byte(v)
	}
	tok := strings.TrimSpace(string(data))
	if _, err := Inspect(tok); err != nil {
		return "", fmt.Errorf("--identity-token: %w", err)
	}
	return tok, nil
}

// ambient finds a CI token. ok is false when the environment has none.
func ambient(ctx context.Context, o Options) (tok string, ok bool, err error) {
	if v := strings.TrimSpace(o.Getenv("SIGSTORE_ID_TOKEN")); v != "" {
		if _, err := Inspect(v); err != nil {
			return "", true, fmt.Errorf("SIGSTORE_ID_TOKEN: %w", err)
		}
		return v, true, nil
	}
	return github(ctx, o)
}

// CI returns the ID token the CI job running trel was given, for
// o.Audience, without any interactive flow: the variable o.TokenEnv names
// (GitLab's id_tokens), or else GitHub Actions' token request. Other
// services (trel's trusted publishing) use it with their own audience.
func CI(ctx context.Context, o Options) (string, error) {
	o.defaults()
	if o.TokenEnv != "" {
		v := strings.TrimSpace(o.Getenv(o.TokenEnv))
		if v == "" {
			return "", fmt.Errorf("%s is not set: declare it in the job's id_tokens: with aud: %s", o.TokenEnv, o.Audience)
		}
		info, err := Inspect(v)
		if err != nil {
			return "", fmt.Errorf("%s: %w", o.TokenEnv, err)
		}
		if !slices.Contains(info.Audience, o.Audience) {
			return "", fmt.Errorf("the token in %s is for the audience %s, not %s: set aud: %s under id_tokens: in the CI configuration", o.TokenEnv, strings.Join(info.Audience, ", "), o.Audience, o.Audience)
		}
		return v, nil
	}
	tok, ok, err := github(ctx, o)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errors.New("no CI ID token: in GitHub Actions give the job `permissions: id-token: write`; in GitLab CI declare the token under id_tokens: and name its variable with --token-env")
	}
	return tok, nil
}

// github asks GitHub Actions for a token of o.Audience. ok is false when
// the job has no token request URL (not GitHub Actions, or no
// id-token: write permission).
func github(ctx context.Context, o Options) (tok string, ok bool, err error) {
	reqURL, reqTok := o.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), o.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL == "" || reqTok == "" {
		return "", false, nil
	}
	u, err := url.Parse(reqURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return "", true, errors.New("ACTIONS_ID_TOKEN_REQUEST_URL is not an http(s) URL")
	}
	q := u.Query()
	q.Set("audience", o.Audience)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", true, err
	}
	req.Header.Set("Authorization", "bearer "+reqTok)
	resp, err := o.HTTP.Do(req)
	if err != nil {
		return "", true, fmt.Errorf("asking GitHub Actions for an identity token: %s", Redact(err.Error(), reqTok))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if resp.StatusCode != http.StatusOK {
		return "", true, fmt.Errorf("GitHub Actions refused an identity token (%s): does the workflow have `permissions: id-token: write`?", resp.Status)
	}
	var v struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Value == "" {
		return "", true, errors.New("GitHub Actions answered without an identity token")
	}
	if _, err := Inspect(v.Value); err != nil {
		return "", true, fmt.Errorf("GitHub Actions' identity token: %w", err)
	}
	return v.Value, true, nil
}

// discovery is the part of the provider's metadata the flows use.
type discovery struct {
	Issuer                      string `json:"issuer"`
	AuthorizationEndpoint       string `json:"authorization_endpoint"`
	TokenEndpoint               string `json:"token_endpoint"`
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint"`
}

func discover(ctx context.Context, o Options) (*discovery, error) {
	u := strings.TrimSuffix(o.Issuer, "/") + "/.well-known/openid-configuration"
	var d discovery
	if err := getJSON(ctx, o.HTTP, u, &d); err != nil {
		return nil, fmt.Errorf("reading the OIDC provider's configuration (%s): %w", u, err)
	}
	if d.TokenEndpoint == "" {
		return nil, fmt.Errorf("the OIDC provider %s publishes no token endpoint", o.Issuer)
	}
	return &d, nil
}

// browserFlow runs the authorization-code flow with PKCE and a loopback
// redirect.
func browserFlow(ctx context.Context, o Options) (string, error) {
	d, err := discover(ctx, o)
	if err != nil {
		return "", err
	}
	if d.AuthorizationEndpoint == "" {
		return "", fmt.Errorf("the OIDC provider %s has no authorization endpoint", o.Issuer)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listening for the browser's redirect: %w", err)
	}
	defer ln.Close()
	redirectURI := fmt.Sprintf("http://localhost:%d/auth/callback", ln.Addr().(*net.TCPAddr).Port)
	state, nonce, verifier := random(), random(), random()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {o.ClientID}, "redirect_uri": {redirectURI},
		"scope": {"openid email"}, "state": {state}, "nonce": {nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	authURL := d.AuthorizationEndpoint
	if strings.Contains(authURL, "?") {
		authURL += "&" + q.Encode()
	} else {
		authURL += "?" + q.Encode()
	}

	type result struct {
		code string
		err  error
	}
	got := make(chan result, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/auth/callback" {
			http.NotFound(w, r)
			return
		}
		rq := r.URL.Query()
		var res result
		switch {
		case subtle.ConstantTimeCompare([]byte(rq.Get("state")), []byte(state)) != 1:
			res.err = errors.New("the sign-in answer carried the wrong state (another sign-in, or a forged redirect): try again")
		case rq.Get("error") != "":
			res.err = fmt.Errorf("the OIDC provider refused the sign-in: %s %s", rq.Get("error"), rq.Get("error_description"))
		case rq.Get("code") == "":
			res.err = errors.New("the sign-in answer carried no authorization code")
		default:
			res.code = rq.Get("code")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if res.err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "<!doctype html><title>trel</title><p>Sign-in failed: %s</p>", html.EscapeString(res.err.Error()))
		} else {
			fmt.Fprint(w, "<!doctype html><title>trel</title><p>Signed in. You can close this window and return to trel.</p>")
		}
		select {
		case got <- res:
		default:
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()

	fmt.Fprintf(o.Messages, "Sign in to get a Sigstore identity: open\n  %s\n", authURL)
	if err := o.OpenBrowser(authURL); err != nil {
		fmt.Fprintf(o.Messages, "(could not open a browser: %v; open the URL yourself)\n", err)
	}
	ctx, cancel := context.WithTimeout(ctx, BrowserTimeout)
	defer cancel()
	var res result
	select {
	case res = <-got:
	case <-ctx.Done():
		return "", fmt.Errorf("no sign-in within %s: try again, or use --oidc-flow device", BrowserTimeout)
	}
	if res.err != nil {
		return "", res.err
	}
	tok, err := exchange(ctx, o, d.TokenEndpoint, url.Values{"grant_type": {"authorization_code"}, "code": {res.code},
		"redirect_uri": {redirectURI}, "client_id": {o.ClientID}, "code_verifier": {verifier}})
	if err != nil {
		return "", err
	}
	info, err := Inspect(tok)
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare([]byte(info.Nonce), []byte(nonce)) != 1 {
		return "", errors.New("the identity token does not carry this sign-in's nonce (a replayed token?): try again")
	}
	return tok, nil
}

// deviceFlow runs the device authorization grant.
func deviceFlow(ctx context.Context, o Options) (string, error) {
	d, err := discover(ctx, o)
	if err != nil {
		return "", err
	}
	if d.DeviceAuthorizationEndpoint == "" {
		return "", fmt.Errorf("the OIDC provider %s does not offer the device flow: sign in with a browser (--oidc-flow browser) or pass --identity-token", o.Issuer)
	}
	var da struct {
		DeviceCode              string `json:"device_code"`
		UserCode                string `json:"user_code"`
		VerificationURI         string `json:"verification_uri"`
		VerificationURIComplete string `json:"verification_uri_complete"`
		ExpiresIn               int    `json:"expires_in"`
		Interval                int    `json:"interval"`
	}
	if err := postForm(ctx, o.HTTP, d.DeviceAuthorizationEndpoint, url.Values{"client_id": {o.ClientID}, "scope": {"openid email"}}, &da); err != nil {
		return "", fmt.Errorf("starting the device sign-in: %w", err)
	}
	if da.DeviceCode == "" || da.UserCode == "" {
		return "", errors.New("the OIDC provider answered the device sign-in without a code")
	}
	fmt.Fprintf(o.Messages, "Sign in to get a Sigstore identity: on any device, open\n  %s\nand enter the code %s", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(o.Messages, " (or open %s)", da.VerificationURIComplete)
	}
	fmt.Fprintln(o.Messages)
	interval := time.Duration(max(da.Interval, 1)) * time.Second
	expires := time.Duration(da.ExpiresIn) * time.Second
	if expires <= 0 || expires > 30*time.Minute {
		expires = 15 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, expires)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return "", errors.New("the device sign-in expired before it was approved: try again")
		case <-time.After(interval):
		}
		tok, err := exchange(ctx, o, d.TokenEndpoint, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
			"device_code": {da.DeviceCode}, "client_id": {o.ClientID}})
		var oe *oauthError
		switch {
		case err == nil:
			return tok, nil
		case errors.As(err, &oe) && oe.Code == "authorization_pending":
		case errors.As(err, &oe) && oe.Code == "slow_down":
			interval += 5 * time.Second
		case errors.As(err, &oe) && oe.Code == "access_denied":
			return "", errors.New("the device sign-in was refused")
		case errors.As(err, &oe) && oe.Code == "expired_token":
			return "", errors.New("the device sign-in expired before it was approved: try again")
		default:
			return "", err
		}
	}
}

// oauthError is an OAuth 2.0 error answer.
type oauthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *oauthError) Error() string {
	if e.Description == "" {
		return "the OIDC provider answered " + e.Code
	}
	return fmt.Sprintf("the OIDC provider answered %s: %s", e.Code, e.Description)
}

// exchange asks the token endpoint for an ID token.
func exchange(ctx context.Context, o Options, endpoint string, form url.Values) (string, error) {
	var tr struct {
		IDToken string `json:"id_token"`
	}
	if err := postForm(ctx, o.HTTP, endpoint, form, &tr); err != nil {
		return "", err
	}
	if tr.IDToken == "" {
		return "", errors.New("the OIDC provider answered without an ID token (was the openid scope granted?)")
	}
	if _, err := Inspect(tr.IDToken); err != nil {
		return "", fmt.Errorf("the OIDC provider's ID token: %w", err)
	}
	return tr.IDToken, nil
}

func postForm(ctx context.Context, hc *http.Client, endpoint string, form url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	return doJSON(hc, req, out)
}

func getJSON(ctx context.Context, hc *http.Client, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	return doJSON(hc, req, out)
}

// doJSON decodes a JSON answer, or an OAuth error. Bodies are never
// copied into errors: they may hold tokens.
func doJSON(hc *http.Client, req *http.Request, out any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var oe oauthError
		if json.Unmarshal(body, &oe) == nil && oe.Code != "" {
			return &oe
		}
		return fmt.Errorf("%s answered %s", req.URL.Redacted(), resp.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s answered something that is not JSON", req.URL.Redacted())
	}
	return nil
}

func random() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hasDisplay guesses whether a browser can open here: macOS and Windows
// always, other systems when a graphical session is set.
func hasDisplay(getenv func(string) string) bool {
	switch runtime.GOOS {
	case "darwin", "windows":
		return true
	}
	return getenv("DISPLAY") != "" || getenv("WAYLAND_DISPLAY") != ""
}

func openBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}
