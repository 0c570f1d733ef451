package sigstore

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkVerify measures full offline verifications (load excluded) of
// real bundles and reports verifications per second.
func BenchmarkVerify(b *testing.B) {
	cases := []struct {
		name     string
		bundle   string
		artifact func(t testing.TB) Artifact
	}{
		{"message-signature-v0.2", "sigstore-python/bundle_v3_github.whl.sigstore", fromFile("sigstore-python", "bundle_v3_github.whl")},
		{"dsse-v0.3", "gh-cli/sigstore-js-2.1.0-bundle.json", fromFile("gh-cli", "sigstore-js-2.1.0.tgz")},
		{"rekor-v2-tsa-staging", "sigstore-python/staging-rekor-v2.txt.sigstore.json", fromFile("sigstore-python", "staging-rekor-v2.txt")},
	}
	v := mustVerifier(b, PublicGoodRoot(), StagingRoot())
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			bundle := loadBundleFile(b, td(tc.bundle))
			a := tc.artifact(b)
			start := time.Now()
			for b.Loop() {
				res, err := v.Verify(bundle, a, nil)
				if err != nil || !res.Valid {
					b.Fatalf("Verify: %v %+v", err, res)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "verifications/s")
		})
	}
}

// BenchmarkLoadBundle measures parsing and structural checks alone.
func BenchmarkLoadBundle(b *testing.B) {
	data := readFile(b, td("sigstore-python", "bundle_v3_github.whl.sigstore"))
	for b.Loop() {
		if _, err := LoadBundle(data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConcurrentVerify shares one Verifier and one Bundle between
// goroutines, as the API server does; run it with -race.
func TestConcurrentVerify(t *testing.T) {
	v := mustVerifier(t, PublicGoodRoot(), StagingRoot())
	shared := loadBundleFile(t, td("sigstore-python", "bundle_v3_github.whl.sigstore"))
	a := fileArtifact(t, td("sigstore-python", "bundle_v3_github.whl"))
	staging := loadBundleFile(t, td("sigstore-python", "staging-rekor-v2.txt.sigstore.json"))
	sa := fileArtifact(t, td("sigstore-python", "staging-rekor-v2.txt"))

	errs := make(chan string, 16)
	done := make(chan struct{})
	for i := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			b, art, root := shared, a, RootPublicGood
			if i%2 == 1 {
				b, art, root = staging, sa, RootStaging
			}
			for range 3 {
				res, err := v.Verify(b, art, nil)
				if err != nil || !res.Valid || res.RootName != root {
					errs <- fmt.Sprintf("goroutine %d: %v %+v", i, err, res)
					return
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
