// Package softauthn is a software WebAuthn authenticator for tests that
// exercise passkey approvals through the API, without a browser: it holds
// a P-256 key, and signs assertions exactly as a platform authenticator
// would (authenticator data || SHA-256(client data JSON)). Browser tests
// use Chromium's virtual authenticator instead.
package softauthn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
)

// Authenticator is one passkey.
type Authenticator struct {
	Key        *ecdsa.PrivateKey
	CredID     []byte
	UserHandle []byte
	AAGUID     []byte
	Count      uint32
	Origin     string // e.g. http://localhost:8080
	RPID       string // e.g. localhost
}

// New makes a passkey for the relying party.
func New(origin, rpID string, userHandle []byte) (*Authenticator, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 16)
	aaguid := make([]byte, 16)
	rand.Read(id)
	rand.Read(aaguid)
	return &Authenticator{Key: k, CredID: id, UserHandle: userHandle, AAGUID: aaguid, Origin: origin, RPID: rpID}, nil
}

// Credential is the record the relying party stores for this passkey.
func (a *Authenticator) Credential() (webauthn.Credential, error) {
	pub := webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, // P-256
		XCoord:        a.Key.PublicKey.X.FillBytes(make([]byte, 32)),
		YCoord:        a.Key.PublicKey.Y.FillBytes(make([]byte, 32)),
	}
	cose, err := webauthncbor.Marshal(pub)
	if err != nil {
		return webauthn.Credential{}, err
	}
	return webauthn.Credential{
		ID: a.CredID, PublicKey: cose, AttestationType: "none",
		Flags:         webauthn.CredentialFlags{UserPresent: true, UserVerified: true},
		Authenticator: webauthn.Authenticator{AAGUID: a.AAGUID, SignCount: 0},
	}, nil
}

// Assert answers request options (the JSON of
// PublicKeyCredentialRequestOptions) like navigator.credentials.get, and
// returns the JSON of PublicKeyCredential.toJSON(). uv sets the user
// verification flag.
func (a *Authenticator) Assert(options []byte, uv bool) ([]byte, error) {
	var opts struct {
		Challenge protocol.URLEncodedBase64 `json:"challenge"`
		RPID      string                    `json:"rpId"`
	}
	var wrapped struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &wrapped); err == nil && len(wrapped.PublicKey) > 0 {
		options = wrapped.PublicKey
	}
	if err := json.Unmarshal(options, &opts); err != nil {
		return nil, fmt.Errorf("request options: %w", err)
	}
	rp := opts.RPID
	if rp == "" {
		rp = a.RPID
	}
	client, _ := json.Marshal(map[string]any{
		"type": "webauthn.get", "challenge": base64.RawURLEncoding.EncodeToString(opts.Challenge),
		"origin": a.Origin, "crossOrigin": false,
	})
	a.Count++
	rpHash := sha256.Sum256([]byte(rp))
	flags := byte(0x01) // user present
	if uv {
		flags |= 0x04
	}
	authData := append(append(rpHash[:], flags), binary.BigEndian.AppendUint32(nil, a.Count)...)
	clientHash := sha256.Sum256(client)
	digest := sha256.Sum256(append(append([]byte{}, authData...), clientHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.Key, digest[:])
	if err != nil {
		return nil, err
	}
	b := base64.RawURLEncoding.EncodeToString
	return json.Marshal(map[string]any{
		"id": b(a.CredID), "rawId": b(a.CredID), "type": "public-key", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b(client), "authenticatorData": b(authData), "signature": b(sig), "userHandle": b(a.UserHandle)},
	})
}
