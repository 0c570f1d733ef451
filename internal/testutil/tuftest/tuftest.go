// Package tuftest serves a TUF repository on loopback for tests, made with
// go-tuf's metadata API: one ed25519 key per top-level role, no consistent
// snapshots, targets given as bytes. Tests can re-sign with other keys or
// change targets behind the metadata's back.
package tuftest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Repo is a TUF repository on loopback, made with go-tuf's metadata
// API: one ed25519 key per top-level role, no consistent snapshots.
type Repo struct {
	t        *testing.T
	Dir      string
	Keys     map[string]ed25519.PrivateKey
	Root     *metadata.Metadata[metadata.RootType]
	Targets  *metadata.Metadata[metadata.TargetsType]
	Snapshot *metadata.Metadata[metadata.SnapshotType]
	Stamp    *metadata.Metadata[metadata.TimestampType]
	Srv      *httptest.Server
}

// New serves a repository holding files as targets.
func New(t *testing.T, files map[string][]byte) *Repo {
	r := &Repo{t: t, Dir: t.TempDir(), Keys: map[string]ed25519.PrivateKey{}}
	exp := time.Now().Add(24 * time.Hour)
	r.Root = metadata.Root(exp)
	r.Root.Signed.ConsistentSnapshot = false
	r.Targets, r.Snapshot, r.Stamp = metadata.Targets(exp), metadata.Snapshot(exp), metadata.Timestamp(exp)
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		r.Keys[role] = k
		key, err := metadata.KeyFromPublicKey(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Root.Signed.AddKey(key, role); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(r.Dir, "targets"), 0o755)
	for name, data := range files {
		p := filepath.Join(r.Dir, "targets", name)
		os.WriteFile(p, data, 0o644)
		tf, err := metadata.TargetFile().FromFile(p, "sha256")
		if err != nil {
			t.Fatal(err)
		}
		r.Targets.Signed.Targets[name] = tf
	}
	r.Publish()
	r.Srv = httptest.NewServer(http.FileServer(http.Dir(r.Dir)))
	t.Cleanup(r.Srv.Close)
	return r
}

func (r *Repo) signer(role string) signature.Signer {
	s, err := signature.LoadSigner(r.Keys[role], crypto.Hash(0))
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// Publish signs and writes every role (snapshot after targets, timestamp
// after snapshot).
func (r *Repo) Publish() {
	signAndWrite(r, r.Targets, "targets", "targets.json")
	r.Snapshot.Signed.Meta["targets.json"] = metadata.MetaFile(r.Targets.Signed.Version)
	signAndWrite(r, r.Snapshot, "snapshot", "snapshot.json")
	r.Stamp.Signed.Meta["snapshot.json"] = metadata.MetaFile(r.Snapshot.Signed.Version)
	signAndWrite(r, r.Stamp, "timestamp", "timestamp.json")
	signAndWrite(r, r.Root, "root", "1.root.json")
}

// signAndWrite replaces a role's signatures with one by the role's key and
// writes the metadata file.
func signAndWrite[T metadata.Roles](r *Repo, m *metadata.Metadata[T], role, file string) {
	m.Signatures = nil
	if _, err := m.Sign(r.signer(role)); err != nil {
		r.t.Fatal(err)
	}
	if err := m.ToFile(filepath.Join(r.Dir, file), true); err != nil {
		r.t.Fatal(err)
	}
}

func (r *Repo) RootJSON() []byte {
	b, err := os.ReadFile(filepath.Join(r.Dir, "1.root.json"))
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}
