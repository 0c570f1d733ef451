package signing

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func TestSignFromSavedStateEqualsSignFromBytes(t *testing.T) {
	at := time.Now().UTC().Truncate(time.Second)
	data := bytes.Repeat([]byte("0123456789abcdef"), 10000) // spans many SHA-512 blocks plus a partial one
	data = append(data, "tail"...)
	for _, tc := range []struct {
		name string
		key  func(t *testing.T) *Generated
	}{
		{"EdDSA", func(t *testing.T) *Generated { return newEdDSA(t) }},
		{"RSA-4096", func(t *testing.T) *Generated { return sharedRSA(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.key(t)
			sigs, err := SignWithOptions(g.Secret, []FileToSign{
				{Path: "state", SHA512State: sha512State(t, data)},
				{Path: "reader", Reader: bytes.NewReader(data)},
			}, SignOptions{Now: fixedClock(at)})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sigs[0].Armored, sigs[1].Armored) {
				t.Fatalf("signature from the saved state differs from the one from the bytes:\n%s\n%s", sigs[0].Armored, sigs[1].Armored)
			}
			want := sha512.Sum512(data)
			for _, s := range sigs {
				if s.SHA512 != hex.EncodeToString(want[:]) || !s.Created.Equal(at) || s.Fingerprint != g.Fingerprint {
					t.Fatalf("%s: SHA512 %s created %s fpr %s", s.Path, s.SHA512, s.Created, s.Fingerprint)
				}
				if r := trelVerify(t, g.PublicKey, s.Armored, data); !r.Valid || !r.Signatures[0].Created.Equal(at) {
					t.Fatalf("%s does not verify: %+v", s.Path, r)
				}
				tampered := bytes.Clone(data)
				tampered[len(tampered)/2] ^= 1
				if r := trelVerify(t, g.PublicKey, s.Armored, tampered); r.Valid {
					t.Fatalf("%s verifies over tampered data", s.Path)
				}
			}
		})
	}
}

func TestSignatureIsV4DetachedSHA512WithIssuer(t *testing.T) {
	g := newEdDSA(t)
	sigs, err := Sign(g.Secret, []FileToSign{{Path: "f", Reader: strings.NewReader("data")}})
	if err != nil {
		t.Fatal(err)
	}
	blk, err := armor.Decode(bytes.NewReader(sigs[0].Armored))
	if err != nil {
		t.Fatal(err)
	}
	p, err := packet.Read(blk.Body)
	if err != nil {
		t.Fatal(err)
	}
	sig, ok := p.(*packet.Signature)
	if !ok {
		t.Fatalf("packet %T, want a signature", p)
	}
	if sig.Version != 4 || sig.SigType != packet.SigTypeBinary || sig.Hash.String() != "SHA-512" || sig.PubKeyAlgo != packet.PubKeyAlgoEdDSA {
		t.Fatalf("signature v%d type %d hash %s algo %d", sig.Version, sig.SigType, sig.Hash, sig.PubKeyAlgo)
	}
	if sig.IssuerKeyId == nil || hex.EncodeToString(sig.IssuerFingerprint) != strings.ToLower(g.Fingerprint) {
		t.Fatalf("issuer %v %x, want %s", sig.IssuerKeyId, sig.IssuerFingerprint, g.Fingerprint)
	}
	if len(sig.Notations) != 0 {
		t.Fatalf("unexpected notations (gpg would print them): %+v", sig.Notations)
	}
	if _, err := packet.Read(blk.Body); err == nil {
		t.Fatal("more than one packet in the signature file")
	}
}

func TestSignRefusesUnusableKeysAndUnapprovedData(t *testing.T) {
	now := time.Now().UTC()
	fresh := newEdDSA(t)
	old, err := Generate(GenerateOptions{Name: "Old Key", Email: "old@example.org", Expiry: 365 * 24 * time.Hour, Now: fixedClock(now.AddDate(-2, 0, 0))})
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := Revoke(fresh.Secret, RevokeCompromised, "", now)
	if err != nil {
		t.Fatal(err)
	}
	retired, err := Revoke(fresh.Secret, RevokeRetired, "superseded", now)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("artifact")
	sum := sha512.Sum512(data)
	other := sha512.Sum512([]byte("another artifact"))
	cases := []struct {
		name   string
		secret []byte
		at     time.Time
		file   FileToSign
		want   error
		wantIn string
	}{
		{"expired key", old.Secret, now, FileToSign{Reader: bytes.NewReader(data)}, ErrKeyExpired, ""},
		{"revoked key", revoked.Secret, now.Add(time.Minute), FileToSign{Reader: bytes.NewReader(data)}, ErrKeyRevoked, ""},
		{"retired key with a clock set before the revocation", retired.Secret, now.Add(-time.Hour), FileToSign{Reader: bytes.NewReader(data)}, ErrKeyRevoked, ""},
		{"time before the key existed", fresh.Secret, fresh.Created.Add(-time.Hour), FileToSign{Reader: bytes.NewReader(data)}, ErrKeyNotYetValid, ""},
		{"digest other than approved", fresh.Secret, now, FileToSign{SHA512State: sha512State(t, data), ExpectSHA512: hex.EncodeToString(other[:])}, ErrDigestMismatch, ""},
		{"approved digest from the reader path too", fresh.Secret, now, FileToSign{Reader: bytes.NewReader(data), ExpectSHA512: hex.EncodeToString(other[:])}, ErrDigestMismatch, ""},
		{"corrupt saved state", fresh.Secret, now, FileToSign{SHA512State: []byte("sha\x07short")}, nil, "restore saved SHA-512 state"},
		{"no input", fresh.Secret, now, FileToSign{}, nil, "neither"},
		{"public key instead of secret", fresh.PublicKey, now, FileToSign{Reader: bytes.NewReader(data)}, nil, "read secret key"},
		{"garbage secret", []byte("not a key"), now, FileToSign{Reader: bytes.NewReader(data)}, nil, "read secret key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SignWithOptions(tc.secret, []FileToSign{tc.file}, SignOptions{Now: fixedClock(tc.at)})
			if err == nil {
				t.Fatal("signed; want a refusal")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if tc.wantIn != "" && !strings.Contains(err.Error(), tc.wantIn) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantIn)
			}
		})
	}
	// The approved digest (any hex case) is signed.
	sigs, err := Sign(fresh.Secret, []FileToSign{{SHA512State: sha512State(t, data), ExpectSHA512: strings.ToUpper(hex.EncodeToString(sum[:]))}})
	if err != nil || len(sigs) != 1 {
		t.Fatalf("signing the approved digest: %v", err)
	}
	// A refusal in a batch signs nothing.
	sigs, err = Sign(fresh.Secret, []FileToSign{{Reader: bytes.NewReader(data)}, {SHA512State: sha512State(t, data), ExpectSHA512: hex.EncodeToString(other[:])}})
	if err == nil || sigs != nil {
		t.Fatalf("a batch with one unapproved file returned %d signatures, err %v", len(sigs), err)
	}
}

func TestSignManyFilesKeepsOrderAndEachVerifies(t *testing.T) {
	g := newEdDSA(t)
	var files []FileToSign
	var datas [][]byte
	for i := range 20 {
		d := bytes.Repeat([]byte{byte(i)}, i*100)
		datas = append(datas, d)
		files = append(files, FileToSign{Path: "f" + string(rune('a'+i)), SHA512State: sha512State(t, d)})
	}
	sigs, err := Sign(g.Secret, files)
	if err != nil || len(sigs) != len(files) {
		t.Fatalf("%d signatures, err %v", len(sigs), err)
	}
	for i, s := range sigs {
		if s.Path != files[i].Path {
			t.Fatalf("signature %d is for %s, want %s", i, s.Path, files[i].Path)
		}
		if r := trelVerify(t, g.PublicKey, s.Armored, datas[i]); !r.Valid {
			t.Fatalf("%s: %s", s.Path, r.Reason)
		}
		if i > 0 {
			if r := trelVerify(t, g.PublicKey, s.Armored, datas[i-1]); r.Valid {
				t.Fatalf("%s verifies over another file's data", s.Path)
			}
		}
	}
}

func TestSignLeavesTheCallersSecretIntact(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  func(t *testing.T) *Generated
	}{
		{"EdDSA", func(t *testing.T) *Generated { return newEdDSA(t) }},
		{"RSA-4096", func(t *testing.T) *Generated { return sharedRSA(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.key(t)
			before := bytes.Clone(g.Secret)
			for i := range 2 {
				sigs, err := Sign(g.Secret, []FileToSign{{Reader: strings.NewReader("data")}})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(g.Secret, before) {
					t.Fatalf("call %d changed the caller's secret (wiping must only touch our parsed copy)", i+1)
				}
				if r := trelVerify(t, g.PublicKey, sigs[0].Armored, []byte("data")); !r.Valid {
					t.Fatalf("call %d: %s", i+1, r.Reason)
				}
			}
			if _, err := Revoke(g.Secret, RevokeRetired, "", time.Now()); err != nil || !bytes.Equal(g.Secret, before) {
				t.Fatalf("Revoke changed the caller's secret (err %v)", err)
			}
		})
	}
}
