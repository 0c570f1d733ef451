package sigstore

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// td returns the path of a file under testdata.
func td(parts ...string) string {
	return filepath.Join(append([]string{"testdata"}, parts...)...)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func loadBundleFile(t testing.TB, path string) *Bundle {
	t.Helper()
	b, err := LoadBundleFile(path)
	if err != nil {
		t.Fatalf("LoadBundleFile(%s): %v", path, err)
	}
	return b
}

func loadRootFile(t testing.TB, name, path string) NamedRoot {
	t.Helper()
	r, err := LoadTrustedRootFile(name, path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func loadKey(t testing.TB, name, path string) PublicKey {
	t.Helper()
	k, err := ParsePublicKeyPEM(name, readFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fileArtifact digests a file the way an upload does.
func fileArtifact(t testing.TB, path string) Artifact {
	t.Helper()
	data := readFile(t, path)
	s256 := sha256.Sum256(data)
	s512 := sha512.Sum512(data)
	return Artifact{SHA256: s256[:], SHA512: s512[:]}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// statementArtifact reads the first subject digest from a DSSE bundle's
// in-toto statement, for bundles whose artifact (an npm tarball) is not
// in the fixtures.
func statementArtifact(t testing.TB, bundlePath string) Artifact {
	t.Helper()
	var raw struct {
		DSSEEnvelope struct {
			Payload string `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(readFile(t, bundlePath), &raw); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(raw.DSSEEnvelope.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return statementJSONArtifact(t, payload)
}

func statementJSONArtifact(t testing.TB, statement []byte) Artifact {
	t.Helper()
	var st struct {
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(statement, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Subject) == 0 {
		t.Fatal("statement has no subject")
	}
	var a Artifact
	if d, ok := st.Subject[0].Digest["sha512"]; ok {
		a.SHA512 = mustHex(t, d)
	}
	if d, ok := st.Subject[0].Digest["sha256"]; ok {
		a.SHA256 = mustHex(t, d)
	}
	return a
}

// messageDigestArtifact takes the artifact digest from a message-signature
// bundle itself, for the one fixture (othername) that ships no artifact.
func messageDigestArtifact(t testing.TB, bundlePath string) Artifact {
	t.Helper()
	var raw struct {
		MessageSignature struct {
			MessageDigest struct {
				Digest string `json:"digest"`
			} `json:"messageDigest"`
		} `json:"messageSignature"`
	}
	if err := json.Unmarshal(readFile(t, bundlePath), &raw); err != nil {
		t.Fatal(err)
	}
	d, err := base64.StdEncoding.DecodeString(raw.MessageSignature.MessageDigest.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return Artifact{SHA256: d}
}

// flip returns a copy of a digest with one bit changed: a tampered file.
func flip(d []byte) []byte {
	out := append([]byte(nil), d...)
	if len(out) > 0 {
		out[0] ^= 1
	}
	return out
}
