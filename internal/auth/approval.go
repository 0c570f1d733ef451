package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"trel/internal/core"
	"trel/internal/domain"
)

// BeginApproval starts a WebAuthn assertion whose challenge is the given
// value (for server-side signing: a hash committing to exactly the files
// to sign). Only the actor's own passkeys may answer, with user
// verification.
func (a *Auth) BeginApproval(ctx context.Context, act *core.Actor, challenge []byte) (Options, string, error) {
	if act.User == nil {
		return nil, "", domain.Errorf(domain.KindUnauthenticated, "sign in first")
	}
	w, err := a.loadUser(ctx, act.User)
	if err != nil {
		return nil, "", err
	}
	if len(w.creds) == 0 {
		return nil, "", domain.Errorf(domain.KindConflict, "you have no passkey yet: add one on your account page before signing with a key held by trel")
	}
	assertion, session, err := a.wa.BeginLogin(w,
		webauthn.WithUserVerification(protocol.VerificationRequired), webauthn.WithChallenge(challenge))
	if err != nil {
		return nil, "", domain.Internal("starting the approval", err)
	}
	id, err := a.putCeremony(ctx, "approval", act.User.ID, 0, "", session)
	if err != nil {
		return nil, "", err
	}
	opts, err := json.Marshal(assertion.Response)
	if err != nil {
		return nil, "", domain.Internal("encoding passkey options", err)
	}
	return opts, id, nil
}

// FinishApproval verifies the assertion of an approval ceremony (single
// use, user verification required, the actor's own passkey) and returns
// what the signing audit records.
func (a *Auth) FinishApproval(ctx context.Context, act *core.Actor, ceremonyID string, body []byte) (*core.Approval, error) {
	c, sd, err := a.takeCeremony(ctx, ceremonyID, "approval")
	if err != nil {
		return nil, err
	}
	if act.User == nil || c.UserID != act.User.ID {
		return nil, domain.Errorf(domain.KindForbidden, "this approval was started by another user")
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, refused("The approval", err)
	}
	w, err := a.loadUser(ctx, act.User)
	if err != nil {
		return nil, err
	}
	cred, err := a.wa.ValidateLogin(w, sd, parsed)
	if err != nil {
		return nil, refused("The approval", err)
	}
	if cred.Authenticator.CloneWarning {
		return nil, clonedPasskey("The approval")
	}
	flags := parsed.Response.AuthenticatorData.Flags
	if !flags.UserVerified() {
		return nil, domain.Errorf(domain.KindUnauthenticated, "The approval was refused: your authenticator did not verify you (PIN, fingerprint or face), and trel requires it.")
	}
	var name string
	var id int64
	for _, k := range w.keys {
		if bytes.Equal(k.CredentialID, cred.ID) {
			name, id = k.Name, k.ID
		}
	}
	if id == 0 {
		return nil, domain.Internal("approving", errors.New("verified credential not among the user's passkeys"))
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return nil, domain.Internal("encoding the passkey", err)
	}
	if err := a.st.UpdatePasskeyUse(ctx, id, cred.Authenticator.SignCount, cred.Flags.BackupState, data, a.cfg.Now()); err != nil {
		if domain.IsKind(err, domain.KindConflict) {
			return nil, clonedPasskey("The approval")
		}
		return nil, err
	}
	// The library keeps the challenge base64url-encoded.
	challenge, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(sd.Challenge, "="))
	if err != nil {
		return nil, domain.Internal("reading the approval challenge", err)
	}
	return &core.Approval{
		Challenge:    challenge,
		CredentialID: cred.ID,
		Passkey:      name,
		AAGUID:       cred.Authenticator.AAGUID,
		Flags:        byte(flags),
		SignCount:    cred.Authenticator.SignCount,
		Raw:          append([]byte(nil), body...),
	}, nil
}
