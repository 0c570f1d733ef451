package rules

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"trel/internal/domain"
)

func TestArtifactOf(t *testing.T) {
	tests := []struct {
		name         string
		path         string
		wantArtifact string
		wantKind     string
		wantOK       bool
	}{
		{"ok/asc", "a.tar.gz.asc", "a.tar.gz", KindSignature, true},
		{"ok/asc-in-directory", "dist/1.0/a.tar.gz.asc", "dist/1.0/a.tar.gz", KindSignature, true},
		{"ok/asc-upper-case-suffix", "a.zip.ASC", "a.zip", KindSignature, true},
		{"ok/sigstore", "a.whl.sigstore", "a.whl", KindSigstoreBundle, true},
		{"ok/sigstore-json", "a.whl.sigstore.json", "a.whl", KindSigstoreBundle, true},
		{"ok/bundle", "a.tgz.bundle", "a.tgz", KindSigstoreBundle, true},
		{"ok/sha256", "a.jar.sha256", "a.jar", KindChecksum, true},
		{"ok/sha512", "a.jar.sha512", "a.jar", KindChecksum, true},
		{"ok/sha1", "a.jar.sha1", "a.jar", KindDeprecatedChecksum, true},
		{"ok/md5", "a.jar.md5", "a.jar", KindForbiddenChecksum, true},
		{"ok/sig", "a.jar.sig", "a.jar", KindBinarySignature, true},
		{"ok/signature-of-checksum", "a.jar.sha512.asc", "a.jar.sha512", KindSignature, true},
		{"ok/signature-of-non-artifact", "README.txt.asc", "README.txt", KindSignature, true},
		{"fail/artifact", "a.tar.gz", "", "", false},
		{"fail/plain-json", "a.json", "", "", false},
		{"fail/bare-suffix", ".asc", "", "", false},
		{"fail/bare-suffix-in-directory", "dist/.sha512", "", "", false},
		{"fail/suffix-in-directory-name", "x.asc/README", "", "", false},
		{"fail/empty", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, k, ok := ArtifactOf(tt.path)
			if a != tt.wantArtifact || k != tt.wantKind || ok != tt.wantOK {
				t.Errorf("ArtifactOf(%q) = %q, %q, %v, want %q, %q, %v", tt.path, a, k, ok, tt.wantArtifact, tt.wantKind, tt.wantOK)
			}
		})
	}
}

func TestIsKnownArtifact(t *testing.T) {
	for _, s := range ArtifactSuffixes {
		t.Run("ok/"+s, func(t *testing.T) {
			if !IsKnownArtifact("dist/apache-foo-1.0" + s) {
				t.Errorf("IsKnownArtifact(%q) = false", "dist/apache-foo-1.0"+s)
			}
		})
	}
	tests := []struct {
		name string
		path string
		want bool
	}{
		{"ok/upper-case", "FOO.ZIP", true},
		{"ok/tar-bz2", "a.tar.bz2", true},
		{"ok/tar-zst", "a.tar.zst", true},
		{"fail/signature", "a.tar.gz.asc", false},
		{"fail/checksum", "a.zip.sha512", false},
		{"fail/readme", "README", false},
		{"fail/notes", "RELEASE-NOTES.txt", false},
		{"fail/bare-suffix", ".zip", false},
		{"fail/gz-alone", "a.gz", false},
		{"fail/suffix-in-directory-name", "a.zip/README", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsKnownArtifact(tt.path); got != tt.want {
				t.Errorf("IsKnownArtifact(%q) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

// TestIsArtifactIsDefaultDeny: every file that is not metadata needs
// signatures and checksums, whatever its suffix (issue 12: an unsigned
// .tar.zst, .7z, .sh, .iso or AppImage passed every check).
func TestIsArtifactIsDefaultDeny(t *testing.T) {
	for _, p := range []string{"a.tar.zst", "a.7z", "install.sh", "a.iso", "App-x86_64.AppImage", "bin/tool", "README",
		"RELEASE-NOTES.txt", "docs/index.html", "a.gz", ".zip", "a.zip/README", "a.json", "setup.py", "a.sha384"} {
		if !IsArtifact(p) {
			t.Errorf("IsArtifact(%q) = false: it would be published without a signature", p)
		}
	}
	for _, p := range []string{"a.tar.gz.asc", "a.zip.sha512", "a.zip.sha256", "a.whl.sigstore", "a.whl.sigstore.json", "a.tgz.bundle",
		"a.zip.sha1", "a.zip.md5", "a.zip.sig", "apache-foo-1.0.cdx.json", "bom.spdx.json", "dist/x.spdx", "x.CDX.JSON"} {
		if IsArtifact(p) {
			t.Errorf("IsArtifact(%q) = true for metadata", p)
		}
	}
	unsigned := []domain.UnsignedRule{{Pattern: "RELEASE-NOTES*.txt", Reason: "notes"}, {Pattern: "docs/*.html", Reason: "docs"}}
	for p, want := range map[string]bool{"RELEASE-NOTES.txt": false, "sub/RELEASE-NOTES-1.0.txt": false, "docs/index.html": false,
		"other/docs/index.html": true, "NOTES.txt": true, "a.tar.zst": true} {
		if got := NeedsSignature(p, unsigned); got != want {
			t.Errorf("NeedsSignature(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestChecksumAlgorithm(t *testing.T) {
	tests := []struct {
		path   string
		want   string
		wantOK bool
	}{
		{"a.zip.sha256", "sha256", true},
		{"dist/a.zip.SHA512", "sha512", true},
		{"a.zip.sha1", "", false},
		{"a.zip", "", false},
		{".sha512", "", false},
	}
	for _, tt := range tests {
		if got, ok := ChecksumAlgorithm(tt.path); got != tt.want || ok != tt.wantOK {
			t.Errorf("ChecksumAlgorithm(%q) = %q, %v, want %q, %v", tt.path, got, ok, tt.want, tt.wantOK)
		}
	}
}

// want is an expected finding: path, status and code, plus phrases the
// message must contain.
type want struct {
	path, status, code string
	phrases            []string
}

func TestCheckPaths(t *testing.T) {
	const a = "apache-foo-1.0-src.tar.gz"
	tests := []struct {
		name  string
		paths []string
		want  []want
	}{
		{"ok/signed-and-sha512", []string{a, a + ".asc", a + ".sha512"},
			[]want{{a, StatusNote, CodeArtifactSignedOpenPGP, []string{a + ".asc"}}}},
		{"ok/sha256-only", []string{a, a + ".asc", a + ".sha256"},
			[]want{{a, StatusNote, CodeArtifactSignedOpenPGP, nil}}},
		{"ok/sigstore-bundle", []string{"x.whl", "x.whl.sigstore", "x.whl.sha256"},
			[]want{{"x.whl", StatusNote, CodeArtifactSigstore, []string{"x.whl.sigstore"}}}},
		{"ok/sigstore-json", []string{"x.whl", "x.whl.sigstore.json", "x.whl.sha256"},
			[]want{{"x.whl", StatusNote, CodeArtifactSigstore, []string{"x.whl.sigstore.json"}}}},
		{"ok/bundle", []string{"x.whl", "x.whl.bundle", "x.whl.sha256"},
			[]want{{"x.whl", StatusNote, CodeArtifactSigstore, []string{"x.whl.bundle"}}}},
		{"ok/openpgp-and-sigstore-both-recorded", []string{"x.zip", "x.zip.asc", "x.zip.sigstore.json", "x.zip.sha512"},
			[]want{{"x.zip", StatusNote, CodeArtifactSignedOpenPGP, nil}, {"x.zip", StatusNote, CodeArtifactSigstore, nil}}},
		{"ok/upper-case-suffixes", []string{"X.ZIP", "X.ZIP.ASC", "X.ZIP.SHA512"},
			[]want{{"X.ZIP", StatusNote, CodeArtifactSignedOpenPGP, nil}}},
		{"ok/in-directories", []string{"binaries/x.zip", "binaries/x.zip.asc", "binaries/x.zip.sha512"},
			[]want{{"binaries/x.zip", StatusNote, CodeArtifactSignedOpenPGP, nil}}},
		{"ok/duplicates-checked-once", []string{"x.zip", "x.zip.asc", "x.zip.sha512", "x.zip"},
			[]want{{"x.zip", StatusNote, CodeArtifactSignedOpenPGP, nil}}},
		{"ok/signed-readme-with-checksum", []string{"README.txt", "README.txt.asc", "README.txt.sha512"},
			[]want{{"README.txt", StatusNote, CodeArtifactSignedOpenPGP, nil}}},
		{"ok/sbom-needs-no-signature", []string{"x.zip", "x.zip.asc", "x.zip.sha512", "x.cdx.json"},
			[]want{{"x.cdx.json", StatusNote, CodePathSBOM, []string{"bill of materials"}}, {"x.zip", StatusNote, CodeArtifactSignedOpenPGP, nil}}},
		{"ok/empty-revision", nil, nil},

		{"fail/no-signature", []string{a, a + ".sha512"},
			[]want{{a, StatusBlocker, CodeArtifactNoSignature, []string{"has no signature", a + ".asc", "gpg --armor --detach-sign", a + ".sigstore.json"}}}},
		{"fail/no-checksum", []string{a, a + ".asc"},
			[]want{{a, StatusNote, CodeArtifactSignedOpenPGP, nil}, {a, StatusBlocker, CodeArtifactNoChecksum, []string{"has no checksum", a + ".sha512", "sha512sum"}}}},
		{"fail/bare-artifact", []string{"x.jar"},
			[]want{{"x.jar", StatusBlocker, CodeArtifactNoSignature, nil}, {"x.jar", StatusBlocker, CodeArtifactNoChecksum, nil}}},
		{"fail/sha1-only", []string{"x.zip", "x.zip.asc", "x.zip.sha1"},
			[]want{
				{"x.zip", StatusNote, CodeArtifactSignedOpenPGP, nil},
				{"x.zip", StatusConcern, CodeArtifactSHA1Only, []string{"deprecated", "x.zip.sha512"}},
				{"x.zip.sha1", StatusConcern, CodePathSHA1Deprecated, []string{"deprecated", "x.zip.sha512"}},
			}},
		{"fail/sha1-next-to-sha512", []string{"x.zip", "x.zip.asc", "x.zip.sha1", "x.zip.sha512"},
			[]want{{"x.zip", StatusNote, CodeArtifactSignedOpenPGP, nil}, {"x.zip.sha1", StatusConcern, CodePathSHA1Deprecated, nil}}},
		{"fail/md5", []string{"x.zip", "x.zip.asc", "x.zip.md5", "x.zip.sha512"},
			[]want{{"x.zip", StatusNote, CodeArtifactSignedOpenPGP, nil}, {"x.zip.md5", StatusBlocker, CodePathMD5Forbidden, []string{"MD5 is broken", "x.zip.sha512"}}}},
		{"fail/md5-only", []string{"x.zip", "x.zip.asc", "x.zip.md5"},
			[]want{
				{"x.zip", StatusNote, CodeArtifactSignedOpenPGP, nil},
				{"x.zip", StatusBlocker, CodeArtifactNoChecksum, []string{"x.zip.md5 does not count"}},
				{"x.zip.md5", StatusBlocker, CodePathMD5Forbidden, nil},
			}},
		{"fail/binary-sig", []string{"x.zip", "x.zip.sig", "x.zip.sha512"},
			[]want{
				{"x.zip", StatusBlocker, CodeArtifactNoSignature, []string{"x.zip.sig does not count"}},
				{"x.zip.sig", StatusBlocker, CodePathSigForbidden, []string{"binary signature", "ASCII-armored", "x.zip.asc"}},
			}},
		{"fail/orphan-signature", []string{"x.zip.asc"},
			[]want{{"x.zip.asc", StatusBlocker, CodePathOrphanMetadata, []string{"an OpenPGP signature for x.zip", "upload x.zip or remove x.zip.asc"}}}},
		{"fail/orphan-checksum-in-directory", []string{"dist/x.zip.sha512", "x.zip", "x.zip.asc", "x.zip.sha512"},
			[]want{
				{"dist/x.zip.sha512", StatusBlocker, CodePathOrphanMetadata, []string{"dist/x.zip is not in this revision"}},
				{"x.zip", StatusNote, CodeArtifactSignedOpenPGP, nil},
			}},
		{"fail/orphan-each-kind", []string{"a.sigstore", "b.sigstore.json", "c.bundle", "d.sha256", "e.sha512"},
			[]want{
				{"a.sigstore", StatusBlocker, CodePathOrphanMetadata, []string{"Sigstore bundle"}},
				{"b.sigstore.json", StatusBlocker, CodePathOrphanMetadata, nil},
				{"c.bundle", StatusBlocker, CodePathOrphanMetadata, nil},
				{"d.sha256", StatusBlocker, CodePathOrphanMetadata, []string{"a checksum"}},
				{"e.sha512", StatusBlocker, CodePathOrphanMetadata, nil},
			}},
		{"fail/orphan-md5-is-both", []string{"x.zip.md5"},
			[]want{{"x.zip.md5", StatusBlocker, CodePathMD5Forbidden, nil}, {"x.zip.md5", StatusBlocker, CodePathOrphanMetadata, nil}}},
		{"fail/orphan-sha1-is-both", []string{"x.zip.sha1"},
			[]want{{"x.zip.sha1", StatusConcern, CodePathSHA1Deprecated, nil}, {"x.zip.sha1", StatusBlocker, CodePathOrphanMetadata, nil}}},
		{"fail/case-differs-is-orphan", []string{"x.zip", "X.zip.asc", "x.zip.sha512"},
			[]want{{"X.zip.asc", StatusBlocker, CodePathOrphanMetadata, nil}, {"x.zip", StatusBlocker, CodeArtifactNoSignature, nil}}},
		{"fail/dotfile", []string{".DS_Store"},
			[]want{{".DS_Store", StatusBlocker, CodePathDotfile, []string{"hidden", "remove it"}}}},
		{"fail/dot-directory", []string{".git/config", "src/.hidden/x.zip"},
			[]want{{".git/config", StatusBlocker, CodePathDotfile, []string{`".git"`}}, {"src/.hidden/x.zip", StatusBlocker, CodePathDotfile, []string{`".hidden"`}}}},
		{"fail/dot-artifact", []string{".x.zip", ".x.zip.asc", ".x.zip.sha512"},
			[]want{{".x.zip", StatusBlocker, CodePathDotfile, nil}, {".x.zip.asc", StatusBlocker, CodePathDotfile, nil}, {".x.zip.sha512", StatusBlocker, CodePathDotfile, nil}}},
		{"fail/keys-at-root", []string{"KEYS"},
			[]want{{"KEYS", StatusBlocker, CodePathKeysFile, []string{"KEYS file", "serves each committee's KEYS", "register any missing key"}}}},
		{"fail/keys-nested", []string{"dist/1.0/KEYS"},
			[]want{{"dist/1.0/KEYS", StatusBlocker, CodePathKeysFile, nil}}},
		{"fail/keys-lower-case", []string{"keys"},
			[]want{{"keys", StatusBlocker, CodePathKeysFile, nil}}},
		{"fail/invalid-paths", []string{"", "/etc/passwd", "../x.zip", "a/../b", "a//b", "a/./b", "a/", `a\b`, "a\x00b", "a\nb", "\xff"},
			[]want{
				{"", StatusBlocker, CodePathInvalid, []string{"empty"}},
				{"../x.zip", StatusBlocker, CodePathInvalid, []string{"'..'"}},
				{"/etc/passwd", StatusBlocker, CodePathInvalid, []string{"absolute"}},
				{"a\x00b", StatusBlocker, CodePathInvalid, []string{"control character"}},
				{"a\nb", StatusBlocker, CodePathInvalid, []string{"control character"}},
				{"a/", StatusBlocker, CodePathInvalid, []string{"trailing"}},
				{"a/../b", StatusBlocker, CodePathInvalid, []string{"'..'"}},
				{"a/./b", StatusBlocker, CodePathInvalid, nil},
				{"a//b", StatusBlocker, CodePathInvalid, nil},
				{`a\b`, StatusBlocker, CodePathInvalid, []string{"backslash"}},
				{"\xff", StatusBlocker, CodePathInvalid, []string{"UTF-8"}},
			}},
		{"fail/unknown-types-need-signatures", []string{"a.tar.zst", "a.7z", "install.sh", "a.iso", "App.AppImage", "tool", "docs/index.html"},
			[]want{
				{"App.AppImage", StatusBlocker, CodeArtifactNoSignature, []string{"--unsigned"}}, {"App.AppImage", StatusBlocker, CodeArtifactNoChecksum, nil},
				{"a.7z", StatusBlocker, CodeArtifactNoSignature, nil}, {"a.7z", StatusBlocker, CodeArtifactNoChecksum, nil},
				{"a.iso", StatusBlocker, CodeArtifactNoSignature, nil}, {"a.iso", StatusBlocker, CodeArtifactNoChecksum, nil},
				{"a.tar.zst", StatusBlocker, CodeArtifactNoSignature, nil}, {"a.tar.zst", StatusBlocker, CodeArtifactNoChecksum, nil},
				{"docs/index.html", StatusBlocker, CodeArtifactNoSignature, nil}, {"docs/index.html", StatusBlocker, CodeArtifactNoChecksum, nil},
				{"install.sh", StatusBlocker, CodeArtifactNoSignature, nil}, {"install.sh", StatusBlocker, CodeArtifactNoChecksum, nil},
				{"tool", StatusBlocker, CodeArtifactNoSignature, nil}, {"tool", StatusBlocker, CodeArtifactNoChecksum, nil},
			}},
		{"fail/secret-names", []string{"id_rsa", "deploy/id_ed25519", ".npmrc", "conf/.pypirc", "key.ppk", "id_rsa.pub"},
			[]want{
				{".npmrc", StatusBlocker, CodePathSecret, []string{"compromised"}},
				{"conf/.pypirc", StatusBlocker, CodePathSecret, nil},
				{"deploy/id_ed25519", StatusBlocker, CodePathSecret, []string{"SSH private key"}},
				{"id_rsa", StatusBlocker, CodePathSecret, nil},
				{"id_rsa.pub", StatusBlocker, CodeArtifactNoSignature, nil}, {"id_rsa.pub", StatusBlocker, CodeArtifactNoChecksum, nil},
				{"key.ppk", StatusBlocker, CodePathSecret, nil},
			}},
		{"fail/bad-names", []string{"evil\u202Egz.rat.exe", "caf\u0065\u0301.txt", "NUL.txt", "a:b"},
			[]want{
				{"NUL.txt", StatusBlocker, CodePathBadName, []string{"reserved device name", "rename it"}},
				{"a:b", StatusBlocker, CodePathBadName, []string{"Windows"}},
				{"caf\u0065\u0301.txt", StatusBlocker, CodePathBadName, []string{"NFC"}},
				{"evil\u202Egz.rat.exe", StatusBlocker, CodePathBadName, []string{"bidi"}},
			}},
		{"fail/reserved-name", []string{"trel-release-manifest.json", "sub/TREL-RELEASE-MANIFEST.JSON"},
			[]want{{"sub/TREL-RELEASE-MANIFEST.JSON", StatusBlocker, CodePathReserved, nil}, {"trel-release-manifest.json", StatusBlocker, CodePathReserved, []string{"trel writes"}}}},
		{"fail/case-collision", []string{"X.zip", "X.zip.asc", "X.zip.sha512", "x.zip", "x.zip.asc", "x.zip.sha512"},
			[]want{
				{"X.zip", StatusNote, CodeArtifactSignedOpenPGP, nil},
				{"x.zip", StatusBlocker, CodePathCollision, []string{"same name on Windows and macOS"}},
				{"x.zip", StatusNote, CodeArtifactSignedOpenPGP, nil},
				{"x.zip.asc", StatusBlocker, CodePathCollision, nil},
				{"x.zip.sha512", StatusBlocker, CodePathCollision, nil},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckPaths(tt.paths)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d findings, want %d:\n%s", len(got), len(tt.want), dump(got))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Path != w.path || g.Status != w.status || g.Code != w.code {
					t.Errorf("finding %d = %q %s %s, want %q %s %s\n%s", i, g.Path, g.Status, g.Code, w.path, w.status, w.code, dump(got))
				}
				for _, p := range w.phrases {
					if !strings.Contains(g.Message, p) {
						t.Errorf("finding %d message %q does not contain %q", i, g.Message, p)
					}
				}
			}
		})
	}
}

// TestCheckPathsIgnoresOrder proves the result depends on the set of paths
// only, so cached results stay valid when a listing comes back reordered.
func TestCheckPathsIgnoresOrder(t *testing.T) {
	paths := []string{"b.zip", "a.zip.asc", "KEYS", "a.zip", "README", "b.zip.md5", "a.zip.sha512"}
	want := CheckPaths(paths)
	reversed := slices.Clone(paths)
	slices.Reverse(reversed)
	if got := CheckPaths(reversed); !slices.Equal(got, want) {
		t.Errorf("reversed input gave\n%s\nwant\n%s", dump(got), dump(want))
	}
	if !slices.IsSortedFunc(want, func(x, y Finding) int { return strings.Compare(x.Path, y.Path) }) {
		t.Errorf("findings not sorted by path:\n%s", dump(want))
	}
}

func TestCheckPathsDoesNotModifyInput(t *testing.T) {
	paths := []string{"b.zip", "a.zip", "a.zip"}
	CheckPaths(paths)
	if !slices.Equal(paths, []string{"b.zip", "a.zip", "a.zip"}) {
		t.Errorf("input modified: %q", paths)
	}
}

// TestCheckPathsMessagesSayWhatToDo proves every message names a remedy.
func TestCheckPathsMessagesSayWhatToDo(t *testing.T) {
	paths := []string{"", ".x", "KEYS", "a.zip", "a.zip.md5", "a.zip.sig", "a.zip.sha1", "b.zip.asc", "README", "c.zip", "c.zip.asc", "c.zip.sigstore"}
	remedies := []string{"remove", "rename", "publish", "upload", "replace", "give it", "verifies"}
	for _, f := range CheckPaths(paths) {
		found := false
		for _, r := range remedies {
			found = found || strings.Contains(f.Message, r)
		}
		if !found {
			t.Errorf("%s %s: message %q names no remedy", f.Path, f.Code, f.Message)
		}
	}
}

func dump(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %q %s %s: %s\n", f.Path, f.Status, f.Code, f.Message)
	}
	return b.String()
}

// FuzzCheckPaths proves CheckPaths never panics, only reports on paths it was
// given, uses known statuses and codes, always explains itself and gives the
// same answer for the same set of paths.
func FuzzCheckPaths(f *testing.F) {
	f.Add("a.tar.gz\na.tar.gz.asc\na.tar.gz.sha512")
	f.Add("x.zip\nx.zip.md5\nx.zip.sig\nx.zip.sha1\nKEYS\n.git/config\nREADME")
	f.Add("../a\n/b\na//c\n\xff\nd.asc\n.asc\ne.sigstore.json")
	f.Add("")
	statuses := []string{StatusBlocker, StatusConcern, StatusSuggestion, StatusNote}
	codes := []string{CodePathInvalid, CodePathDotfile, CodePathKeysFile, CodePathMD5Forbidden, CodePathSigForbidden,
		CodePathSHA1Deprecated, CodePathOrphanMetadata, CodeArtifactNoSignature, CodeArtifactNoChecksum,
		CodeArtifactSHA1Only, CodeArtifactSignedOpenPGP, CodeArtifactSigstore, CodePathBadName, CodePathReserved,
		CodePathCollision, CodePathSecret, CodePathSBOM, CodePathUnsigned}
	f.Fuzz(func(t *testing.T, list string) {
		paths := strings.Split(list, "\n")
		got := CheckPaths(paths)
		for _, g := range got {
			if !slices.Contains(paths, g.Path) {
				t.Fatalf("finding for %q, which is not an input", g.Path)
			}
			if !slices.Contains(statuses, g.Status) || !slices.Contains(codes, g.Code) || g.Message == "" {
				t.Fatalf("bad finding %+v", g)
			}
		}
		slices.Reverse(paths)
		if again := CheckPaths(paths); !slices.Equal(again, got) {
			t.Fatalf("different findings for the same paths in another order")
		}
		for _, p := range paths {
			if a, _, ok := ArtifactOf(p); ok && (len(a) >= len(p) || !strings.HasPrefix(p, a)) {
				t.Fatalf("ArtifactOf(%q) = %q, not a proper prefix", p, a)
			}
		}
	})
}

// BenchmarkCheckPaths measures a large revision: 1,000 artifacts, each with
// an .asc and a .sha512 (3,000 paths).
func BenchmarkCheckPaths(b *testing.B) {
	paths := make([]string, 0, 3000)
	for i := range 1000 {
		a := fmt.Sprintf("binaries/%d/apache-foo-1.0.%d-bin.tar.gz", i%10, i)
		paths = append(paths, a, a+".asc", a+".sha512")
	}
	b.ReportAllocs()
	for b.Loop() {
		if got := CheckPaths(paths); len(got) != 1000 {
			b.Fatalf("got %d findings, want 1000", len(got))
		}
	}
}
