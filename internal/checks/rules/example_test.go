package rules_test

import (
	"crypto/sha512"
	"fmt"

	"trel/internal/checks/rules"
	"trel/internal/domain"
)

func ExampleCheckChecksumFile() {
	// The .sha512 file as written by `gpg --print-md SHA512 a.zip`.
	file := "a.zip: E7C22B99 4C59D9CF 2B48E549 B1E24666 63604593 0D3DA7C1 ACB299D1 C3B7F931\r\n" +
		"       F94AAE41 EDDA2C2B 207A36E1 0F8BCB8D 45223E54 878F5B31 6E7CE3B6 BC019629\r\n"
	digest := sha512.Sum512([]byte("hello\n")) // computed when a.zip was uploaded

	v := rules.CheckChecksumFile([]byte(file), "sha512", "dist/a.zip", digest[:])
	fmt.Println(v.Status, v.Code)
	fmt.Println(v.Message)

	other := sha512.Sum512([]byte("tampered\n"))
	v = rules.CheckChecksumFile([]byte(file), "sha512", "dist/a.zip", other[:])
	fmt.Println(v.Status, v.Code)
	// Output:
	// note checksum.ok
	// the SHA-512 of a.zip matches the checksum file (e7c22b994c59d9cf...)
	// blocker checksum.mismatch
}

func ExampleCheckPaths() {
	paths := []string{
		"apache-foo-1.0.tar.gz", "apache-foo-1.0.tar.gz.asc", "apache-foo-1.0.tar.gz.sha512",
		"apache-foo-1.0.zip", "apache-foo-1.0.zip.md5",
		"KEYS", "README",
	}
	for _, f := range rules.CheckPaths(paths) {
		fmt.Println(f.Status, f.Code, f.Path)
	}
	// The project's policy lets its release notes go unsigned.
	notes := domain.UnsignedRule{Pattern: "RELEASE-NOTES*", Reason: "plain-text notes"}
	for _, f := range rules.CheckPaths([]string{"RELEASE-NOTES.txt", "README"}, notes) {
		fmt.Println(f.Status, f.Code, f.Path)
	}
	// Output:
	// blocker path.keys-file KEYS
	// blocker artifact.no-signature README
	// blocker artifact.no-checksum README
	// note artifact.signature-openpgp apache-foo-1.0.tar.gz
	// blocker artifact.no-signature apache-foo-1.0.zip
	// blocker artifact.no-checksum apache-foo-1.0.zip
	// blocker path.md5-forbidden apache-foo-1.0.zip.md5
	// blocker artifact.no-signature README
	// blocker artifact.no-checksum README
	// note path.unsigned-allowed RELEASE-NOTES.txt
}

func ExampleArtifactOf() {
	fmt.Println(rules.ArtifactOf("dist/apache-foo-1.0.tar.gz.asc"))
	fmt.Println(rules.ArtifactOf("dist/apache-foo-1.0.whl.sigstore.json"))
	fmt.Println(rules.ArtifactOf("dist/README"))
	// Output:
	// dist/apache-foo-1.0.tar.gz signature true
	// dist/apache-foo-1.0.whl sigstore-bundle true
	//   false
}
