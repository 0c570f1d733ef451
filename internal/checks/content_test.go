package checks_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/store"
)

// TestUnknownSuffixesNeedSignatures: issue 12 found that a .tar.zst (or
// .7z, .sh, .iso, AppImage, a file without suffix) needed no signature,
// so a release of unsigned binaries passed every check.
func TestUnknownSuffixesNeedSignatures(t *testing.T) {
	f := newFixture(t)
	files := map[string][]byte{}
	for _, name := range []string{"alpha-1.0.tar.zst", "alpha-1.0.7z", "install.sh", "alpha.iso", "Alpha-x86_64.AppImage", "alpha"} {
		files[name] = []byte("bytes of " + name)
	}
	rs := f.run(t, f.upload(t, files))
	for name := range files {
		if r := rs["policy:"+name]; r.Status != domain.StatusBlocker || !strings.Contains(r.Message, "requires") {
			t.Errorf("%s: policy %s %q", name, r.Status, r.Message)
		}
	}
	if r := rs["policy:"]; r.Status != domain.StatusBlocker || !strings.Contains(r.Message, "no signed artifact") {
		t.Errorf("release without a signed artifact: %s %q", r.Status, r.Message)
	}
}

// TestUnsignedRulesAndTheSignedArtifactRule: the policy may let named
// files go unsigned, but a release still needs one signed artifact, and
// the vote cannot start without it.
func TestUnsignedRulesAndTheSignedArtifactRule(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	pol := domain.DefaultPolicy()
	pol.MinVoteHours, pol.MinBindingPlusOnes = 0, 1
	pol.Unsigned = []domain.UnsignedRule{{Pattern: "RELEASE-NOTES*.txt", Reason: "plain-text notes"}}
	must(t, err2(f.svc.SetPolicy(ctx, f.alice, "alpha-lib", pol)))

	id := f.upload(t, map[string][]byte{"RELEASE-NOTES-1.0.txt": []byte("notes"), "alpha.cdx.json": []byte(`{"bomFormat":"CycloneDX"}`)})
	rs := f.run(t, id)
	if r := rs["paths:RELEASE-NOTES-1.0.txt"]; r.Status != domain.StatusNote || !strings.Contains(r.Message, "plain-text notes") {
		t.Fatalf("unsigned by policy: %s %q", r.Status, r.Message)
	}
	if _, ok := rs["policy:RELEASE-NOTES-1.0.txt"]; ok {
		t.Fatal("a file the policy lets go unsigned got a policy verdict")
	}
	if r := rs["paths:alpha.cdx.json"]; r.Status != domain.StatusNote {
		t.Fatalf("SBOM: %s %q", r.Status, r.Message)
	}
	if r := rs["policy:"]; r.Status != domain.StatusBlocker || !strings.Contains(r.Message, "no signed artifact") {
		t.Fatalf("notes and an SBOM alone: %s %q", r.Status, r.Message)
	}
	_, err := f.svc.StartVote(ctx, f.alice, "alpha-lib", "1.0")
	if !domain.IsKind(err, domain.KindConflict) || !strings.Contains(domain.PublicMessage(err), "no signed artifact") {
		t.Fatalf("the vote started without a signed artifact: %v", err)
	}

	// With one signed artifact the notes stay unsigned and nothing blocks.
	artifact, asc, sum := f.release(t)
	f.proveAlice(t)
	id = f.upload(t, map[string][]byte{"alpha-lib-1.0.tar.gz": artifact, "alpha-lib-1.0.tar.gz.asc": asc, "alpha-lib-1.0.tar.gz.sha512": sum})
	for k, r := range f.run(t, id) {
		if r.Status == domain.StatusBlocker || r.Status == domain.StatusException {
			t.Errorf("%s: %s %q", k, r.Status, r.Message)
		}
	}
}

// TestStoredSecretsAreBlockers: content stored before uploads were
// scanned (no scan record) is read once by the paths check, and a private
// key in it blocks the release; content scanned at upload is not read.
func TestStoredSecretsAreBlockers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})

	// The upload path refuses it, before any revision exists.
	_, err := f.svc.UploadFile(ctx, f.alice, "alpha-lib", "1.0", bytes.NewReader(key), -1)
	if !domain.IsKind(err, domain.KindInvalid) || !strings.Contains(domain.PublicMessage(err), "compromised") {
		t.Fatalf("upload of a private key: %v", err)
	}

	// Stored the way older versions did, without a scan.
	legacy := func(data []byte) domain.Blob {
		b, err := f.blobs.Put(ctx, bytes.NewReader(data), 1<<20)
		must(t, err)
		rel, err := f.svc.Release(ctx, f.alice, "alpha-lib", "1.0")
		must(t, err)
		must(t, f.st.Tx(ctx, func(tx store.Tx) error {
			if err := tx.PutBlob(ctx, b); err != nil {
				return err
			}
			return tx.RecordUpload(ctx, rel.ID, b.SHA256, f.alice.User.ID, rel.CreatedAt)
		}))
		return b
	}
	k := legacy(key)
	clean := legacy([]byte("an old text file\n"))
	// A file the previous scanner rules (version 1) passed: an age
	// identity. The current rules find it.
	age := legacy([]byte("# public key: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\nAGE-SECRET-KEY-1QQPJVFQ6J3CZXQ2NDNL8HRRSQYC7S6T6MMRNPZ4K7YQZ8QFVGLNSEUXLVP9\n"))
	must(t, f.st.Tx(ctx, func(tx store.Tx) error { return tx.RecordCleanScan(ctx, age.SHA256, 1, time.Now()) }))
	scanned, err := f.svc.UploadFile(ctx, f.alice, "alpha-lib", "1.0", bytes.NewReader(bytes.Repeat([]byte{0, 1, 2}, 100_000)), -1)
	must(t, err)
	res, err := f.svc.CreateRevision(ctx, f.alice, "alpha-lib", "1.0", core.RevisionRequest{Changes: []core.Change{
		{Op: "put", Path: "notes.txt", SHA256: k.SHA256}, {Op: "put", Path: "old.txt", SHA256: clean.SHA256},
		{Op: "put", Path: "new.bin", SHA256: scanned.SHA256}, {Op: "put", Path: "identity.txt", SHA256: age.SHA256}}})
	must(t, err)
	rs := f.run(t, res.Revision.ID)
	if r := rs["paths:notes.txt"]; r.Status != domain.StatusBlocker || !strings.Contains(r.Message, "compromised") || r.Details["code"] != "path.secret" {
		t.Fatalf("stored private key: %s %q %v", r.Status, r.Message, r.Details)
	}
	if r := rs["paths:identity.txt"]; r.Status != domain.StatusBlocker || !strings.Contains(r.Message, "age secret key") {
		t.Fatalf("a secret the older scanner rules passed: %s %q", r.Status, r.Message)
	}
	for k, r := range rs {
		if r.Details["code"] == "path.secret" && k != "paths:notes.txt" && k != "paths:identity.txt" {
			t.Errorf("%s: %q", k, r.Message)
		}
	}
	if r := rs["paths:old.txt"]; r.Status != domain.StatusNote || !strings.Contains(r.Message, "holds none") {
		t.Errorf("old clean file: %s %q", r.Status, r.Message)
	}
	if n := f.blobs.opens[scanned.SHA256]; n != nil && n.Load() > 0 {
		t.Errorf("content scanned at upload was read again by the checks (%d times)", n.Load())
	}
}
