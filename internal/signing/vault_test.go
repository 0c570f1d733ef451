package signing

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pgp "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/eddsa"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func mustMaster(t testing.TB) MasterKey {
	t.Helper()
	m, err := NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sealedFixture is one key sealed with fastParams.
type sealedFixture struct {
	g        *Generated
	master   MasterKey
	password []byte
	sealed   *Sealed
}

func newSealed(t testing.TB) sealedFixture {
	t.Helper()
	g := newEdDSA(t)
	m := mustMaster(t)
	pw := []byte("correct horse battery staple")
	s, err := Seal(g.Secret, g.Fingerprint, m, pw, fastParams)
	if err != nil {
		t.Fatal(err)
	}
	return sealedFixture{g: g, master: m, password: pw, sealed: s}
}

// clone deep-copies a Sealed through its JSON form, as the database would.
func clone(t testing.TB, s *Sealed) *Sealed {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out Sealed
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestVaultRoundTripOpensTheSameSecretThatSigns(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params Argon2Params
	}{
		{"fast parameters", fastParams},
		{"default parameters t=3 m=64MiB p=4", DefaultArgon2Params()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newEdDSA(t)
			m := mustMaster(t)
			s, err := Seal(g.Secret, g.Fingerprint, m, []byte("pw"), tc.params)
			if err != nil {
				t.Fatal(err)
			}
			if *s.Argon2 != tc.params || len(s.Salt) != 16 || s.MasterKeyID != m.ID() || s.Fingerprint != g.Fingerprint {
				t.Fatalf("sealed row does not record its parameters: %+v", s)
			}
			// Through JSON, as stored; the fingerprint in any spelling.
			spaced := strings.ToLower(g.Fingerprint[:20]) + " " + g.Fingerprint[20:]
			secret, err := Open(clone(t, s), spaced, m, []byte("pw"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(secret, g.Secret) {
				t.Fatal("opened secret differs from the sealed one")
			}
			sigs, err := Sign(secret, []FileToSign{{Reader: strings.NewReader("x")}})
			Wipe(secret)
			if err != nil || len(sigs) != 1 {
				t.Fatalf("sign with the opened key: %v", err)
			}
			if !bytes.Equal(secret, make([]byte, len(secret))) {
				t.Fatal("Wipe left non-zero bytes")
			}
		})
	}
}

func TestVaultFailuresHaveTypedErrors(t *testing.T) {
	f := newSealed(t)
	other := newSealed(t)
	wrongMaster := mustMaster(t)
	cases := []struct {
		name     string
		edit     func(s *Sealed)
		fpr      string
		master   MasterKey
		password []byte
		want     error
	}{
		{"wrong password", nil, "", MasterKey{}, []byte("wrong"), ErrWrongPassword},
		{"empty password", nil, "", MasterKey{}, []byte{}, ErrWrongPassword},
		{"wrong master key", nil, "", wrongMaster, nil, ErrWrongMasterKey},
		{"no master key configured", nil, "", MasterKey{set: false}, nil, ErrNoMasterKey},
		{"opened for another key row (fingerprint AAD)", nil, other.g.Fingerprint, MasterKey{}, nil, ErrTampered},
		{"row relabelled to another fingerprint", func(s *Sealed) { s.Fingerprint = other.g.Fingerprint }, other.g.Fingerprint, MasterKey{}, nil, ErrTampered},
		{"another key's wrapped data key", func(s *Sealed) { s.WrappedKey = other.sealed.WrappedKey }, "", MasterKey{}, nil, ErrTampered},
		{"another key's sealed secret", func(s *Sealed) { s.SealedSecret = other.sealed.SealedSecret }, "", MasterKey{}, nil, ErrTampered},
		{"salt changed", func(s *Sealed) { s.Salt[0] ^= 1 }, "", MasterKey{}, nil, ErrTampered},
		{"argon2 time lowered within bounds", func(s *Sealed) { s.Argon2.Time++ }, "", MasterKey{}, nil, ErrTampered},
		{"argon2 memory changed within bounds", func(s *Sealed) { s.Argon2.MemoryKiB += 1024 }, "", MasterKey{}, nil, ErrTampered},
		{"master key id changed", func(s *Sealed) { s.MasterKeyID = wrongMaster.ID() }, "", MasterKey{}, nil, ErrWrongMasterKey},
		{"factor changed", func(s *Sealed) { s.Factor = FactorPasskeyPRF; s.Argon2 = nil; s.Salt = make([]byte, 32) }, "", MasterKey{}, nil, ErrTampered},
		{"unknown factor", func(s *Sealed) { s.Factor = "none" }, "", MasterKey{}, nil, ErrTampered},
		{"unknown version", func(s *Sealed) { s.Version = 2 }, "", MasterKey{}, nil, ErrTampered},
		{"wrapped key truncated", func(s *Sealed) { s.WrappedKey = s.WrappedKey[:len(s.WrappedKey)-1] }, "", MasterKey{}, nil, ErrTampered},
		{"sealed secret truncated", func(s *Sealed) { s.SealedSecret = s.SealedSecret[:len(s.SealedSecret)-1] }, "", MasterKey{}, nil, ErrTampered},
		{"argon2 parameters above bounds", func(s *Sealed) { s.Argon2.MemoryKiB = 4 << 20 }, "", MasterKey{}, nil, ErrArgon2Params},
		{"argon2 parameters removed", func(s *Sealed) { s.Argon2 = nil }, "", MasterKey{}, nil, ErrTampered},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := clone(t, f.sealed)
			if tc.edit != nil {
				tc.edit(s)
			}
			fpr, m, pw := f.g.Fingerprint, f.master, f.password
			if tc.fpr != "" {
				fpr = tc.fpr
			}
			if tc.master != (MasterKey{}) || tc.want == ErrNoMasterKey {
				m = tc.master
			}
			if tc.password != nil {
				pw = tc.password
			}
			secret, err := Open(s, fpr, m, pw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v (secret %d bytes), want %v", err, len(secret), tc.want)
			}
			for _, e := range []error{ErrWrongPassword, ErrWrongMasterKey, ErrTampered, ErrArgon2Params} {
				if e != tc.want && errors.Is(err, e) {
					t.Fatalf("Open: %v is also %v; the errors must be distinct", err, e)
				}
			}
		})
	}
}

func TestVaultEveryBitFlipIsDetected(t *testing.T) {
	f := newSealed(t)
	// Every bit of the wrapped data key: the master-key layer catches it
	// before any password derivation.
	for i := range len(f.sealed.WrappedKey) * 8 {
		s := clone(t, f.sealed)
		s.WrappedKey[i/8] ^= 1 << (i % 8)
		if _, err := Open(s, f.g.Fingerprint, f.master, f.password); !errors.Is(err, ErrTampered) {
			t.Fatalf("flip of bit %d of WrappedKey: %v, want ErrTampered", i, err)
		}
	}
	// The sealed secret: nonce, body and tag (each costs a derivation).
	n := len(f.sealed.SealedSecret)
	for _, i := range []int{0, 11, 12, n / 2, n - 17, n - 1} {
		s := clone(t, f.sealed)
		s.SealedSecret[i] ^= 0x80
		if _, err := Open(s, f.g.Fingerprint, f.master, f.password); !errors.Is(err, ErrTampered) {
			t.Fatalf("flip in byte %d of SealedSecret: %v, want ErrTampered", i, err)
		}
	}
	for i := range f.sealed.Salt {
		s := clone(t, f.sealed)
		s.Salt[i] ^= 1
		if _, err := Open(s, f.g.Fingerprint, f.master, f.password); !errors.Is(err, ErrTampered) {
			t.Fatalf("flip in byte %d of the salt: %v, want ErrTampered", i, err)
		}
	}
	// The untouched row still opens: the flips above were on copies.
	if _, err := Open(f.sealed, f.g.Fingerprint, f.master, f.password); err != nil {
		t.Fatal(err)
	}
}

func TestVaultRowHoldsNoPlaintextKeyMaterial(t *testing.T) {
	f := newSealed(t)
	row, err := json.Marshal(f.sealed)
	if err != nil {
		t.Fatal(err)
	}
	// The raw EdDSA scalar and any 12-byte window of the serialized
	// secret must not appear, raw or in the base64 JSON uses for []byte.
	e, err := pgp.ReadEntity(packet.NewReader(bytes.NewReader(f.g.Secret)))
	if err != nil {
		t.Fatal(err)
	}
	scalar := e.PrivateKey.PrivateKey.(*eddsa.PrivateKey).D
	if len(scalar) != 32 {
		t.Fatalf("scalar of %d bytes", len(scalar))
	}
	var decoded []byte
	for _, b64 := range [][]byte{f.sealed.WrappedKey, f.sealed.SealedSecret, f.sealed.Salt} {
		decoded = append(decoded, b64...)
	}
	for _, hay := range [][]byte{row, decoded} {
		if bytes.Contains(hay, scalar) || bytes.Contains(hay, []byte(base64.StdEncoding.EncodeToString(scalar))) {
			t.Fatal("the sealed row contains the secret scalar")
		}
		for i := 0; i+12 <= len(f.g.Secret); i++ {
			w := f.g.Secret[i : i+12]
			if bytes.Contains(hay, w) {
				t.Fatalf("the sealed row contains bytes %d..%d of the secret key", i, i+12)
			}
		}
	}
	if bytes.Contains(row, f.password) {
		t.Fatal("the sealed row contains the password")
	}
	// The database alone: without the master key nothing opens, whatever
	// the password; and the master key alone opens nothing without the row.
	if _, err := Open(f.sealed, f.g.Fingerprint, mustMaster(t), f.password); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("database + password without the master key: %v", err)
	}
	forged := clone(t, f.sealed)
	forged.MasterKeyID = mustMaster(t).ID()
	if _, err := Open(forged, f.g.Fingerprint, mustMaster(t), f.password); err == nil {
		t.Fatal("a forged master key id opened the row")
	}
}

func TestRewrapChangesPasswordAndRotateMasterKeepsPassword(t *testing.T) {
	f := newSealed(t)
	newPW := []byte("a new signing password")
	rewrapped, err := Rewrap(clone(t, f.sealed), f.master, f.password, newPW, fastParams)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(rewrapped.Salt, f.sealed.Salt) || bytes.Equal(rewrapped.WrappedKey, f.sealed.WrappedKey) {
		t.Fatal("Rewrap kept the salt or the wrapped key")
	}
	if _, err := Rewrap(clone(t, f.sealed), f.master, []byte("wrong"), newPW, fastParams); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("Rewrap with a wrong old password: %v", err)
	}

	newMaster := mustMaster(t)
	rotated, err := RotateMaster(clone(t, rewrapped), f.master, newMaster)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RotateMaster(clone(t, rewrapped), mustMaster(t), newMaster); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("RotateMaster with a wrong old master key: %v", err)
	}
	tampered := clone(t, rewrapped)
	tampered.WrappedKey[20] ^= 1
	if _, err := RotateMaster(tampered, f.master, newMaster); !errors.Is(err, ErrTampered) {
		t.Fatalf("RotateMaster of a tampered row: %v", err)
	}

	cases := []struct {
		name     string
		s        *Sealed
		master   MasterKey
		password []byte
		want     error // nil: opens
	}{
		{"rewrapped: new password opens", rewrapped, f.master, newPW, nil},
		{"rewrapped: old password refused", rewrapped, f.master, f.password, ErrWrongPassword},
		{"rotated: new master and new password open", rotated, newMaster, newPW, nil},
		{"rotated: old master refused", rotated, f.master, newPW, ErrWrongMasterKey},
		{"rotated: still needs the password", rotated, newMaster, f.password, ErrWrongPassword},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			secret, err := Open(clone(t, tc.s), f.g.Fingerprint, tc.master, tc.password)
			if tc.want == nil {
				if err != nil || !bytes.Equal(secret, f.g.Secret) {
					t.Fatalf("Open: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVaultRefusesBadSealInput(t *testing.T) {
	g := newEdDSA(t)
	other := newEdDSA(t)
	m := mustMaster(t)
	cases := []struct {
		name   string
		secret []byte
		fpr    string
		master MasterKey
		pw     []byte
		params Argon2Params
		want   string
	}{
		{"memory above bounds", g.Secret, g.Fingerprint, m, []byte("pw"), Argon2Params{Time: 3, MemoryKiB: MaxArgon2MemoryKiB + 1, Threads: 4}, "m="},
		{"time above bounds", g.Secret, g.Fingerprint, m, []byte("pw"), Argon2Params{Time: MaxArgon2Time + 1, MemoryKiB: 65536, Threads: 4}, "t="},
		{"threads above bounds", g.Secret, g.Fingerprint, m, []byte("pw"), Argon2Params{Time: 3, MemoryKiB: 65536, Threads: MaxArgon2Threads + 1}, "p="},
		{"memory below bounds", g.Secret, g.Fingerprint, m, []byte("pw"), Argon2Params{Time: 3, MemoryKiB: 1024, Threads: 4}, "m="},
		{"zero parameters", g.Secret, g.Fingerprint, m, []byte("pw"), Argon2Params{}, "t="},
		{"empty password", g.Secret, g.Fingerprint, m, nil, fastParams, "password is empty"},
		{"no master key", g.Secret, g.Fingerprint, MasterKey{}, []byte("pw"), fastParams, "no signing master key"},
		{"secret of another key", other.Secret, g.Fingerprint, m, []byte("pw"), fastParams, "not " + g.Fingerprint},
		{"bad fingerprint", g.Secret, "ABC", m, []byte("pw"), fastParams, "40 hex"},
		{"public key instead of secret", g.PublicKey, g.Fingerprint, m, []byte("pw"), fastParams, "read secret key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Seal(tc.secret, tc.fpr, tc.master, tc.pw, tc.params)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Seal: %v (sealed %v), want an error containing %q", err, s != nil, tc.want)
			}
		})
	}
}

func TestOpenRefusesOversizedArgon2ParametersBeforeDeriving(t *testing.T) {
	f := newSealed(t)
	for _, p := range []Argon2Params{
		{Time: 3, MemoryKiB: 1 << 30, Threads: 4},
		{Time: 1 << 20, MemoryKiB: 65536, Threads: 4},
		{Time: 3, MemoryKiB: 65536, Threads: 255},
		{Time: 0, MemoryKiB: 65536, Threads: 4},
	} {
		t.Run(fmt.Sprintf("t=%d m=%d p=%d", p.Time, p.MemoryKiB, p.Threads), func(t *testing.T) {
			s := clone(t, f.sealed)
			*s.Argon2 = p
			start := time.Now()
			_, err := Open(s, f.g.Fingerprint, f.master, f.password)
			if !errors.Is(err, ErrArgon2Params) {
				t.Fatalf("Open: %v, want ErrArgon2Params", err)
			}
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Fatalf("refusal took %s: the derivation ran", d)
			}
		})
	}
}

func TestPasskeyPRFFactor(t *testing.T) {
	g := newEdDSA(t)
	m := mustMaster(t)
	prf := bytes.Repeat([]byte{7}, PRFSize)
	s, err := SealWithPRF(g.Secret, g.Fingerprint, m, prf)
	if err != nil {
		t.Fatal(err)
	}
	if s.Factor != FactorPasskeyPRF || s.Argon2 != nil {
		t.Fatalf("factor %s argon2 %v", s.Factor, s.Argon2)
	}
	secret, err := OpenWithPRF(clone(t, s), g.Fingerprint, m, prf)
	if err != nil || !bytes.Equal(secret, g.Secret) {
		t.Fatalf("OpenWithPRF: %v", err)
	}
	wrongPRF := bytes.Repeat([]byte{8}, PRFSize)
	if _, err := OpenWithPRF(clone(t, s), g.Fingerprint, m, wrongPRF); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong PRF output: %v", err)
	}
	if _, err := OpenWithPRF(clone(t, s), g.Fingerprint, mustMaster(t), prf); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("PRF with a wrong master key: %v", err)
	}
	if _, err := Open(clone(t, s), g.Fingerprint, m, prf); !errors.Is(err, ErrWrongFactor) {
		t.Fatalf("password Open of a PRF-sealed key: %v", err)
	}
	if _, err := OpenWithPRF(clone(t, s), g.Fingerprint, m, prf[:16]); err == nil || !strings.Contains(err.Error(), "PRF output of 16 bytes") {
		t.Fatalf("short PRF output: %v", err)
	}
	rotated, err := RotateMaster(clone(t, s), m, mustMaster(t))
	if err != nil || rotated.Factor != FactorPasskeyPRF {
		t.Fatalf("RotateMaster of a PRF-sealed key: %v", err)
	}
	f := newSealed(t)
	if _, err := OpenWithPRF(clone(t, f.sealed), f.g.Fingerprint, f.master, prf); !errors.Is(err, ErrWrongFactor) {
		t.Fatalf("PRF Open of a password-sealed key: %v", err)
	}
}

func TestArgon2DerivationsAreCapped(t *testing.T) {
	peakInFlight.Store(0)
	salt := make([]byte, argon2SaltSize)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			_, err := deriveArgon2([]byte("pw"), salt, Argon2Params{Time: 2, MemoryKiB: 16 << 10, Threads: 1}, nil, PurposeUse)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if p := peakInFlight.Load(); p < 1 || p > MaxConcurrentDerivations {
		t.Fatalf("peak of %d concurrent derivations, cap %d", p, MaxConcurrentDerivations)
	}
}

func TestMasterKeyLoading(t *testing.T) {
	m := mustMaster(t)
	hexText := string(m.Text())
	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	written := filepath.Join(dir, "written")
	if err := WriteMasterKeyFile(written, m); err != nil {
		t.Fatal(err)
	}
	if err := WriteMasterKeyFile(written, m); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("WriteMasterKeyFile overwrote an existing file: %v", err)
	}
	if st, err := os.Stat(written); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("written master key file: %v %v", st.Mode(), err)
	}
	raw := m.key[:]
	cases := []struct {
		name string
		path string
		want string // "" = loads m
	}{
		{"written by WriteMasterKeyFile", written, ""},
		{"hex with newline, 0600", write("hex", []byte(hexText), 0o600), ""},
		{"base64, 0400", write("b64", []byte(base64.StdEncoding.EncodeToString(raw)+"\n"), 0o400), ""},
		{"32 raw bytes", write("raw", raw, 0o600), ""},
		{"group-readable 0640", write("g", []byte(hexText), 0o640), "permissions 0640"},
		{"world-readable 0644", write("w", []byte(hexText), 0o644), "permissions 0644"},
		{"31 bytes of hex", write("short", []byte(hexText[:62]), 0o600), "does not hold a 32-byte"},
		{"33 raw bytes", write("long", append(bytes.Clone(raw), 1), 0o600), "does not hold a 32-byte"},
		{"empty", write("empty", nil, 0o600), "does not hold a 32-byte"},
		{"a directory", dir, "not a regular file"},
		{"missing", filepath.Join(dir, "nope"), "no signing master key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadMasterKey(tc.path)
			if tc.want == "" {
				if err != nil || got.ID() != m.ID() || got.key != m.key {
					t.Fatalf("LoadMasterKey: %v (id %s, want %s)", err, got.ID(), m.ID())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadMasterKey: %v, want an error containing %q", err, tc.want)
			}
			if got.Valid() {
				t.Fatal("a refused master key is valid")
			}
		})
	}
	if _, err := LoadMasterKey(filepath.Join(dir, "nope")); !errors.Is(err, ErrNoMasterKey) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file must be ErrNoMasterKey and fs.ErrNotExist: %v", err)
	}
}

func TestMasterKeyFromEnv(t *testing.T) {
	m := mustMaster(t)
	cases := []struct {
		name  string
		value *string
		want  string
	}{
		{"hex", new(string(m.Text())), ""},
		{"base64", new(base64.StdEncoding.EncodeToString(m.key[:])), ""},
		{"unset", nil, "not set"},
		{"empty", new(""), "not set"},
		{"too short", new("abcd"), "does not hold a 32-byte"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const name = "TREL_TEST_SIGNING_MASTER_KEY"
			if tc.value != nil {
				t.Setenv(name, *tc.value)
			} else {
				t.Setenv(name, "")
				os.Unsetenv(name)
			}
			got, err := MasterKeyFromEnv(name)
			if tc.want == "" {
				if err != nil || got.key != m.key {
					t.Fatalf("MasterKeyFromEnv: %v", err)
				}
				if _, still := os.LookupEnv(name); still {
					t.Fatal("the variable is still in the environment of child processes")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("MasterKeyFromEnv: %v, want %q", err, tc.want)
			}
			if tc.want == "not set" && !errors.Is(err, ErrNoMasterKey) {
				t.Fatalf("unset variable: %v, want ErrNoMasterKey", err)
			}
		})
	}
}

func TestMasterKeyNeverPrintsItself(t *testing.T) {
	m := mustMaster(t)
	keyHex := strings.TrimSpace(string(m.Text()))
	for _, s := range []string{m.String(), fmt.Sprint(m), fmt.Sprintf("%v %+v %#v %s", m, m, m, m)} {
		if strings.Contains(s, keyHex) || strings.Contains(s, keyHex[:16]) {
			t.Fatalf("formatting prints the key: %s", s)
		}
		if !strings.Contains(s, m.ID()) {
			t.Fatalf("formatting does not name the key id: %s", s)
		}
	}
	if _, err := MasterKeyFromBytes(make([]byte, 31)); err == nil {
		t.Fatal("a 31-byte master key was accepted")
	}
	if mustMaster(t).ID() == m.ID() {
		t.Fatal("two random master keys have the same id")
	}
}

func TestSwitchBetweenPasswordAndPasskeyPRF(t *testing.T) {
	f := newSealed(t)
	prf := bytes.Repeat([]byte{3}, PRFSize)
	if _, err := SwitchToPRF(clone(t, f.sealed), f.master, []byte("wrong"), prf); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("SwitchToPRF with a wrong password: %v", err)
	}
	toPRF, err := SwitchToPRF(clone(t, f.sealed), f.master, f.password, prf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(clone(t, toPRF), f.g.Fingerprint, f.master, f.password); !errors.Is(err, ErrWrongFactor) {
		t.Fatalf("the password still opens after the switch: %v", err)
	}
	if secret, err := OpenWithPRF(clone(t, toPRF), f.g.Fingerprint, f.master, prf); err != nil || !bytes.Equal(secret, f.g.Secret) {
		t.Fatalf("OpenWithPRF after the switch: %v", err)
	}
	newPW := []byte("back to a password")
	if _, err := SwitchToPassword(clone(t, toPRF), f.master, bytes.Repeat([]byte{4}, PRFSize), newPW, fastParams); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("SwitchToPassword with a wrong PRF output: %v", err)
	}
	back, err := SwitchToPassword(clone(t, toPRF), f.master, prf, newPW, fastParams)
	if err != nil {
		t.Fatal(err)
	}
	if secret, err := Open(clone(t, back), f.g.Fingerprint, f.master, newPW); err != nil || !bytes.Equal(secret, f.g.Secret) {
		t.Fatalf("Open after switching back: %v", err)
	}
	if _, err := OpenWithPRF(clone(t, back), f.g.Fingerprint, f.master, prf); !errors.Is(err, ErrWrongFactor) {
		t.Fatalf("the PRF output still opens after switching back: %v", err)
	}
}
