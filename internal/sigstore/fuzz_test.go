package sigstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadBundle feeds LoadBundle arbitrary bytes, seeded with every
// fixture bundle. Whatever the input, LoadBundle must not panic, every
// rejection must wrap ErrInvalidBundle, and every accepted bundle must
// verify to a verdict (valid or not), never to an internal error.
func FuzzLoadBundle(f *testing.F) {
	err := filepath.WalkDir("testdata", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() || strings.Contains(path, "roots") || strings.Contains(path, "fuzz") ||
			!(strings.HasSuffix(name, ".sigstore") || strings.HasSuffix(name, ".json")) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f.Add(data)
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
	f.Add([]byte(`{"mediaType":null}`))

	v := mustVerifier(f, PublicGoodRoot(), StagingRoot())
	artifact := Artifact{SHA256: make([]byte, 32), SHA512: make([]byte, 64)}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := LoadBundle(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidBundle) {
				t.Fatalf("rejection does not wrap ErrInvalidBundle: %v", err)
			}
			if b != nil {
				t.Fatal("both a bundle and an error")
			}
			return
		}
		if mediaTypeVersions[b.MediaType] != b.Version || b.Version == "" {
			t.Fatalf("accepted media type %q with version %q", b.MediaType, b.Version)
		}
		res, err := v.Verify(b, artifact, nil)
		if err != nil {
			t.Fatalf("Verify of a loaded bundle returned an internal error: %v", err)
		}
		if res.Valid {
			t.Fatalf("a bundle verified for an all-zero digest: %+v", res)
		}
		if res.ReasonCode == "" || res.Reason == "" {
			t.Fatalf("invalid verdict without a reason: %+v", res)
		}
	})
}

// FuzzStatementSubject: any statement is read or refused without a
// panic, and what is read is a usable digest.
func FuzzStatementSubject(f *testing.F) {
	st, _ := Statement("a.txt", Artifact{SHA256: make([]byte, 32)})
	f.Add(st)
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha512":"00"}}],"predicateType":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := statementSubject(data)
		if err == nil && a.validate() != nil {
			t.Fatalf("read an unusable subject: %v", a.validate())
		}
	})
}
