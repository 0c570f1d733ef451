package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"trel/internal/api"
	"trel/internal/checks"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/oidc"
	"trel/internal/server"
	"trel/internal/signing"
	"trel/internal/sigstore"
	"trel/internal/store"
	"trel/internal/testutil/oidctest"
)

// The authorisation matrix: every operation of the API route table, called
// over real HTTP against the real handler stack (server.Handler on a SQLite
// data directory, with signing and passkeys configured) by every role,
// answers with the expected success or the exact refusal.
//
// A role is one entry of the roles table. What a role may do follows from
// its capabilities and each operation's need; a role whose credentials are
// refused outright (revoked token, suspended user) gives the one answer
// every operation then returns.

// capability is what a role holds in committee "alpha".
type capability int

const (
	capSignedIn    capability = 1 << iota
	capParticipant            // member or committer of alpha
	capMember                 // member of alpha
	capRM                     // release manager of alpha-lib's releases
	capAdmin
)

// outcome is an HTTP status and, for errors, the error code of the body.
type outcome struct {
	status int
	kind   string
}

func (o outcome) String() string {
	if o.kind == "" {
		return fmt.Sprint(o.status)
	}
	return fmt.Sprintf("%d %s", o.status, o.kind)
}

type role struct {
	name string
	caps capability
	// workload: the role holds a trusted publisher's CI credential, not a
	// user's token. It is refused everything but public reads and what
	// its row's except grants.
	workload bool
	// authFails is the answer to every request with this role's
	// credentials, when they are refused before any operation runs.
	authFails *outcome
}

// roles: add a role here (and its user in buildMatrixTemplate when it is
// a new kind of account).
var roles = []role{
	{name: "anonymous"},
	{name: "revoked-token", authFails: &outcome{401, "unauthenticated"}},
	// A committee member whom an administrator suspended: every token of
	// theirs is refused, whatever it asks.
	{name: "suspended", authFails: &outcome{401, "unauthenticated"}},
	{name: "outsider", caps: capSignedIn},
	{name: "committer", caps: capSignedIn | capParticipant},
	{name: "member", caps: capSignedIn | capParticipant | capMember | capRM},
	{name: "rm", caps: capSignedIn | capParticipant | capRM},
	// A committer who was release manager of every alpha-lib release and
	// was then removed from the committee: no role is left.
	{name: "removed-rm", caps: capSignedIn},
	{name: "admin", caps: capSignedIn | capParticipant | capMember | capRM | capAdmin},
	// A CI credential of alpha-lib's trusted publisher allowed compose,
	// vote-start and publish.
	{name: "ci", workload: true},
}

// need is what an operation requires; its zero value is "anyone".
type need capability

const (
	public      need = 0
	signedIn         = need(capSignedIn)
	participant      = need(capParticipant)
	member           = need(capMember)
	rm               = need(capRM)
	admin            = need(capAdmin)
)

// op is one row of the matrix.
type op struct {
	// path and body for a role (targets may differ per role so that each
	// role acts on its own resource).
	path func(fx *matrixIDs, r string) string
	body func(fx *matrixIDs, r string) string
	need need
	ok   outcome
	// except overrides the expected outcome for named roles.
	except map[string]outcome
}

func (o op) expect(r role) outcome {
	if r.authFails != nil {
		return *r.authFails
	}
	if e, ok := o.except[r.name]; ok {
		return e
	}
	if r.workload {
		if o.need == public {
			return o.ok
		}
		return outcome{403, "forbidden"}
	}
	if capability(o.need)&r.caps == capability(o.need) {
		return o.ok
	}
	if r.caps&capSignedIn == 0 {
		return outcome{401, "unauthenticated"}
	}
	return outcome{403, "forbidden"}
}

// matrixIDs are the fixture's names, tokens and identifiers.
type matrixIDs struct {
	tokens     map[string]string // role -> bearer secret
	spareToken map[string]int64  // role -> id of a second token of theirs
	personal   map[string]int64  // role -> id of their personal Sigstore identity
	memberKey  string            // proven key of "member", linked to alpha
	deletedKey string            // deleted key owned by "member"
	serverKey  string            // key held by trel for "rm"
	identityID int64             // alpha-lib's trusted Sigstore identity
	sigKeyID   int64             // alpha-lib's Sigstore key
	pem        string            // a PEM public key to register
	spareKey   string            // an armored OpenPGP public key nobody added yet
	sha        string            // content uploaded to alpha-lib 1.0
	masterKey  string            // master key file
	// Incident response: a token, a browser session and a passkey of
	// "target", and a notice for each role.
	targetToken   int64
	targetSession int64
	targetPasskey int64
	notice        map[string]int64
	// Trusted publishing: the loopback issuer, alpha-lib's publisher and
	// an unused ID token of its workflow.
	issuer      string
	publisherID int64
	idToken     string
	webhookID   int64 // a webhook of alpha-lib
	// Resumable uploads of "committer" to alpha-lib 1.0: one that has
	// received nothing of its 5 bytes, one that received them all.
	upSession, fullSession string
}

// ci grants the CI credential's role an outcome other than "forbidden".
func ci(o outcome) map[string]outcome { return map[string]outcome{"ci": o} }

func fixed(s string) func(*matrixIDs, string) string {
	return func(*matrixIDs, string) string { return s }
}

const (
	r1 = "/api/v1/projects/alpha-lib/releases/1.0" // draft, checked (a KEYS file inside is a blocker)
	r2 = "/api/v1/projects/alpha-lib/releases/2.0" // candidate
	r3 = "/api/v1/projects/alpha-lib/releases/3.0" // preview
	r4 = "/api/v1/projects/alpha-lib/releases/4.0" // published
	r5 = "/api/v1/projects/alpha-lib/releases/5.0" // published and yanked
	sg = "/api/v1/projects/alpha-lib/sigstore"
)

// ops maps each route of the table ("METHOD PATTERN") to its row.
func ops() map[string]op {
	ok200, ok201, ok204 := outcome{200, ""}, outcome{201, ""}, outcome{204, ""}
	notFound, conflict := outcome{404, "not_found"}, outcome{409, "conflict"}
	return map[string]op{
		"POST /api/v1/users/{username}/suspend":    {path: fixed("/api/v1/users/target/suspend"), need: admin, ok: ok204},
		"POST /api/v1/users/{username}/reactivate": {path: fixed("/api/v1/users/suspended/reactivate"), need: admin, ok: ok204},
		"GET /api/v1/users/{username}/tokens":      {path: fixed("/api/v1/users/target/tokens"), need: admin, ok: ok200},
		"GET /api/v1/users/{username}/sessions":    {path: fixed("/api/v1/users/target/sessions"), need: admin, ok: ok200},
		"GET /api/v1/users/{username}/passkeys":    {path: fixed("/api/v1/users/target/passkeys"), need: admin, ok: ok200},
		"DELETE /api/v1/admin/tokens/{id}":         {path: func(fx *matrixIDs, _ string) string { return fmt.Sprintf("/api/v1/admin/tokens/%d", fx.targetToken) }, need: admin, ok: ok204},
		"DELETE /api/v1/admin/sessions/{id}": {path: func(fx *matrixIDs, _ string) string {
			return fmt.Sprintf("/api/v1/admin/sessions/%d", fx.targetSession)
		}, need: admin, ok: ok204},
		"DELETE /api/v1/admin/passkeys/{id}": {path: func(fx *matrixIDs, _ string) string {
			return fmt.Sprintf("/api/v1/admin/passkeys/%d", fx.targetPasskey)
		}, need: admin, ok: ok200},
		"GET /api/v1/notices":                                        {path: fixed("/api/v1/notices"), need: signedIn, ok: ok200},
		"POST /api/v1/notices/{id}/dismiss":                          {path: func(fx *matrixIDs, r string) string { return fmt.Sprintf("/api/v1/notices/%d/dismiss", fx.notice[r]) }, need: signedIn, ok: ok204},
		"GET /api/v1/projects/{project}/releases/{version}/summary":  {path: fixed(r2 + "/summary"), need: public, ok: ok200},
		"GET /api/v1/releases":                                       {path: fixed("/api/v1/releases?committee=alpha&phase=candidate"), need: public, ok: ok200},
		"POST /api/v1/projects/{project}/releases/{version}/abandon": {path: fixed(r1 + "/abandon"), body: fixed(`{"reason":"test"}`), need: member, ok: ok204},
		// The draft has one revision: restoring it is refused once allowed.
		"POST /api/v1/projects/{project}/releases/{version}/revisions/{number}/restore": {path: fixed(r1 + "/revisions/1/restore"), need: participant, ok: outcome{400, "invalid"}, except: ci(outcome{400, "invalid"})},
		"GET /api/v1/me/sessions": {path: fixed("/api/v1/me/sessions"), need: signedIn, ok: ok200},
		// Another user's session and passkey: nobody's own.
		"DELETE /api/v1/me/sessions/{id}": {path: func(fx *matrixIDs, _ string) string { return fmt.Sprintf("/api/v1/me/sessions/%d", fx.targetSession) }, need: signedIn, ok: notFound},
		"GET /api/v1/me/passkeys":         {path: fixed("/api/v1/me/passkeys"), need: signedIn, ok: ok200},
		"PUT /api/v1/me/passkeys/{id}/name": {path: func(fx *matrixIDs, _ string) string {
			return fmt.Sprintf("/api/v1/me/passkeys/%d/name", fx.targetPasskey)
		},
			body: fixed(`{"name":"mine"}`), need: signedIn, ok: notFound},
		"POST /api/v1/signing-keys/{fingerprint}/check-password": {path: func(fx *matrixIDs, _ string) string {
			return "/api/v1/signing-keys/" + fx.serverKey + "/check-password"
		},
			body: fixed(`{"password":"the rm's signing password"}`), need: signedIn, ok: outcome{403, "forbidden"}, except: map[string]outcome{"rm": ok204}}, // only the key's holder
		"GET /api/v1/openapi.json":                                   {path: fixed("/api/v1/openapi.json"), need: public, ok: ok200},
		"GET /api/v1/me":                                             {path: fixed("/api/v1/me"), need: signedIn, ok: ok200},
		"GET /api/v1/users":                                          {path: fixed("/api/v1/users"), need: admin, ok: ok200},
		"POST /api/v1/users":                                         {path: fixed("/api/v1/users"), body: fixed(`{"username":"newuser","email":"new@example.org"}`), need: admin, ok: ok201},
		"GET /api/v1/audit":                                          {path: fixed("/api/v1/audit"), need: admin, ok: ok200},
		"GET /api/v1/tokens":                                         {path: fixed("/api/v1/tokens"), need: signedIn, ok: ok200},
		"POST /api/v1/tokens":                                        {path: fixed("/api/v1/tokens"), body: fixed(`{"label":"more"}`), need: signedIn, ok: ok201},
		"DELETE /api/v1/tokens/{id}":                                 {path: func(fx *matrixIDs, r string) string { return fmt.Sprintf("/api/v1/tokens/%d", fx.spareToken[r]) }, need: signedIn, ok: ok204},
		"GET /api/v1/committees":                                     {path: fixed("/api/v1/committees"), need: public, ok: ok200},
		"POST /api/v1/committees":                                    {path: fixed("/api/v1/committees"), body: fixed(`{"key":"gamma","name":"Gamma"}`), need: admin, ok: ok201},
		"GET /api/v1/committees/{committee}":                         {path: fixed("/api/v1/committees/alpha"), need: public, ok: ok200},
		"PUT /api/v1/committees/{committee}/members/{username}":      {path: fixed("/api/v1/committees/alpha/members/target"), body: fixed(`{"role":"member"}`), need: member, ok: ok200},
		"DELETE /api/v1/committees/{committee}/members/{username}":   {path: fixed("/api/v1/committees/alpha/members/target"), need: member, ok: ok204},
		"PUT /api/v1/committees/{committee}/incubating":              {path: fixed("/api/v1/committees/alpha/incubating"), body: fixed(`{"incubating":true}`), need: admin, ok: ok200},
		"GET /api/v1/projects":                                       {path: fixed("/api/v1/projects"), need: public, ok: ok200},
		"POST /api/v1/projects":                                      {path: fixed("/api/v1/projects"), body: fixed(`{"key":"alpha-two","committee":"alpha","name":"Two"}`), need: member, ok: ok201},
		"GET /api/v1/projects/{project}":                             {path: fixed("/api/v1/projects/alpha-lib"), need: public, ok: ok200},
		"GET /api/v1/projects/{project}/releases":                    {path: fixed("/api/v1/projects/alpha-lib/releases"), need: public, ok: ok200},
		"POST /api/v1/projects/{project}/releases":                   {path: fixed("/api/v1/projects/alpha-lib/releases"), body: fixed(`{"version":"9.0"}`), need: member, ok: ok201, except: ci(ok201)},
		"GET /api/v1/projects/{project}/releases/{version}":          {path: fixed(r1), need: participant, ok: ok200, except: ci(ok200)},
		"POST /api/v1/projects/{project}/releases/{version}/uploads": {path: fixed(r1 + "/uploads"), body: fixed("more content"), need: participant, ok: ok201, except: ci(ok201)},
		"POST /api/v1/projects/{project}/releases/{version}/revisions": {path: fixed(r1 + "/revisions"),
			body: func(fx *matrixIDs, _ string) string {
				return `{"changes":[{"op":"put","path":"copy.txt","sha256":"` + fx.sha + `"}]}`
			}, need: participant, ok: ok201, except: ci(ok201)},
		"POST /api/v1/projects/{project}/releases/{version}/upload-sessions": {path: fixed(r1 + "/upload-sessions"), body: fixed(`{"path":"big.bin","size":100}`),
			need: participant, ok: ok201, except: ci(ok201)},
		"GET /api/v1/projects/{project}/releases/{version}/upload-sessions": {path: fixed(r1 + "/upload-sessions"), need: participant, ok: ok200, except: ci(ok200)},
		// Only the session's creator ("committer") finds it.
		"GET /api/v1/projects/{project}/releases/{version}/upload-sessions/{id}": {path: func(fx *matrixIDs, _ string) string { return r1 + "/upload-sessions/" + fx.upSession },
			need: participant, ok: notFound, except: map[string]outcome{"committer": ok200, "ci": notFound}},
		"PUT /api/v1/projects/{project}/releases/{version}/upload-sessions/{id}": {path: func(fx *matrixIDs, _ string) string {
			return r1 + "/upload-sessions/" + fx.upSession + "?offset=0"
		}, body: fixed("abcde"), need: participant, ok: notFound, except: map[string]outcome{"committer": ok200, "ci": notFound}},
		"POST /api/v1/projects/{project}/releases/{version}/upload-sessions/{id}/complete": {path: func(fx *matrixIDs, _ string) string {
			return r1 + "/upload-sessions/" + fx.fullSession + "/complete"
		}, need: participant, ok: notFound, except: map[string]outcome{"committer": ok201, "ci": notFound}},
		"DELETE /api/v1/projects/{project}/releases/{version}/upload-sessions/{id}": {path: func(fx *matrixIDs, _ string) string { return r1 + "/upload-sessions/" + fx.upSession },
			need: participant, ok: notFound, except: map[string]outcome{"committer": ok204, "ci": notFound}},
		"GET /api/v1/me/upload-sessions":                                                       {path: fixed("/api/v1/me/upload-sessions"), need: signedIn, ok: ok200},
		"GET /api/v1/projects/{project}/releases/{version}/revisions":                          {path: fixed(r1 + "/revisions"), need: participant, ok: ok200, except: ci(ok200)},
		"GET /api/v1/projects/{project}/releases/{version}/revisions/{number}":                 {path: fixed(r1 + "/revisions/1"), need: participant, ok: ok200, except: ci(ok200)},
		"GET /api/v1/projects/{project}/releases/{version}/revisions/{number}/files/{path...}": {path: fixed(r1 + "/revisions/1/files/a.txt"), need: participant, ok: ok200, except: ci(ok200)},
		"GET /api/v1/projects/{project}/releases/{version}/revisions/{number}/checks":          {path: fixed(r1 + "/revisions/latest/checks"), need: participant, ok: ok200, except: ci(ok200)},
		"POST /api/v1/projects/{project}/releases/{version}/revisions/{number}/checks":         {path: fixed(r1 + "/revisions/latest/checks"), need: participant, ok: outcome{202, ""}, except: ci(outcome{202, ""})},
		"POST /api/v1/projects/{project}/releases/{version}/keys-import":                       {path: fixed(r1 + "/keys-import"), body: fixed(`{"path":"KEYS"}`), need: participant | member, ok: ok200},

		"POST /api/v1/keys": {path: fixed("/api/v1/keys"), body: func(fx *matrixIDs, _ string) string {
			k, _ := json.Marshal(map[string]any{"keys": fx.spareKey})
			return string(k)
		}, need: signedIn, ok: ok200},
		"GET /api/v1/keys":                        {path: fixed("/api/v1/keys?committee=alpha"), need: public, ok: ok200},
		"GET /api/v1/keys/{fingerprint}":          {path: func(fx *matrixIDs, _ string) string { return "/api/v1/keys/" + fx.memberKey }, need: public, ok: ok200},
		"DELETE /api/v1/keys/{fingerprint}":       {path: func(fx *matrixIDs, _ string) string { return "/api/v1/keys/" + fx.memberKey }, need: member, ok: ok204}, // the owner ("member") or an administrator
		"POST /api/v1/keys/{fingerprint}/restore": {path: func(fx *matrixIDs, _ string) string { return "/api/v1/keys/" + fx.deletedKey + "/restore" }, need: admin, ok: ok200},
		"POST /api/v1/keys/{fingerprint}/challenge": {path: func(fx *matrixIDs, _ string) string { return "/api/v1/keys/" + fx.memberKey + "/challenge" }, need: signedIn, ok: conflict,
			// Only the owner may prove a key; for everyone else it is another user's.
			except: map[string]outcome{"member": ok200}},
		"POST /api/v1/keys/{fingerprint}/proof": {path: func(fx *matrixIDs, _ string) string { return "/api/v1/keys/" + fx.memberKey + "/proof" },
			body: fixed(`{"signature":"not a signature"}`), need: signedIn, ok: conflict,
			except: map[string]outcome{"member": notFound}}, // no open challenge
		"POST /api/v1/committees/{committee}/keys": {path: fixed("/api/v1/committees/alpha/keys"), body: func(fx *matrixIDs, _ string) string {
			k, _ := json.Marshal(map[string]any{"keys": fx.spareKey})
			return string(k)
		}, need: member, ok: ok200},
		"GET /api/v1/committees/{committee}/KEYS": {path: fixed("/api/v1/committees/alpha/KEYS"), need: public, ok: ok200},

		"GET /api/v1/projects/{project}/policy":         {path: fixed("/api/v1/projects/alpha-lib/policy"), need: public, ok: ok200},
		"PUT /api/v1/projects/{project}/policy":         {path: fixed("/api/v1/projects/alpha-lib/policy"), body: fixed(policyJSON(1)), need: member, ok: ok200},
		"GET /api/v1/projects/{project}/policy/history": {path: fixed("/api/v1/projects/alpha-lib/policy/history"), need: public, ok: ok200},

		"GET /api/v1/projects/{project}/releases/{version}/managers":               {path: fixed(r1 + "/managers"), need: participant, ok: ok200, except: ci(ok200)},
		"POST /api/v1/projects/{project}/releases/{version}/managers":              {path: fixed(r1 + "/managers"), body: fixed(`{"username":"committer"}`), need: member, ok: ok204},
		"DELETE /api/v1/projects/{project}/releases/{version}/managers/{username}": {path: fixed(r1 + "/managers/rm"), need: member, ok: ok204},
		"POST /api/v1/projects/{project}/releases/{version}/acks": {path: fixed(r1 + "/acks"), body: fixed(`{"checker":"paths","path":"nothing.txt","comment":"fine"}`),
			need: participant | rm, ok: notFound},
		// Release managers pass; the draft\'s KEYS file then blocks the vote.
		"POST /api/v1/projects/{project}/releases/{version}/vote":         {path: fixed(r1 + "/vote"), need: participant | rm, ok: conflict, except: ci(conflict)},
		"GET /api/v1/projects/{project}/releases/{version}/vote":          {path: fixed(r2 + "/vote"), need: public, ok: ok200},
		"GET /api/v1/projects/{project}/releases/{version}/vote/history":  {path: fixed(r2 + "/vote/history"), need: public, ok: ok200},
		"POST /api/v1/projects/{project}/releases/{version}/vote/votes":   {path: fixed(r2 + "/vote/votes"), body: fixed(`{"value":1}`), need: signedIn, ok: ok200},
		"POST /api/v1/projects/{project}/releases/{version}/vote/resolve": {path: fixed(r2 + "/vote/resolve"), need: participant | rm, ok: ok200},
		"POST /api/v1/projects/{project}/releases/{version}/vote/cancel":  {path: fixed(r2 + "/vote/cancel"), body: fixed(`{"reason":"test"}`), need: participant | rm, ok: ok204},
		"POST /api/v1/projects/{project}/releases/{version}/publish":      {path: fixed(r3 + "/publish"), need: participant | rm, ok: ok200, except: ci(ok200)},

		"GET /api/v1/oidc/audience": {path: fixed("/api/v1/oidc/audience"), need: public, ok: ok200},
		"POST /api/v1/oidc/exchange": {path: fixed("/api/v1/oidc/exchange"), body: func(fx *matrixIDs, _ string) string { return `{"token":"` + fx.idToken + `"}` },
			need: public, ok: ok200},
		"GET /api/v1/oidc/issuers":                  {path: fixed("/api/v1/oidc/issuers"), need: public, ok: ok200},
		"POST /api/v1/oidc/issuers":                 {path: fixed("/api/v1/oidc/issuers"), body: fixed(`{"url":"https://ci.example","kind":"github"}`), need: admin, ok: ok201},
		"DELETE /api/v1/oidc/issuers":               {path: fixed("/api/v1/oidc/issuers?url=https%3A%2F%2Fgitlab.com"), need: admin, ok: ok204},
		"GET /api/v1/projects/{project}/publishers": {path: fixed("/api/v1/projects/alpha-lib/publishers"), need: public, ok: ok200},
		"POST /api/v1/projects/{project}/publishers": {path: fixed("/api/v1/projects/alpha-lib/publishers"), body: func(fx *matrixIDs, _ string) string {
			return `{"issuer":"` + fx.issuer + `","repository":"alpha/lib","workflow":".github/workflows/other.yml","actions":["compose"]}`
		}, need: member, ok: ok201},
		"DELETE /api/v1/projects/{project}/publishers/{id}": {path: func(fx *matrixIDs, _ string) string {
			return fmt.Sprintf("/api/v1/projects/alpha-lib/publishers/%d", fx.publisherID)
		}, need: member, ok: ok204},
		"GET /api/v1/projects/{project}/releases/{version}/workflow-runs": {path: fixed(r1 + "/workflow-runs"), need: participant, ok: ok200, except: ci(ok200)},

		"GET /api/v1/mail":                                               {path: fixed("/api/v1/mail"), need: public, ok: ok200},
		"POST /api/v1/notices/dismiss-all":                               {path: fixed("/api/v1/notices/dismiss-all"), need: signedIn, ok: ok200},
		"GET /api/v1/projects/{project}/releases/{version}/mail":         {path: fixed(r1 + "/mail"), need: participant, ok: ok200},
		"GET /api/v1/projects/{project}/releases/{version}/mail/{topic}": {path: fixed(r1 + "/mail/vote"), need: participant, ok: ok200},
		"POST /api/v1/projects/{project}/releases/{version}/yank":        {path: fixed(r4 + "/yank"), body: fixed(`{"reason":"broken build"}`), need: participant | rm, ok: ok200},
		"POST /api/v1/projects/{project}/releases/{version}/unyank":      {path: fixed(r5 + "/unyank"), need: participant | rm, ok: ok200},
		"POST /api/v1/projects/{project}/releases/{version}/archive":     {path: fixed(r4 + "/archive"), need: participant | rm, ok: ok200},
		"GET /api/v1/projects/{project}/feed":                            {path: fixed("/api/v1/projects/alpha-lib/feed"), need: public, ok: ok200},
		"GET /api/v1/projects/{project}/webhooks":                        {path: fixed("/api/v1/projects/alpha-lib/webhooks"), need: member, ok: ok200},
		"POST /api/v1/projects/{project}/webhooks": {path: fixed("/api/v1/projects/alpha-lib/webhooks"), body: fixed(`{"url":"https://ci.example.org/hooks/trel"}`),
			need: member, ok: ok201},
		"DELETE /api/v1/projects/{project}/webhooks/{id}": {path: func(fx *matrixIDs, _ string) string {
			return fmt.Sprintf("/api/v1/projects/alpha-lib/webhooks/%d", fx.webhookID)
		}, need: member, ok: ok204},
		"GET /api/v1/projects/{project}/webhooks/deliveries": {path: fixed("/api/v1/projects/alpha-lib/webhooks/deliveries"), need: member, ok: ok200},

		"GET /api/v1/signing-keys":          {path: fixed("/api/v1/signing-keys"), need: signedIn, ok: ok200},
		"GET /api/v1/signing-keys/sigstore": {path: fixed("/api/v1/signing-keys/sigstore"), need: signedIn, ok: ok200},
		"POST /api/v1/signing-keys":         {path: fixed("/api/v1/signing-keys"), body: fixed(`{"password":"a long enough signing password"}`), need: signedIn, ok: ok201},
		"POST /api/v1/signing-keys/{fingerprint}/password": {path: func(fx *matrixIDs, _ string) string { return "/api/v1/signing-keys/" + fx.serverKey + "/password" },
			body: fixed(`{"old_password":"the rm's signing password","new_password":"another signing password"}`), need: signedIn, ok: outcome{403, "forbidden"},
			except: map[string]outcome{"rm": ok204}}, // only the key's holder
		"POST /api/v1/signing-keys/{fingerprint}/revoke": {path: func(fx *matrixIDs, _ string) string { return "/api/v1/signing-keys/" + fx.serverKey + "/revoke" },
			body: fixed(`{"password":"the rm's signing password","reason":"retired"}`), need: signedIn, ok: outcome{403, "forbidden"},
			except: map[string]outcome{"rm": ok204}},
		"POST /api/v1/signing-keys/{fingerprint}/retire": {path: func(fx *matrixIDs, _ string) string { return "/api/v1/signing-keys/" + fx.serverKey + "/retire" },
			need: signedIn, ok: outcome{403, "forbidden"}, except: map[string]outcome{"rm": ok204}},
		"GET /api/v1/signing-keys/{fingerprint}/events": {path: func(fx *matrixIDs, _ string) string { return "/api/v1/signing-keys/" + fx.serverKey + "/events" },
			need: signedIn, ok: outcome{403, "forbidden"}, except: map[string]outcome{"rm": ok200}},
		"POST /api/v1/signing/requests": {path: fixed("/api/v1/signing/requests"), body: func(fx *matrixIDs, _ string) string {
			return `{"project":"alpha-lib","version":"1.0","key":"` + fx.serverKey + `","paths":["a.txt"]}`
		}, need: signedIn, ok: outcome{403, "forbidden"},
			// rm holds the key and manages the release; having no passkey, they are asked to add one.
			except: map[string]outcome{"rm": conflict}},
		"POST /api/v1/signing/requests/{id}/complete": {path: fixed("/api/v1/signing/requests/999/complete"),
			body: fixed(`{"ceremony":"nope","assertion":{},"password":"x"}`), need: signedIn, ok: notFound}, // no such request (looked up before the ceremony, which stays unspent)
		"POST /api/v1/users/{username}/enrollment": {path: fixed("/api/v1/users/outsider/enrollment"), need: admin, ok: ok201},

		"GET /api/v1/projects/{project}/sigstore/identities": {path: fixed(sg + "/identities"), need: public, ok: ok200},
		"POST /api/v1/projects/{project}/sigstore/identities": {path: fixed(sg + "/identities"),
			body: fixed(`{"issuer":"https://github.com/login/oauth","subject":"rm@example.org"}`), need: member, ok: ok201},
		"DELETE /api/v1/projects/{project}/sigstore/identities/{id}": {path: func(fx *matrixIDs, _ string) string { return fmt.Sprintf(sg+"/identities/%d", fx.identityID) }, need: member, ok: ok204},
		"GET /api/v1/projects/{project}/sigstore/keys":               {path: fixed(sg + "/keys"), need: public, ok: ok200},
		"POST /api/v1/projects/{project}/sigstore/keys": {path: fixed(sg + "/keys"), body: func(fx *matrixIDs, _ string) string {
			b, _ := json.Marshal(map[string]string{"name": "release-key", "pem": fx.pem})
			return string(b)
		}, need: member, ok: ok201},
		"DELETE /api/v1/projects/{project}/sigstore/keys/{id}": {path: func(fx *matrixIDs, _ string) string { return fmt.Sprintf(sg+"/keys/%d", fx.sigKeyID) }, need: member, ok: ok204},
		"GET /api/v1/me/sigstore/identities":                   {path: fixed("/api/v1/me/sigstore/identities"), need: signedIn, ok: ok200},
		"POST /api/v1/me/sigstore/identities":                  {path: fixed("/api/v1/me/sigstore/identities"), body: fixed(`{"issuer":"https://accounts.google.com"}`), need: signedIn, ok: ok201},
		"DELETE /api/v1/me/sigstore/identities/{id}": {path: func(fx *matrixIDs, r string) string {
			return fmt.Sprintf("/api/v1/me/sigstore/identities/%d", fx.personal[r])
		}, need: signedIn, ok: ok204},
	}
}

func policyJSON(minBinding int) string {
	p := domain.DefaultPolicy()
	p.MinVoteHours, p.MinBindingPlusOnes = 0, minBinding
	p.Ignore = []domain.IgnoreRule{{Checker: "paths", Reason: "the fixture's files are plain text"}}
	b, _ := json.Marshal(p)
	return string(b)
}

// buildMatrixTemplate makes the data directory every case starts from.
func buildMatrixTemplate(t *testing.T) (string, *matrixIDs) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	app, err := server.Open(ctx, dir, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	svc, sys := app.Core, core.SystemActor
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	fx := &matrixIDs{tokens: map[string]string{}, spareToken: map[string]int64{}, personal: map[string]int64{}}
	master, err := signing.NewMasterKey()
	must(err)
	fx.masterKey = filepath.Join(t.TempDir(), "master.key")
	must(signing.WriteMasterKeyFile(fx.masterKey, master))
	closeLog, err := server.EnableSigning(ctx, app, fx.masterKey, "")
	must(err)
	defer closeLog()

	_, err = svc.Bootstrap(ctx, "admin", "admin@example.org")
	must(err)
	actors := map[string]*core.Actor{}
	for _, r := range roles {
		if r.name == "anonymous" || r.workload {
			continue
		}
		u, err := app.Store.UserByUsername(ctx, r.name)
		if err != nil {
			u, err = svc.CreateUser(ctx, sys, core.NewUser{Username: r.name, Email: r.name + "@example.org"})
			must(err)
		}
		actors[r.name] = &core.Actor{User: u}
		secret, _, err := svc.CreateToken(ctx, sys, r.name, "matrix", core.DefaultTokenTTL)
		must(err)
		fx.tokens[r.name] = secret
		_, spare, err := svc.CreateToken(ctx, sys, r.name, "spare", core.DefaultTokenTTL)
		must(err)
		fx.spareToken[r.name] = spare.ID
		id, err := svc.AddPersonalIdentity(ctx, actors[r.name], "https://github.com/login/oauth", "")
		must(err)
		fx.personal[r.name] = id.ID
	}
	_, err = svc.CreateUser(ctx, sys, core.NewUser{Username: "target", Email: "target@example.org"})
	must(err)
	_, err = svc.CreateCommittee(ctx, sys, "alpha", "Alpha")
	must(err)
	for name, role := range map[string]domain.Role{"member": domain.RoleMember, "revoked-token": domain.RoleMember, "suspended": domain.RoleMember,
		"committer": domain.RoleCommitter, "rm": domain.RoleCommitter, "removed-rm": domain.RoleCommitter, "target": domain.RoleCommitter} {
		_, err = svc.AddMember(ctx, sys, "alpha", name, role)
		must(err)
	}
	_, err = svc.CreateProject(ctx, sys, "alpha-lib", "alpha", "Alpha Lib")
	must(err)
	var pol domain.Policy
	must(json.Unmarshal([]byte(policyJSON(1)), &pol))
	_, err = svc.SetPolicy(ctx, actors["member"], "alpha-lib", pol)
	must(err)

	// Trusted publishing: an issuer on loopback (it serves the whole
	// test), alpha-lib's publisher with every action, its credential, and
	// an ID token nobody exchanged yet (each copy of the template takes it
	// once).
	is := oidctest.New(t)
	svc.SetTrustedPublishing(core.TrustedPublishing{Registry: oidc.NewRegistry(oidc.Options{}), Audience: server.DefaultPublicURL})
	fx.issuer = is.URL
	_, err = svc.AddOIDCIssuer(ctx, sys, domain.OIDCIssuer{URL: is.URL, Kind: domain.IssuerGitHub})
	must(err)
	pub, err := svc.AddPublisher(ctx, actors["member"], "alpha-lib", domain.TrustedPublisher{Issuer: is.URL, Repository: "alpha/lib",
		Workflow: ".github/workflows/release.yml", Actions: domain.AllActions})
	must(err)
	fx.publisherID = pub.ID
	run := oidctest.GitHubRun{Repository: "alpha/lib", Workflow: ".github/workflows/release.yml", Ref: "refs/tags/v1"}
	ex, err := svc.ExchangeIDToken(ctx, core.Anonymous, is.Mint(run.Claims(server.DefaultPublicURL)), "")
	must(err)
	fx.tokens["ci"] = ex.Token
	claims := run.Claims(server.DefaultPublicURL)
	claims["exp"] = time.Now().Add(time.Hour).Unix()
	fx.idToken, err = is.MintWith(oidctest.MintOptions{Claims: claims})
	must(err)

	// Keys: member's proven key, a deleted one, a spare one, and a key
	// held by trel for rm.
	m := actors["member"]
	memberGen := newProvenKey(t, svc, m)
	fx.memberKey = memberGen.Fingerprint
	fx.deletedKey = newProvenKey(t, svc, m).Fingerprint
	must(svc.DeleteKey(ctx, m, fx.deletedKey))
	spare, err := signing.Generate(signing.GenerateOptions{Name: "Spare", Email: "spare@example.org"})
	must(err)
	fx.spareKey = string(spare.PublicKey)
	k, err := svc.CreateServerKey(ctx, actors["rm"], core.NewServerKey{Password: "the rm's signing password"})
	must(err)
	fx.serverKey = k.Fingerprint

	id, err := svc.AddSigstoreIdentity(ctx, m, "alpha-lib", domain.SigstoreIdentity{Issuer: "https://github.com/login/oauth", Subject: "member@example.org"})
	must(err)
	fx.identityID = id.ID
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	der, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	must(err)
	fx.pem = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	ec2, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	der2, err := x509.MarshalPKIXPublicKey(&ec2.PublicKey)
	must(err)
	sk, err := svc.AddSigstoreKey(ctx, m, "alpha-lib", "ci", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der2}))
	must(err)
	fx.sigKeyID = sk.ID

	// Releases 1.0 (draft), 2.0 (candidate) and 3.0 (preview), each with
	// member, rm and removed-rm as release managers and checked files.
	engine := checks.NewEngine(app.Store, app.Blobs, sigstore.DefaultVerifier())
	for _, v := range []string{"1.0", "2.0", "3.0", "4.0", "5.0"} {
		_, err = svc.StartRelease(ctx, m, "alpha-lib", v)
		must(err)
		for _, who := range []string{"rm", "removed-rm"} {
			must(svc.AddReleaseManager(ctx, m, "alpha-lib", v, who))
		}
		var changes []core.Change
		// a.txt is a signed artifact with its checksum: a release needs
		// one to go to vote.
		content := "content of " + v
		sigs, err := signing.Sign(memberGen.Secret, []signing.FileToSign{{Path: "a.txt", Reader: strings.NewReader(content)}})
		must(err)
		sum := sha512.Sum512([]byte(content))
		files := map[string]string{"a.txt": content, "a.txt.asc": string(sigs[0].Armored), "a.txt.sha512": hex.EncodeToString(sum[:]) + "  a.txt\n"}
		if v == "1.0" {
			files["KEYS"] = fx.spareKey // for keys-import; a blocker elsewhere
		}
		for path, content := range files {
			b, err := svc.UploadFile(ctx, m, "alpha-lib", v, strings.NewReader(content), -1)
			must(err)
			changes = append(changes, core.Change{Op: "put", Path: path, SHA256: b.SHA256})
			if v == "1.0" && path == "a.txt" {
				fx.sha = b.SHA256
			}
		}
		_, err = svc.CreateRevision(ctx, m, "alpha-lib", v, core.RevisionRequest{Changes: changes})
		must(err)
	}
	runQueued := func() {
		runs, err := app.Store.QueuedRuns(ctx)
		must(err)
		for _, rev := range runs {
			run, err := app.Store.CheckRun(ctx, rev)
			must(err)
			_, err = engine.Run(ctx, rev, run.Generation)
			must(err)
		}
	}
	runQueued()
	for _, v := range []string{"2.0", "3.0", "4.0", "5.0"} {
		_, err = svc.StartVote(ctx, m, "alpha-lib", v)
		must(err)
	}
	for _, v := range []string{"3.0", "4.0", "5.0"} {
		_, err = svc.CastVote(ctx, m, "alpha-lib", v, 1, "")
		must(err)
		_, err = svc.ResolveVote(ctx, m, "alpha-lib", v)
		must(err)
	}
	// 4.0 and 5.0 are published, 5.0 yanked; alpha-lib has a webhook.
	for _, v := range []string{"4.0", "5.0"} {
		_, err = svc.Publish(ctx, m, "alpha-lib", v)
		must(err)
	}
	_, err = svc.YankRelease(ctx, m, "alpha-lib", "5.0", "a broken build")
	must(err)
	hook, err := svc.AddWebhook(ctx, m, "alpha-lib", core.NewWebhook{URL: "https://ci.example.org/hooks/alpha"})
	must(err)
	fx.webhookID = hook.Webhook.ID
	committer, err := app.Store.UserByUsername(ctx, "committer")
	must(err)
	ca := &core.Actor{User: committer}
	for _, full := range []bool{false, true} {
		us, err := svc.StartUploadSession(ctx, ca, "alpha-lib", "1.0", core.NewUploadSession{Path: "big.bin", Size: 5})
		must(err)
		if !full {
			fx.upSession = us.ID
			continue
		}
		fx.fullSession = us.ID
		up, err := svc.PrepareUpload(ctx, ca, "alpha-lib", "1.0")
		must(err)
		_, err = up.PutChunk(ctx, us.ID, 0, strings.NewReader("fives"), 5)
		up.Done()
		must(err)
	}
	// The removed release manager leaves the committee; the revoked token
	// is revoked.
	must(svc.RemoveMember(ctx, sys, "alpha", "removed-rm"))
	runQueued() // the removal re-checks the open releases
	revoked, _, err := svc.Authenticate(ctx, fx.tokens["revoked-token"])
	must(err)
	must(svc.SuspendUser(ctx, sys, "suspended"))

	// Incident response: what an administrator may end for "target", and
	// a notice for everyone to dismiss.
	target, err := app.Store.UserByUsername(ctx, "target")
	must(err)
	_, tt, err := svc.CreateToken(ctx, sys, "target", "incident", core.DefaultTokenTTL)
	must(err)
	fx.targetToken = tt.ID
	pk := &store.Passkey{UserID: target.ID, Name: "laptop", CredentialID: []byte("matrix-credential"), Credential: []byte(`{}`), CreatedAt: time.Now()}
	must(app.Store.AddPasskey(ctx, pk, 0, time.Now(), domain.AuditEvent{Time: time.Now(), Actor: "system", Action: "passkey.add", Target: "user:target"}))
	fx.targetPasskey = pk.ID
	sess := &store.WebSession{Hash: []byte("matrix-session-hash-0123456789abc"), UserID: target.ID, CreatedAt: time.Now(), LastSeenAt: time.Now(), ClientIP: "127.0.0.1"}
	must(app.Store.CreateSession(ctx, sess, domain.AuditEvent{Time: time.Now(), Actor: "target", Action: "session.create", Target: "user:target"}))
	fx.targetSession = sess.ID
	fx.notice = map[string]int64{}
	for _, r := range roles {
		if r.name == "anonymous" || r.workload {
			continue
		}
		u, err := app.Store.UserByUsername(ctx, r.name)
		must(err)
		must(app.Store.Tx(ctx, func(tx store.Tx) error { return tx.AddNotice(ctx, u.ID, "matrix notice", time.Now()) }))
		ns, err := app.Store.Notices(ctx, u.ID)
		must(err)
		for _, n := range ns {
			if n.Message == "matrix notice" {
				fx.notice[r.name] = n.ID
			}
		}
	}
	tokens, err := svc.ListTokens(ctx, &core.Actor{User: revoked})
	must(err)
	for _, tk := range tokens {
		if tk.Label == "matrix" {
			must(svc.RevokeToken(ctx, &core.Actor{User: revoked}, tk.ID))
		}
	}
	return dir, fx
}

func newProvenKey(t *testing.T, svc *core.Service, a *core.Actor) *signing.Generated {
	t.Helper()
	ctx := context.Background()
	g, err := signing.Generate(signing.GenerateOptions{Name: a.User.Username, Email: a.User.Email})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddKeys(ctx, a, g.PublicKey, core.AddKeysOptions{Committees: []string{"alpha"}}); err != nil {
		t.Fatal(err)
	}
	text, err := svc.KeyChallenge(ctx, a, g.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := signing.Sign(g.Secret, []signing.FileToSign{{Path: "c", Reader: strings.NewReader(text)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ProveKey(ctx, a, g.Fingerprint, sigs[0].Armored); err != nil {
		t.Fatal(err)
	}
	return g
}

// matrixServer serves a copy of the template over loopback HTTP.
func matrixServer(t *testing.T, template string, fx *matrixIDs) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	if err := copyDir(template, dir); err != nil {
		t.Fatal(err)
	}
	app, err := server.Open(ctx, dir, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	closeLog, err := server.EnableSigning(ctx, app, fx.masterKey, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.Handler(app, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(func() {
		srv.Close()
		closeLog()
		app.Close()
	})
	return srv
}

// copyDir copies a data directory, keeping each file's mode (the server
// refuses a log key readable by others).
func copyDir(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(dst, info.Mode().Perm())
		}
		if !info.Mode().IsRegular() {
			return nil // sockets, locks
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, info.Mode().Perm())
	})
}

func call(t *testing.T, srv *httptest.Server, token, method, path, body string) (outcome, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e api.ErrorBody
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("%s %s: %d without the error shape: %.200s", method, path, resp.StatusCode, raw)
		}
	}
	return outcome{resp.StatusCode, e.Error.Code}, e.Error.Message
}

// TestAuthorizationMatrix: every route of the API table by every role.
// Reads share one server; each write runs on its own copy of the
// template, so that one role's success cannot change another's answer.
func TestAuthorizationMatrix(t *testing.T) {
	template, fx := buildMatrixTemplate(t)
	table := ops()
	var missing []string
	seen := map[string]bool{}
	for _, r := range api.Routes() {
		key := r.Method + " " + r.Pattern
		seen[key] = true
		if _, ok := table[key]; !ok {
			missing = append(missing, key)
		}
	}
	for key := range table {
		if !seen[key] {
			missing = append(missing, key+" (in the matrix but not a route)")
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Fatalf("the matrix does not match the route table; add a row for each:\n%s", strings.Join(missing, "\n"))
	}
	shared := matrixServer(t, template, fx)
	var failures []string
	calls := 0
	for _, r := range api.Routes() {
		key := r.Method + " " + r.Pattern
		o := table[key]
		for _, rl := range roles {
			srv := shared
			want := o.expect(rl)
			if r.Method != "GET" && want.status < 400 {
				srv = matrixServer(t, template, fx) // an allowed write
			}
			body := ""
			if o.body != nil {
				body = o.body(fx, rl.name)
			}
			got, msg := call(t, srv, fx.tokens[rl.name], r.Method, o.path(fx, rl.name), body)
			calls++
			if got != want {
				failures = append(failures, fmt.Sprintf("%-75s %-14s got %-22s want %s (%.150s)", key, rl.name, got, want, msg))
			}
		}
	}
	if len(failures) > 0 {
		t.Fatalf("%d of %d calls answered otherwise:\n%s", len(failures), calls, strings.Join(failures, "\n"))
	}
	t.Logf("%d routes x %d roles = %d calls, all as expected", len(table), len(roles), calls)
}
