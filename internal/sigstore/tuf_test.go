package sigstore

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"trel/internal/testutil/tuftest"
)

// TestFetchFromTUF: the trusted root and signing configuration come only
// through a TUF update chained to the given TUF root; a target changed
// behind the repository's back, or metadata signed by a key the root does
// not name, is refused.
func TestFetchFromTUF(t *testing.T) {
	trusted := stagingJSON
	repo := tuftest.New(t, map[string][]byte{TrustedRootTarget: trusted, SigningConfigTarget: stagingSigningConfigJSON})
	got, err := FetchFromTUF(TUFOptions{URL: repo.Srv.URL, Root: repo.RootJSON(), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if string(got.TrustedRoot) != string(trusted) || string(got.SigningConfig) != string(stagingSigningConfigJSON) || got.Name != "private" {
		t.Fatalf("got %s with %d and %d bytes", got.Name, len(got.TrustedRoot), len(got.SigningConfig))
	}

	// A target replaced without new signed metadata: refused.
	os.WriteFile(filepath.Join(repo.Dir, "targets", TrustedRootTarget), publicGoodJSON, 0o644)
	if _, err := FetchFromTUF(TUFOptions{URL: repo.Srv.URL, Root: repo.RootJSON(), CacheDir: t.TempDir()}); err == nil {
		t.Fatal("a tampered target was accepted")
	}

	// Targets signed by a key the root does not name: refused.
	repo2 := tuftest.New(t, map[string][]byte{TrustedRootTarget: trusted})
	anchor := repo2.RootJSON()
	_, rogue, _ := ed25519.GenerateKey(rand.Reader)
	repo2.Keys["targets"] = rogue
	repo2.Targets.Signed.Version++
	repo2.Snapshot.Signed.Version++
	repo2.Stamp.Signed.Version++
	repo2.Publish() // root re-signed, but still naming the old targets key
	os.WriteFile(filepath.Join(repo2.Dir, "1.root.json"), anchor, 0o644)
	_, err = FetchFromTUF(TUFOptions{URL: repo2.Srv.URL, Root: anchor, CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "targets") {
		t.Fatalf("targets signed by an unknown key: %v", err)
	}

	// Something that is not a Sigstore trusted root is not handed out.
	repo3 := tuftest.New(t, map[string][]byte{TrustedRootTarget: []byte(`{"not":"a root"}`)})
	if _, err := FetchFromTUF(TUFOptions{URL: repo3.Srv.URL, Root: repo3.RootJSON(), CacheDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "cannot use") {
		t.Fatalf("a bad trusted root: %v", err)
	}
}
