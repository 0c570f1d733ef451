package openpgp

import (
	"bytes"
	"crypto"
	"crypto/sha512"
	"testing"
	"time"

	pgpv1 "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	pgpv2 "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// signWith makes a v4 binary signature over data with priv at time at.
func signWith(t *testing.T, pub *packet.PublicKey, priv *packet.PrivateKey, data []byte, at time.Time) []byte {
	t.Helper()
	sig := &packet.Signature{
		Version:           4,
		SigType:           packet.SigTypeBinary,
		PubKeyAlgo:        pub.PubKeyAlgo,
		Hash:              crypto.SHA512,
		CreationTime:      at,
		IssuerKeyId:       &pub.KeyId,
		IssuerFingerprint: pub.Fingerprint,
	}
	h := sha512.New()
	h.Write(data)
	if err := sig.Sign(h, priv, &packet.Config{Time: func() time.Time { return at }}); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := sig.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRevocationWithoutReasonTreatedAsCompromised(t *testing.T) {
	created := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return created }}
	e, err := pgpv1.NewEntity("No Reason", "", "noreason@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("signed before the revocation\n")
	sig := signWith(t, e.PrimaryKey, e.PrivateKey, data, created.AddDate(0, 5, 0))

	revokedAt := created.AddDate(2, 0, 0)
	rev := &packet.Signature{
		Version:      4,
		SigType:      packet.SigTypeKeyRevocation,
		PubKeyAlgo:   e.PrimaryKey.PubKeyAlgo,
		Hash:         crypto.SHA256,
		CreationTime: revokedAt,
		IssuerKeyId:  &e.PrimaryKey.KeyId,
	}
	if err := rev.RevokeKey(e.PrimaryKey, e.PrivateKey, &packet.Config{Time: func() time.Time { return revokedAt }}); err != nil {
		t.Fatal(err)
	}
	var keyring bytes.Buffer
	if err := e.Serialize(&keyring); err != nil {
		t.Fatal(err)
	}
	if err := rev.Serialize(&keyring); err != nil {
		t.Fatal(err)
	}
	res, err := LoadKeys(bytes.NewReader(keyring.Bytes()))
	if err != nil || len(res.Certs) != 1 {
		t.Fatalf("load: %v %+v", err, res)
	}
	rv := res.Certs[0].Revocation
	if rv == nil || rv.ReasonCode != -1 || !rv.Compromised {
		t.Fatalf("revocation %+v, want no reason code (-1) and Compromised", rv)
	}
	got := VerifyDetached(sig, res.Certs, BytesSource(data), VerifyOptions{})
	if got.Valid || got.ReasonCode != CodeKeyRevoked {
		t.Fatalf("valid=%v code=%q, want key-revoked even though the signature predates the revocation", got.Valid, got.ReasonCode)
	}
	if sqvValid(t, keyring.Bytes(), sig, data) {
		t.Error("sqv accepts it; trel and sqv should agree")
	}
	// Without the revocation the same signature is good: the revocation decided.
	var unrevoked bytes.Buffer
	if err := e.Serialize(&unrevoked); err != nil {
		t.Fatal(err)
	}
	clean, _ := LoadKeys(bytes.NewReader(unrevoked.Bytes()))
	if v := VerifyDetached(sig, clean.Certs, BytesSource(data), VerifyOptions{}); !v.Valid {
		t.Fatalf("unrevoked key: %s", v.Reason)
	}
}

func TestSignatureByNonSigningSubkeyRefused(t *testing.T) {
	w := gpgWorld(t)
	g := w.home
	fpr := g.genKey(t, "", "Auth Only <auth@example.org>", "ed25519", "cert", "never")
	g.run(t, "", "", "--quick-add-key", fpr, "ed25519", "auth", "never")
	list, err := pgpv1.ReadKeyRing(bytes.NewReader(g.run(t, "", "", "--export-secret-keys", fpr)))
	if err != nil || len(list) != 1 || len(list[0].Subkeys) != 1 {
		t.Fatalf("read gpg secret key: %v", err)
	}
	sub := list[0].Subkeys[0]
	if !sub.Sig.FlagAuthenticate || sub.Sig.FlagSign {
		t.Fatalf("subkey flags: auth=%v sign=%v", sub.Sig.FlagAuthenticate, sub.Sig.FlagSign)
	}
	data := []byte("signed with an authentication subkey\n")
	sig := signWith(t, sub.PublicKey, sub.PrivateKey, data, time.Now().Add(2*time.Second))
	pub := g.run(t, "", "", "--export", fpr)
	res, _ := LoadKeys(bytes.NewReader(pub))
	got := VerifyDetached(sig, res.Certs, BytesSource(data), VerifyOptions{})
	if got.Valid || got.ReasonCode != CodeSubkeyNotSigning || got.Signatures[0].SubkeyFingerprint == "" {
		t.Fatalf("valid=%v code=%q (%s), want subkey-not-signing", got.Valid, got.ReasonCode, got.Reason)
	}
	if sqvValid(t, pub, sig, data) {
		t.Error("sqv accepts a signature by an authentication-only subkey")
	}
}

func TestSignatureOlderThanKeyRefused(t *testing.T) {
	created := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return created }}
	e, err := pgpv1.NewEntity("Early", "", "early@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("backdated\n")
	sig := signWith(t, e.PrimaryKey, e.PrivateKey, data, created.AddDate(-1, 0, 0))
	var keyring bytes.Buffer
	if err := e.Serialize(&keyring); err != nil {
		t.Fatal(err)
	}
	res, _ := LoadKeys(bytes.NewReader(keyring.Bytes()))
	if got := VerifyDetached(sig, res.Certs, BytesSource(data), VerifyOptions{}); got.Valid || got.ReasonCode != CodeNotYetValid {
		t.Fatalf("valid=%v code=%q, want not-yet-valid", got.Valid, got.ReasonCode)
	}
}

func TestV6SaltedSignatureNeedsTheContent(t *testing.T) {
	cfg := &packet.Config{V6Keys: true, Algorithm: packet.PubKeyAlgoEd25519, DefaultHash: crypto.SHA512, Time: func() time.Time { return time.Now().Add(-time.Hour) }}
	e, err := pgpv2.NewEntity("Six", "", "six@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("v6 signed artifact\n")
	var sig bytes.Buffer
	if err := pgpv2.DetachSign(&sig, []*pgpv2.Entity{e}, bytes.NewReader(data), &packet.Config{DefaultHash: crypto.SHA512}); err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	res, err := LoadKeys(bytes.NewReader(pub.Bytes()))
	if err != nil || len(res.Certs) != 1 {
		t.Fatalf("load v6 key: %v %+v", err, res.Blocks)
	}
	if got := VerifyDetached(sig.Bytes(), res.Certs, BytesSource(data), VerifyOptions{}); !got.Valid {
		t.Fatalf("v6 signature with the content: %s", got.Reason)
	}
	state, _ := SaveHashStates(bytes.NewReader(data))
	if got := VerifyDetached(sig.Bytes(), res.Certs, state, VerifyOptions{}); got.Valid || got.ReasonCode != CodeHashUnavailable {
		t.Fatalf("v6 signature from state only: valid=%v code=%q, want hash-unavailable (the salt precedes the data)", got.Valid, got.ReasonCode)
	}
	if got := VerifyDetached(sig.Bytes(), res.Certs, BytesSource(append(data, '!')), VerifyOptions{}); got.Valid || got.ReasonCode != CodeBadSignature {
		t.Fatalf("v6 signature over other data: valid=%v code=%q", got.Valid, got.ReasonCode)
	}
}

func TestCertifyOnlyPrimaryMayNotSign(t *testing.T) {
	w := gpgWorld(t)
	list, err := pgpv1.ReadKeyRing(bytes.NewReader(w.home.run(t, "", "", "--export-secret-keys", w.fpr[wSub])))
	if err != nil || len(list) != 1 {
		t.Fatalf("read gpg secret key: %v", err)
	}
	data := []byte("signed by a certify-only primary key\n")
	sig := signWith(t, list[0].PrimaryKey, list[0].PrivateKey, data, time.Now())
	res, _ := LoadKeys(bytes.NewReader(w.pub[wSub]))
	got := VerifyDetached(sig, res.Certs, BytesSource(data), VerifyOptions{})
	if got.Valid || got.ReasonCode != CodeKeyNotSigning {
		t.Fatalf("valid=%v code=%q (%s), want key-not-signing", got.Valid, got.ReasonCode, got.Reason)
	}
	if sqvValid(t, w.pub[wSub], sig, data) {
		t.Error("sqv accepts a data signature by a certify-only primary key")
	}
}
