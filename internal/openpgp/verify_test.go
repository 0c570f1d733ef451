package openpgp

import (
	"bytes"
	"crypto"
	"io"
	"strings"
	"testing"
	"time"
)

func TestVerifyDetachedFixtures(t *testing.T) {
	tests := []struct {
		name      string
		keys      string
		sig       string
		data      string
		valid     bool
		code      string // overall code when invalid
		sigCodes  []string
		subkey    string
		hasNote   bool
		reasonHas string
	}{
		{name: "atr subkey signature valid", keys: "atr/68FF2E20F02B070D73D416188DE8CC167FE2663A.asc", sig: "atr/apache-test-0.2.tar.gz.asc", data: "atr/apache-test-0.2.tar.gz",
			valid: true, sigCodes: []string{""}, subkey: "A32F0FCCFF48C94FB971F98581B1A0B8D9D20CBA"},
		{name: "atr signature against other file invalid", keys: "atr/68FF2E20F02B070D73D416188DE8CC167FE2663A.asc", sig: "atr/apache-test-0.2.tar.gz.asc", data: "scenarios/other.txt",
			code: CodeBadSignature, sigCodes: []string{CodeBadSignature}},
		{name: "key expired now but valid when it signed", keys: "scenarios/key-old.asc", sig: "scenarios/artifact.tar.gz.asc", data: "scenarios/artifact.tar.gz",
			valid: true, sigCodes: []string{""}, subkey: "35BE1A2B6789AD6CF6B9AC790D2EE442197D225A"},
		{name: "scenario signature against other file invalid", keys: "scenarios/key-old.asc", sig: "scenarios/artifact.tar.gz.asc", data: "scenarios/other.txt",
			code: CodeBadSignature, sigCodes: []string{CodeBadSignature}},
		{name: "SHA-1 data signature rejected", keys: "scenarios/key-old.asc", sig: "scenarios/artifact.tar.gz.sha1.asc", data: "scenarios/artifact.tar.gz",
			code: CodeWeakHash, sigCodes: []string{CodeWeakHash}, reasonHas: "SHA-1"},
		{name: "old copy then new copy verifies", keys: "scenarios/KEYS-old-then-new", sig: "scenarios/artifact.tar.gz.asc", data: "scenarios/artifact.tar.gz",
			valid: true, sigCodes: []string{""}},
		{name: "new copy then old copy verifies", keys: "scenarios/KEYS-new-then-old", sig: "scenarios/artifact.tar.gz.asc", data: "scenarios/artifact.tar.gz",
			valid: true, sigCodes: []string{""}},
		// Decision (package doc): a signature older than every self-signature
		// is judged by the oldest one, accepted with a note. sqv rejects it.
		{name: "re-exported key without older self-signature accepted with note", keys: "scenarios/key-new.asc", sig: "scenarios/artifact.tar.gz.asc", data: "scenarios/artifact.tar.gz",
			valid: true, sigCodes: []string{""}, hasNote: true},
		{name: "superseded revocation after signature keeps it valid", keys: "scenarios/key-revoked-superseded-merged.asc", sig: "scenarios/art-rev.asc", data: "scenarios/artifact.tar.gz",
			valid: true, sigCodes: []string{""}},
		{name: "superseded revocation in separate block keeps earlier signature valid", keys: "scenarios/key-revoked-superseded.asc", sig: "scenarios/art-rev.asc", data: "scenarios/artifact.tar.gz",
			valid: true, sigCodes: []string{""}},
		{name: "compromised key invalid at any time", keys: "scenarios/key-revoked-compromised-merged.asc", sig: "scenarios/art-rev.asc", data: "scenarios/artifact.tar.gz",
			code: CodeKeyRevoked, sigCodes: []string{CodeKeyRevoked}, reasonHas: "compromised"},
		{name: "compromised revocation in separate block honoured", keys: "scenarios/key-revoked-compromised.asc", sig: "scenarios/art-rev.asc", data: "scenarios/artifact.tar.gz",
			code: CodeKeyRevoked, sigCodes: []string{CodeKeyRevoked}},
		{name: "key-rev-none fixture has no revocation so signature valid", keys: "scenarios/key-rev-none.asc", sig: "scenarios/art-rev.asc", data: "scenarios/artifact.tar.gz",
			valid: true, sigCodes: []string{""}},
		{name: "good signature first then bad both recorded", keys: "scenarios/bench-KEYS.asc", sig: "scenarios/multi-good-first.asc", data: "scenarios/artifact.tar.gz",
			valid: true, sigCodes: []string{"", CodeBadSignature}},
		{name: "bad signature first then good both recorded", keys: "scenarios/bench-KEYS.asc", sig: "scenarios/multi-bad-first.asc", data: "scenarios/artifact.tar.gz",
			valid: true, sigCodes: []string{CodeBadSignature, ""}},
		{name: "unknown issuer names the key and trel keys add", keys: "scenarios/concat12.asc", sig: "scenarios/artifact.tar.gz.asc", data: "scenarios/artifact.tar.gz",
			code: CodeUnknownIssuer, sigCodes: []string{CodeUnknownIssuer}, reasonHas: "35BE1A2B6789AD6CF6B9AC790D2EE442197D225A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := loadFixture(t, tt.keys).Certs
			data := readFixture(t, tt.data)
			state, err := SaveHashStates(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			sources := map[string]HashSource{
				"bytes": BytesSource(data),
				"state": state,
				"reader": ReaderSource{Open: func() (io.ReadCloser, error) {
					return io.NopCloser(bytes.NewReader(data)), nil
				}},
			}
			for srcName, src := range sources {
				res := VerifyDetached(readFixture(t, tt.sig), keys, src, VerifyOptions{Now: fixtureNow})
				if res.Valid != tt.valid {
					t.Fatalf("%s: valid=%v, want %v: %s %s", srcName, res.Valid, tt.valid, res.ReasonCode, res.Reason)
				}
				if !tt.valid && res.ReasonCode != tt.code {
					t.Errorf("%s: code %q, want %q", srcName, res.ReasonCode, tt.code)
				}
				if len(res.Signatures) != len(tt.sigCodes) {
					t.Fatalf("%s: %d signatures recorded, want %d", srcName, len(res.Signatures), len(tt.sigCodes))
				}
				for i, s := range res.Signatures {
					if s.ReasonCode != tt.sigCodes[i] || s.Valid != (tt.sigCodes[i] == "") {
						t.Errorf("%s: signature %d: valid=%v code %q (%s), want %q", srcName, i, s.Valid, s.ReasonCode, s.Reason, tt.sigCodes[i])
					}
					if s.Reason == "" || s.Created.IsZero() || s.HashAlgorithm == "" || s.IssuerKeyID == "" {
						t.Errorf("%s: signature %d lacks details: %+v", srcName, i, s)
					}
					if s.Valid && s.SignerFingerprint == "" {
						t.Errorf("%s: valid signature without signer fingerprint", srcName)
					}
				}
				if tt.subkey != "" && res.Signatures[0].SubkeyFingerprint != tt.subkey {
					t.Errorf("%s: subkey %q, want %q", srcName, res.Signatures[0].SubkeyFingerprint, tt.subkey)
				}
				if hasNote := len(res.Signatures[0].Notes) > 0; hasNote != tt.hasNote {
					t.Errorf("%s: notes %q, want notes=%v", srcName, res.Signatures[0].Notes, tt.hasNote)
				}
				if tt.reasonHas != "" && !strings.Contains(res.Reason, tt.reasonHas) {
					t.Errorf("%s: reason %q lacks %q", srcName, res.Reason, tt.reasonHas)
				}
			}
		})
	}
}

func TestUnknownIssuerReasonTellsWhatToDo(t *testing.T) {
	res := VerifyDetached(readFixture(t, "scenarios/artifact.tar.gz.asc"), nil, BytesSource(readFixture(t, "scenarios/artifact.tar.gz")), VerifyOptions{Now: fixtureNow})
	if res.Valid || res.ReasonCode != CodeUnknownIssuer || !strings.Contains(res.Reason, "trel keys add") || !strings.Contains(res.Reason, "35BE1A2B6789AD6CF6B9AC790D2EE442197D225A") {
		t.Fatalf("%+v", res)
	}
}

func TestVerifyDetachedTimeRules(t *testing.T) {
	keys := loadFixture(t, "scenarios/key-old.asc").Certs
	sig := readFixture(t, "scenarios/artifact.tar.gz.asc") // made 2020-06-01
	data := BytesSource(readFixture(t, "scenarios/artifact.tar.gz"))
	tests := []struct {
		name        string
		opts        VerifyOptions
		valid       bool
		code        string
		afterUpload bool
	}{
		{"signature in the future is refused", VerifyOptions{Now: time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)}, false, CodeFutureSignature, false},
		{"signature within the clock skew is accepted", VerifyOptions{Now: time.Date(2020, 5, 31, 23, 59, 0, 0, time.UTC)}, true, "", false},
		{"signature after upload is flagged but valid", VerifyOptions{Now: fixtureNow, UploadTime: time.Date(2020, 5, 31, 0, 0, 0, 0, time.UTC)}, true, "", true},
		{"signature before upload is not flagged", VerifyOptions{Now: fixtureNow, UploadTime: time.Date(2020, 6, 2, 0, 0, 0, 0, time.UTC)}, true, "", false},
		{"ed25519 signer passes the strength policy", VerifyOptions{Now: fixtureNow, StrengthPolicy: &StrengthPolicy{}}, true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := VerifyDetached(sig, keys, data, tt.opts)
			if res.Valid != tt.valid || res.ReasonCode != tt.code || res.Signatures[0].AfterUpload != tt.afterUpload {
				t.Fatalf("valid=%v code=%q afterUpload=%v (%s)", res.Valid, res.ReasonCode, res.Signatures[0].AfterUpload, res.Reason)
			}
		})
	}
	// The kafka key is RSA-2048 from 2010: a policy refuses signatures by it.
	weak := loadFixture(t, "keys/kafka.KEYS").Certs
	p := &StrengthPolicy{}
	if err := checkSigner(*p, signer{cert: weak[0]}); err == nil {
		t.Fatal("RSA-2048 signer passed the default policy")
	}
}

func TestVerifyDetachedRefusesNonDetachedInput(t *testing.T) {
	keys := loadFixture(t, "scenarios/key-old.asc").Certs
	data := BytesSource(readFixture(t, "scenarios/artifact.tar.gz"))
	tests := []struct {
		name  string
		input string
		code  string
	}{
		{"cleartext signed message", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nhello\n-----BEGIN PGP SIGNATURE-----\n\nwnUEARYIAB0=\n-----END PGP SIGNATURE-----\n", CodeNotDetached},
		{"armored inline message", "-----BEGIN PGP MESSAGE-----\n\nkA0DAAoW\n=AAAA\n-----END PGP MESSAGE-----\n", CodeNotDetached},
		{"binary one-pass signature packet", "\x90\x0d\x03\x00\x0a\x16\x00\x00\x00\x00\x00\x00\x00\x00\x01", CodeNotDetached},
		{"binary literal data packet", "\xcb\x07b\x00\x00\x00\x00\x00hi", CodeNotDetached},
		{"public key instead of signature", string(readFixture(t, "scenarios/key-old.asc")), CodeMalformed},
		{"garbage", "not a signature", CodeMalformed},
		{"empty", "", CodeNoSignature},
		{"truncated packet", "\x88\x75\x04\x00", CodeMalformed},
		{"private key uploaded as signature", "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n", CodePrivateKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := VerifyDetached([]byte(tt.input), keys, data, VerifyOptions{Now: fixtureNow})
			if res.Valid || res.ReasonCode != tt.code || res.Reason == "" {
				t.Fatalf("valid=%v code=%q reason=%q, want code %q", res.Valid, res.ReasonCode, res.Reason, tt.code)
			}
			if tt.code == CodeNotDetached && !strings.Contains(res.Reason, "detach") {
				t.Errorf("reason %q does not say how to make a detached signature", res.Reason)
			}
		})
	}
}

func TestVerifyDetachedAcceptsBinarySignature(t *testing.T) {
	keys := loadFixture(t, "scenarios/key-old.asc").Certs
	armored := readFixture(t, "scenarios/artifact.tar.gz.asc")
	pkts, res := signaturePackets(armored)
	if res != nil {
		t.Fatal(res.Reason)
	}
	got := VerifyDetached(pkts[0].raw, keys, BytesSource(readFixture(t, "scenarios/artifact.tar.gz")), VerifyOptions{Now: fixtureNow})
	if !got.Valid {
		t.Fatalf("binary signature: %s", got.Reason)
	}
}

func TestVerifyDetachedReportsV3AndMD5Signatures(t *testing.T) {
	keys := loadFixture(t, "scenarios/key-old.asc").Certs
	data := BytesSource(readFixture(t, "scenarios/artifact.tar.gz"))
	pkts, _ := signaturePackets(readFixture(t, "scenarios/artifact.tar.gz.asc"))
	md5 := append([]byte(nil), pkts[0].raw...)
	md5[sigBodyOffset(pkts[0])+3] = 1 // hash algorithm MD5
	res := VerifyDetached(md5, keys, data, VerifyOptions{Now: fixtureNow})
	if res.ReasonCode != CodeWeakHash || res.Signatures[0].HashAlgorithm != "MD5" || res.Signatures[0].SignerFingerprint == "" {
		t.Errorf("MD5 signature: %+v (go-crypto alone says 'unknown entity')", res.Signatures[0])
	}
	// A v3 signature: version 3, hashed length 5, type 0, time, key ID, algos, tag, MPI.
	v3 := []byte{0x88, 0x16, 3, 5, 0, 0x5e, 0xd4, 0x44, 0x00, 0x0d, 0x2e, 0xe4, 0x42, 0x19, 0x7d, 0x22, 0x5a, 1, 8, 0xab, 0xcd, 0x00, 0x01, 0x01}
	res = VerifyDetached(v3, keys, data, VerifyOptions{Now: fixtureNow})
	if res.ReasonCode != CodeV3Signature || res.Signatures[0].IssuerKeyID != "0D2EE442197D225A" || res.Signatures[0].HashAlgorithm != "SHA-256" {
		t.Errorf("v3 signature: %+v", res.Signatures[0])
	}
}

func TestStateSourceGivesSameVerdictAsReading(t *testing.T) {
	data := readFixture(t, "atr/apache-test-0.2.tar.gz")
	keys := loadFixture(t, "atr/68FF2E20F02B070D73D416188DE8CC167FE2663A.asc").Certs
	sig := readFixture(t, "atr/apache-test-0.2.tar.gz.asc")
	state, err := SaveHashStates(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	fromState := VerifyDetached(sig, keys, state, VerifyOptions{Now: fixtureNow})
	fromBytes := VerifyDetached(sig, keys, BytesSource(data), VerifyOptions{Now: fixtureNow})
	if !fromState.Valid || fromState.Valid != fromBytes.Valid || fromState.Signatures[0].Reason != fromBytes.Signatures[0].Reason {
		t.Fatalf("state %+v, bytes %+v", fromState, fromBytes)
	}
	// A state for other data gives the other verdict, so the state is really used.
	otherState, _ := SaveHashStates(bytes.NewReader(append(data, 'x')))
	if VerifyDetached(sig, keys, otherState, VerifyOptions{Now: fixtureNow}).Valid {
		t.Fatal("a state of different bytes verified")
	}
	// Hashes without a saved state say so, or go to the fallback.
	if _, err := (StateSource{SHA256: state.SHA256}).Hash(crypto.SHA384); err == nil || !strings.Contains(err.Error(), "no saved hash state for SHA-384") {
		t.Errorf("SHA-384 without state: %v", err)
	}
	if _, err := (StateSource{SHA256: state.SHA256}).Hash(crypto.SHA512); err == nil {
		t.Error("missing SHA-512 state gave no error")
	}
	withFallback := StateSource{SHA256: state.SHA256, Fallback: BytesSource(data)}
	if !VerifyDetached(sig, keys, withFallback, VerifyOptions{Now: fixtureNow}).Valid {
		t.Error("SHA-512 signature did not use the fallback")
	}
	noState := VerifyDetached(sig, keys, StateSource{SHA256: state.SHA256}, VerifyOptions{Now: fixtureNow})
	if noState.Valid || noState.ReasonCode != CodeHashUnavailable {
		t.Errorf("SHA-512 signature without SHA-512 state: %+v", noState)
	}
	// A corrupt state is an error, not a wrong verdict.
	if _, err := (StateSource{SHA512: []byte("garbage")}).Hash(crypto.SHA512); err == nil {
		t.Error("corrupt state accepted")
	}
}

func TestReaderSourceReadsOncePerHash(t *testing.T) {
	data := readFixture(t, "scenarios/artifact.tar.gz")
	opens := 0
	src := ReaderSource{Open: func() (io.ReadCloser, error) {
		opens++
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
	// The multi file holds a SHA-512 and a SHA-256 signature; twice over.
	keys := loadFixture(t, "scenarios/bench-KEYS.asc").Certs
	sig := append(readFixture(t, "scenarios/multi-good-first.asc"), readFixture(t, "scenarios/multi-good-first.asc")...)
	res := VerifyDetached(sig, keys, src, VerifyOptions{Now: fixtureNow})
	if !res.Valid || len(res.Signatures) != 4 {
		t.Fatalf("valid=%v signatures=%d", res.Valid, len(res.Signatures))
	}
	if opens != 2 {
		t.Errorf("artifact opened %d times for 4 signatures with 2 hash algorithms, want 2", opens)
	}
}
