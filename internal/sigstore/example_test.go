package sigstore_test

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"os"

	"trel/internal/sigstore"
)

// Verify a release artifact in two stages: the bundle first, then whether
// its signer is trusted.
func Example() {
	data, err := os.ReadFile("testdata/sigstore-python/bundle_v3_github.whl")
	if err != nil {
		panic(err)
	}
	// Digests are normally computed once, at upload.
	s256, s512 := sha256.Sum256(data), sha512.Sum512(data)
	artifact := sigstore.Artifact{SHA256: s256[:], SHA512: s512[:]}

	bundle, err := sigstore.LoadBundleFile("testdata/sigstore-python/bundle_v3_github.whl.sigstore")
	if err != nil {
		fmt.Println("invalid bundle:", err)
		return
	}
	result, err := sigstore.DefaultVerifier().Verify(bundle, artifact, nil)
	if err != nil {
		panic(err) // a bug, not a verdict
	}
	fmt.Println(result.Valid, result.RootName, result.TimeSource, result.LogIndex)
	fmt.Println(result.Identity)

	trusted := []sigstore.Identity{{
		Issuer:            "https://token.actions.githubusercontent.com",
		SubjectRegexp:     `https://github\.com/trailofbits/rfc8785\.py/\.github/workflows/release\.yml@refs/tags/.*`,
		SourceRepository:  "https://github.com/trailofbits/rfc8785.py",
		RefRegexp:         `refs/tags/.*`,
		RunnerEnvironment: "github-hosted",
	}}
	for _, id := range trusted {
		if err := id.Validate(); err != nil {
			panic(err)
		}
	}
	matched, _ := sigstore.MatchIdentity(result, trusted)
	fmt.Println("trusted:", matched != nil)
	// Output:
	// true public-good integrated-time 79605083
	// https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2
	// trusted: true
}
