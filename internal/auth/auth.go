// Package auth signs people in to trel's web interface with passkeys
// (WebAuthn, discoverable credentials, user verification required). A new
// user registers a first passkey through a one-time enrollment link; a
// signed-in user may add more. Browser sessions live in the database with
// idle and absolute timeouts, so that they can be listed and ended.
//
// Secrets (enrollment tokens, session ids, ceremony ids) are 256-bit random
// values that only the browser holds; the database keeps their SHA-256.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/store"
)

// Defaults for Config.
const (
	DefaultIdleTimeout     = 12 * time.Hour
	DefaultAbsoluteTimeout = 7 * 24 * time.Hour
	DefaultEnrollmentTTL   = 24 * time.Hour
	DefaultCeremonyTimeout = 5 * time.Minute
	DefaultSignInLimit     = 20 // attempts per client IP per minute
)

// Config configures Auth.
type Config struct {
	// PublicURL is where browsers reach trel, e.g. https://trel.example.org.
	// Its host is the WebAuthn relying party id, its scheme+host+port the
	// only accepted origin.
	PublicURL       string
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	EnrollmentTTL   time.Duration
	CeremonyTimeout time.Duration
	// SignInLimit is how many sign-in and enrollment attempts one client IP
	// may make per minute.
	SignInLimit int
	Now         func() time.Time
}

// Auth is the passkey and session service.
type Auth struct {
	core    *core.Service
	users   store.Reader
	st      store.WebStore
	wa      *webauthn.WebAuthn
	cfg     Config
	origin  string
	secure  bool
	limiter *limiter
}

// New builds an Auth. The public URL must be an absolute http(s) URL whose
// host is a domain name (WebAuthn refuses IP addresses): use localhost for
// local use.
func New(svc *core.Service, st store.WebStore, cfg Config) (*Auth, error) {
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("the public URL %q must be an absolute http:// or https:// URL", cfg.PublicURL)
	}
	if net.ParseIP(u.Hostname()) != nil {
		return nil, fmt.Errorf("the public URL %q must name the host (e.g. localhost), not an IP address: passkeys are bound to a domain name", cfg.PublicURL)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.AbsoluteTimeout <= 0 {
		cfg.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if cfg.EnrollmentTTL <= 0 {
		cfg.EnrollmentTTL = DefaultEnrollmentTTL
	}
	if cfg.CeremonyTimeout <= 0 {
		cfg.CeremonyTimeout = DefaultCeremonyTimeout
	}
	if cfg.SignInLimit <= 0 {
		cfg.SignInLimit = DefaultSignInLimit
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	origin := u.Scheme + "://" + u.Host
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: "trel",
		RPOrigins:     []string{origin},
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationRequired,
		},
		AttestationPreference: protocol.PreferNoAttestation,
		// Without Enforce the library lets ceremonies live for ever.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: cfg.CeremonyTimeout, TimeoutUVD: cfg.CeremonyTimeout},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: cfg.CeremonyTimeout, TimeoutUVD: cfg.CeremonyTimeout},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("configuring WebAuthn for %s: %w", cfg.PublicURL, err)
	}
	return &Auth{core: svc, users: svc.Store(), st: st, wa: wa, cfg: cfg, origin: origin,
		secure: u.Scheme == "https", limiter: &limiter{st: svc.Store(), limit: cfg.SignInLimit, window: time.Minute}}, nil
}

// Client is what trel records of the browser behind a request.
type Client struct {
	IP        string
	UserAgent string
}

// maxUserAgent bounds what is stored of a User-Agent header.
const maxUserAgent = 256

func (c Client) userAgent() string {
	ua := strings.ToValidUTF8(c.UserAgent, "?")
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return strings.ToValidUTF8(ua, "")
}

// Origin is the one origin browsers use (scheme://host[:port]).
func (a *Auth) Origin() string { return a.origin }

// Secure reports whether the public URL is https (cookies are then Secure).
func (a *Auth) Secure() bool { return a.secure }

// IdleTimeout is how long a session lives without activity.
func (a *Auth) IdleTimeout() time.Duration { return a.cfg.IdleTimeout }

// AbsoluteTimeout is how long a session lives at most.
func (a *Auth) AbsoluteTimeout() time.Duration { return a.cfg.AbsoluteTimeout }

// Allow counts a sign-in attempt of the client and reports whether it is
// within the limit (per minute, shared by every replica).
func (a *Auth) Allow(ctx context.Context, clientIP string) bool {
	return a.limiter.allow(ctx, clientIP, a.cfg.Now())
}

// newSecret returns a random 256-bit secret, base64url, and its hash.
func newSecret() (string, []byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, domain.Internal("generating a secret", err)
	}
	s := base64.RawURLEncoding.EncodeToString(b[:])
	return s, hashSecret(s), nil
}

func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// validSecret rejects anything that newSecret cannot have produced, before
// it reaches the database.
func validSecret(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// ---- enrollment links

// CreateEnrollment makes a one-time enrollment link for username. Only
// administrators (and the system, for `trel admin enroll`) may.
func (a *Auth) CreateEnrollment(ctx context.Context, act *core.Actor, username string) (string, time.Time, error) {
	// The same rule as the core's "manage users" operation.
	if !act.System && (act.User == nil || !act.User.Admin) {
		return "", time.Time{}, domain.Errorf(domain.KindForbidden, "only an administrator may create enrollment links")
	}
	u, err := a.users.UserByUsername(ctx, username)
	if err != nil {
		return "", time.Time{}, err
	}
	if u.SuspendedAt != nil {
		return "", time.Time{}, domain.Errorf(domain.KindConflict, "%s is suspended: reactivate the account first (trel admin reactivate %s)", u.Username, u.Username)
	}
	existing, err := a.st.Passkeys(ctx, u.ID)
	if err != nil {
		return "", time.Time{}, err
	}
	secret, hash, err := newSecret()
	if err != nil {
		return "", time.Time{}, err
	}
	now := a.cfg.Now()
	e := &store.Enrollment{UserID: u.ID, Hash: hash, CreatedBy: actorName(act), CreatedAt: now, ExpiresAt: now.Add(a.cfg.EnrollmentTTL)}
	details := map[string]any{"expires_at": e.ExpiresAt}
	if len(existing) > 0 {
		// Re-enrollment of a user who can already sign in: never silent.
		details["existing_passkeys"] = len(existing)
		e.Notice = fmt.Sprintf("%s created an enrollment link for your account on %s, although you already have %d passkey(s). If you did not ask for it, tell an administrator at once.",
			actorName(act), now.UTC().Format(time.RFC3339), len(existing))
	}
	ev := a.core.AuditEventFor(act, "enrollment.create", "user:"+u.Username, details)
	if err := a.st.CreateEnrollment(ctx, e, ev); err != nil {
		return "", time.Time{}, err
	}
	return a.origin + "/enroll/" + secret, e.ExpiresAt, nil
}

func actorName(act *core.Actor) string {
	if act.User != nil {
		return act.User.Username
	}
	return "system"
}

// Enrollment checks an enrollment link's token: it must exist, be unused
// and unexpired. It does not consume it.
func (a *Auth) Enrollment(ctx context.Context, token string) (*store.Enrollment, error) {
	if !validSecret(token) {
		return nil, domain.Errorf(domain.KindNotFound, "this enrollment link is not valid: ask an administrator for a new one")
	}
	e, err := a.st.EnrollmentByHash(ctx, hashSecret(token))
	if err != nil {
		return nil, err
	}
	if e.UsedAt != nil {
		return nil, domain.Errorf(domain.KindConflict, "this enrollment link was already used: sign in with your passkey, or ask an administrator for a new link")
	}
	if !a.cfg.Now().Before(e.ExpiresAt) {
		return nil, domain.Errorf(domain.KindInvalid, "this enrollment link expired on %s: ask an administrator for a new one", e.ExpiresAt.Format(time.RFC1123))
	}
	u, err := a.users.UserByID(ctx, e.UserID)
	if err != nil {
		return nil, err
	}
	if u.SuspendedAt != nil {
		return nil, domain.Errorf(domain.KindForbidden, "this account is suspended: its enrollment links are refused; ask an administrator")
	}
	return e, nil
}

// OpenEnrollments lists unused, unexpired enrollment links (administrators).
func (a *Auth) OpenEnrollments(ctx context.Context, act *core.Actor) ([]store.Enrollment, error) {
	if !act.System && (act.User == nil || !act.User.Admin) {
		return nil, domain.Errorf(domain.KindForbidden, "only an administrator may list enrollment links")
	}
	return a.st.OpenEnrollments(ctx, a.cfg.Now())
}

// ---- registration

// waUser adapts a trel user to the WebAuthn library.
type waUser struct {
	u      *domain.User
	handle []byte
	keys   []store.Passkey
	creds  []webauthn.Credential
}

func (w *waUser) WebAuthnID() []byte                         { return w.handle }
func (w *waUser) WebAuthnName() string                       { return w.u.Username }
func (w *waUser) WebAuthnDisplayName() string                { return displayName(w.u) }
func (w *waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

func displayName(u *domain.User) string {
	if u.Name != "" {
		return u.Name
	}
	return u.Username
}

func (a *Auth) loadUser(ctx context.Context, u *domain.User) (*waUser, error) {
	var fresh [32]byte
	if _, err := rand.Read(fresh[:]); err != nil {
		return nil, domain.Internal("generating a user handle", err)
	}
	h, err := a.st.UserHandle(ctx, u.ID, fresh[:])
	if err != nil {
		return nil, err
	}
	keys, err := a.st.Passkeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	w := &waUser{u: u, handle: h, keys: keys}
	for _, k := range keys {
		var c webauthn.Credential
		if err := json.Unmarshal(k.Credential, &c); err != nil {
			return nil, domain.Internal("reading a passkey", err)
		}
		// The columns are authoritative for what we update on each use.
		c.Authenticator.SignCount = k.SignCount
		w.creds = append(w.creds, c)
	}
	return w, nil
}

// Options is what the browser passes to navigator.credentials, as JSON.
type Options = json.RawMessage

func validPasskeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "passkey"
	}
	if err := domain.ValidateName("passkey", name); err != nil {
		return "", err
	}
	return name, nil
}

// BeginEnrollment starts registering a first passkey through an enrollment
// link. It returns the creation options and the ceremony id, which the
// browser must present (in a cookie) to finish.
func (a *Auth) BeginEnrollment(ctx context.Context, token, passkeyName string) (Options, string, error) {
	e, err := a.Enrollment(ctx, token)
	if err != nil {
		return nil, "", err
	}
	u, err := a.users.UserByID(ctx, e.UserID)
	if err != nil {
		return nil, "", err
	}
	return a.beginRegistration(ctx, u, e.ID, passkeyName)
}

// BeginAddPasskey starts registering another passkey for a signed-in user.
func (a *Auth) BeginAddPasskey(ctx context.Context, act *core.Actor, passkeyName string) (Options, string, error) {
	if act.User == nil {
		return nil, "", domain.Errorf(domain.KindUnauthenticated, "sign in to add a passkey")
	}
	return a.beginRegistration(ctx, act.User, 0, passkeyName)
}

func (a *Auth) beginRegistration(ctx context.Context, u *domain.User, enrollmentID int64, passkeyName string) (Options, string, error) {
	name, err := validPasskeyName(passkeyName)
	if err != nil {
		return nil, "", err
	}
	w, err := a.loadUser(ctx, u)
	if err != nil {
		return nil, "", err
	}
	var exclude []protocol.CredentialDescriptor
	for _, c := range w.creds {
		exclude = append(exclude, c.Descriptor())
	}
	creation, session, err := a.wa.BeginRegistration(w, webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, "", domain.Internal("starting passkey registration", err)
	}
	id, err := a.putCeremony(ctx, "register", u.ID, enrollmentID, name, session)
	if err != nil {
		return nil, "", err
	}
	opts, err := json.Marshal(creation.Response)
	if err != nil {
		return nil, "", domain.Internal("encoding passkey options", err)
	}
	return opts, id, nil
}

func (a *Auth) putCeremony(ctx context.Context, kind string, userID, enrollmentID int64, name string, session *webauthn.SessionData) (string, error) {
	data, err := json.Marshal(session)
	if err != nil {
		return "", domain.Internal("encoding the ceremony", err)
	}
	secret, hash, err := newSecret()
	if err != nil {
		return "", err
	}
	c := &store.Ceremony{Hash: hash, Kind: kind, UserID: userID, EnrollmentID: enrollmentID, PasskeyName: name,
		Data: data, ExpiresAt: a.cfg.Now().Add(a.cfg.CeremonyTimeout)}
	if err := a.st.PutCeremony(ctx, c); err != nil {
		return "", err
	}
	return secret, nil
}

// takeCeremony returns the ceremony and deletes it, whatever happens next:
// a failed finish cannot be retried with the same challenge.
func (a *Auth) takeCeremony(ctx context.Context, id, kind string) (*store.Ceremony, webauthn.SessionData, error) {
	var sd webauthn.SessionData
	if !validSecret(id) {
		return nil, sd, domain.Errorf(domain.KindInvalid, "no passkey request is in progress in this browser: reload the page and try again")
	}
	c, err := a.st.TakeCeremony(ctx, hashSecret(id))
	if err != nil {
		return nil, sd, err
	}
	if c.Kind != kind || !a.cfg.Now().Before(c.ExpiresAt) {
		return nil, sd, domain.Errorf(domain.KindInvalid, "the passkey request expired or does not match: reload the page and try again")
	}
	if err := json.Unmarshal(c.Data, &sd); err != nil {
		return nil, sd, domain.Internal("reading the ceremony", err)
	}
	return c, sd, nil
}

// refused is the public error for a failed WebAuthn verification; the
// library's detail goes to the log through Err, not to the browser.
func refused(what string, err error) error {
	msg := what + " was refused: the passkey response could not be verified."
	var pe *protocol.Error
	if errors.As(err, &pe) && strings.Contains(pe.DevInfo, "User verification required") {
		msg = what + " was refused: your authenticator did not verify you (PIN, fingerprint or face), and trel requires it."
	}
	return &domain.Error{Kind: domain.KindUnauthenticated, Message: msg, Err: err}
}

// FinishRegistration verifies the browser's response (the JSON of
// credential.toJSON()) and stores the passkey. For an enrollment it also
// consumes the link and returns a new session secret: the user is signed
// in. For an added passkey the returned secret is empty.
func (a *Auth) FinishRegistration(ctx context.Context, ceremonyID string, body io.Reader, client Client) (*domain.User, string, error) {
	c, sd, err := a.takeCeremony(ctx, ceremonyID, "register")
	if err != nil {
		return nil, "", err
	}
	u, err := a.users.UserByID(ctx, c.UserID)
	if err != nil {
		return nil, "", err
	}
	if u.SuspendedAt != nil {
		return nil, "", domain.Errorf(domain.KindForbidden, "this account is suspended: ask an administrator")
	}
	w, err := a.loadUser(ctx, u)
	if err != nil {
		return nil, "", err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(body)
	if err != nil {
		return nil, "", refused("Registering the passkey", err)
	}
	cred, err := a.wa.CreateCredential(w, sd, parsed)
	if err != nil {
		return nil, "", refused("Registering the passkey", err)
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return nil, "", domain.Internal("encoding the passkey", err)
	}
	now := a.cfg.Now()
	pk := &store.Passkey{UserID: u.ID, Name: c.PasskeyName, CredentialID: cred.ID, SignCount: cred.Authenticator.SignCount,
		BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState, Credential: data, CreatedAt: now}
	act := &core.Actor{User: u, ClientIP: client.IP}
	action := "passkey.add"
	if c.EnrollmentID > 0 {
		action = "passkey.enroll"
	}
	details := map[string]any{"passkey": pk.Name, "backup_eligible": pk.BackupEligible, "backup_state": pk.BackupState}
	if c.EnrollmentID > 0 && len(w.keys) > 0 {
		details["existing_passkeys"] = len(w.keys)
		pk.Notice = fmt.Sprintf("A new passkey %q was added to your account through an enrollment link on %s (from %s). If this was not you, tell an administrator at once.",
			pk.Name, now.UTC().Format(time.RFC3339), orUnknown(client.IP))
	}
	ev := a.core.AuditEventFor(act, action, "user:"+u.Username, details)
	if err := a.st.AddPasskey(ctx, pk, c.EnrollmentID, now, ev); err != nil {
		return nil, "", err
	}
	if c.EnrollmentID == 0 {
		return u, "", nil
	}
	secret, err := a.newSession(ctx, u, client, pk.ID)
	if err != nil {
		return nil, "", err
	}
	return u, secret, nil
}

// ---- sign-in

// BeginLogin starts a sign-in with a discoverable passkey: the browser
// offers whatever passkeys it holds for this site.
func (a *Auth) BeginLogin(ctx context.Context) (Options, string, error) {
	assertion, session, err := a.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, "", domain.Internal("starting sign-in", err)
	}
	id, err := a.putCeremony(ctx, "login", 0, 0, "", session)
	if err != nil {
		return nil, "", err
	}
	opts, err := json.Marshal(assertion.Response)
	if err != nil {
		return nil, "", domain.Internal("encoding passkey options", err)
	}
	return opts, id, nil
}

// FinishLogin verifies a sign-in and returns the user and a new session
// secret (always a new one: a session id is never carried over).
func (a *Auth) FinishLogin(ctx context.Context, ceremonyID string, body io.Reader, client Client) (*domain.User, string, error) {
	clientIP := client.IP
	_, sd, err := a.takeCeremony(ctx, ceremonyID, "login")
	if err != nil {
		return nil, "", err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(body)
	if err != nil {
		return nil, "", a.loginRefused(ctx, nil, clientIP, refused("Signing in", err))
	}
	var owner *waUser
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		id, err := a.st.UserIDByHandle(ctx, userHandle)
		if err != nil {
			return nil, err
		}
		u, err := a.users.UserByID(ctx, id)
		if err != nil {
			return nil, err
		}
		owner, err = a.loadUser(ctx, u)
		return owner, err
	}
	_, cred, err := a.wa.ValidatePasskeyLogin(handler, sd, parsed)
	if err != nil {
		var who *domain.User
		if owner != nil {
			who = owner.u
		}
		return nil, "", a.loginRefused(ctx, who, clientIP, refused("Signing in", err))
	}
	// The library only flags a sign counter that went backwards; a cloned
	// authenticator is a reason to refuse, not to carry on.
	if cred.Authenticator.CloneWarning {
		return nil, "", a.loginRefused(ctx, owner.u, clientIP, clonedPasskey("Signing in"))
	}
	if owner.u.SuspendedAt != nil {
		return nil, "", a.loginRefused(ctx, owner.u, clientIP, domain.Errorf(domain.KindForbidden, "Signing in was refused: this account is suspended; ask an administrator"))
	}
	var pk *store.Passkey
	for i := range owner.keys {
		if string(owner.keys[i].CredentialID) == string(cred.ID) {
			pk = &owner.keys[i]
		}
	}
	if pk == nil {
		return nil, "", domain.Internal("signing in", errors.New("verified credential not among the user's passkeys"))
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return nil, "", domain.Internal("encoding the passkey", err)
	}
	if err := a.st.UpdatePasskeyUse(ctx, pk.ID, cred.Authenticator.SignCount, cred.Flags.BackupState, data, a.cfg.Now()); err != nil {
		if domain.IsKind(err, domain.KindConflict) {
			return nil, "", a.loginRefused(ctx, owner.u, clientIP, clonedPasskey("Signing in"))
		}
		return nil, "", err
	}
	secret, err := a.newSession(ctx, owner.u, client, pk.ID)
	if err != nil {
		return nil, "", err
	}
	return owner.u, secret, nil
}

// clonedPasskey is the refusal of a passkey whose signature counter did
// not advance: it went backwards, or a copy of the authenticator used the
// same value at the same time.
func clonedPasskey(what string) error {
	return domain.Errorf(domain.KindUnauthenticated,
		"%s was refused: this passkey's signature counter did not advance, which suggests a cloned authenticator; use another passkey and remove this one", what)
}

// loginRefused audits a refused sign-in and returns err.
func (a *Auth) loginRefused(ctx context.Context, u *domain.User, clientIP string, err error) error {
	act := &core.Actor{User: u, ClientIP: clientIP}
	target := "web"
	if u != nil {
		target = "user:" + u.Username
	}
	if aerr := a.core.WriteAudit(ctx, act, "signin.refused", target, map[string]any{"reason": domain.PublicMessage(err)}); aerr != nil {
		return errors.Join(err, aerr)
	}
	return err
}

// ---- sessions

func (a *Auth) newSession(ctx context.Context, u *domain.User, client Client, passkeyID int64) (string, error) {
	// Sign-ins are rare enough to sweep expired sessions and abandoned
	// ceremonies here; a failed sweep must not stop the sign-in.
	_ = a.Purge(ctx)
	secret, hash, err := newSecret()
	if err != nil {
		return "", err
	}
	now := a.cfg.Now()
	s := &store.WebSession{Hash: hash, UserID: u.ID, CreatedAt: now, LastSeenAt: now, ClientIP: client.IP, UserAgent: client.userAgent(), PasskeyID: passkeyID}
	ev := a.core.AuditEventFor(&core.Actor{User: u, ClientIP: client.IP}, "signin", "user:"+u.Username, map[string]any{"passkey_id": passkeyID, "user_agent": s.UserAgent})
	if err := a.st.CreateSession(ctx, s, ev); err != nil {
		return "", err
	}
	return secret, nil
}

// Session resolves a session secret to its user. Sessions idle for longer
// than the idle timeout, or older than the absolute timeout, are ended.
func (a *Auth) Session(ctx context.Context, secret string) (*domain.User, error) {
	expired := domain.Errorf(domain.KindUnauthenticated, "your session has ended: sign in again")
	if !validSecret(secret) {
		return nil, expired
	}
	hash := hashSecret(secret)
	s, err := a.st.SessionByHash(ctx, hash)
	if domain.IsKind(err, domain.KindNotFound) {
		return nil, expired
	}
	if err != nil {
		return nil, err
	}
	now := a.cfg.Now()
	if now.Sub(s.LastSeenAt) > a.cfg.IdleTimeout || now.Sub(s.CreatedAt) > a.cfg.AbsoluteTimeout {
		if err := a.st.DeleteSession(ctx, hash); err != nil {
			return nil, err
		}
		return nil, expired
	}
	u, err := a.users.UserByID(ctx, s.UserID)
	if err != nil {
		return nil, err
	}
	if u.SuspendedAt != nil {
		if err := a.st.DeleteSession(ctx, hash); err != nil {
			return nil, err
		}
		return nil, domain.Errorf(domain.KindUnauthenticated, "this account is suspended: ask an administrator")
	}
	// Record activity at most once a minute, not on every request.
	if now.Sub(s.LastSeenAt) > time.Minute {
		if err := a.st.TouchSession(ctx, hash, now); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// SignOut ends one session.
func (a *Auth) SignOut(ctx context.Context, secret string) error {
	if !validSecret(secret) {
		return nil
	}
	return a.st.DeleteSession(ctx, hashSecret(secret))
}

// SignOutEverywhere ends every session of the actor.
func (a *Auth) SignOutEverywhere(ctx context.Context, act *core.Actor) (int, error) {
	if act.User == nil {
		return 0, domain.Errorf(domain.KindUnauthenticated, "you are not signed in")
	}
	ev := a.core.AuditEventFor(act, "signout.everywhere", "user:"+act.User.Username, nil)
	return a.st.DeleteUserSessions(ctx, act.User.ID, ev)
}

// CountSessions counts the actor's sessions.
func (a *Auth) CountSessions(ctx context.Context, act *core.Actor) (int, error) {
	if act.User == nil {
		return 0, nil
	}
	return a.st.CountSessions(ctx, act.User.ID)
}

// Purge deletes expired sessions and ceremonies.
func (a *Auth) Purge(ctx context.Context) error {
	now := a.cfg.Now()
	return a.st.PurgeSessions(ctx, now.Add(-a.cfg.IdleTimeout), now.Add(-a.cfg.AbsoluteTimeout), now)
}

// ---- passkey management

// Passkeys lists the actor's passkeys.
func (a *Auth) Passkeys(ctx context.Context, act *core.Actor) ([]store.Passkey, error) {
	if act.User == nil {
		return nil, domain.Errorf(domain.KindUnauthenticated, "sign in to see your passkeys")
	}
	return a.st.Passkeys(ctx, act.User.ID)
}

// RemovePasskey removes one of the actor's passkeys, never the last one.
func (a *Auth) RemovePasskey(ctx context.Context, act *core.Actor, id int64) error {
	if act.User == nil {
		return domain.Errorf(domain.KindUnauthenticated, "sign in to manage your passkeys")
	}
	ev := a.core.AuditEventFor(act, "passkey.remove", "user:"+act.User.Username, map[string]any{"passkey_id": id})
	return a.st.DeletePasskey(ctx, act.User.ID, id, ev)
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown address"
	}
	return s
}
