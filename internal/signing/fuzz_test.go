package signing

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzOpenSealedRow feeds altered database rows to Open: it must never
// panic, and anything but the original row must fail with a typed error
// (or a bounds/shape error), never open.
func FuzzOpenSealedRow(f *testing.F) {
	fx := newSealed(f)
	row, err := json.Marshal(fx.sealed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(row)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"v":1,"factor":"password-argon2id","argon2":{"t":4294967295,"m":4294967295,"p":255}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Sealed
		if json.Unmarshal(data, &s) != nil {
			return
		}
		secret, err := Open(&s, fx.g.Fingerprint, fx.master, fx.password)
		if err == nil {
			canon, _ := json.Marshal(&s)
			if string(canon) != string(row) {
				t.Fatalf("an altered row opened:\n%s", canon)
			}
			Wipe(secret)
			return
		}
		if errors.Is(err, ErrWrongPassword) {
			t.Fatalf("an altered row reports a wrong password (the outer layer must catch it): %v", err)
		}
	})
}

// FuzzCanonicalJSON: valid transactions round-trip through their
// canonical form to the same challenge; nothing panics.
func FuzzCanonicalJSON(f *testing.F) {
	f.Add("alice", "widget", "1.0", 1, "a.tar.gz", int64(5), "b.zip", int64(6))
	f.Add("a\xff", "", "", 0, "", int64(-1), "", int64(0))
	f.Fuzz(func(t *testing.T, user, project, version string, rev int, p1 string, s1 int64, p2 string, s2 int64) {
		tx := Transaction{User: user, KeyFingerprint: "0123456789ABCDEF0123456789ABCDEF01234567", Project: project, Version: version, Revision: rev,
			Files: []TxFile{{Path: p1, Size: s1, SHA512: zeros128}, {Path: p2, Size: s2, SHA512: zeros128}}}
		canon, err := CanonicalJSON(tx)
		if err != nil {
			return
		}
		var back struct {
			User, Key, Project, Version string
			Revision                    int
			Files                       []TxFile
		}
		if err := json.Unmarshal(canon, &back); err != nil {
			t.Fatalf("canonical JSON does not parse: %v", err)
		}
		if back.User != user || back.Project != project || back.Version != version || back.Revision != rev || len(back.Files) != 2 {
			t.Fatalf("canonical JSON does not round-trip: %s", canon)
		}
	})
}

const zeros128 = "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
