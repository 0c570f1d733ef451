package rules

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// Digests of the files "hello\n" and "world\n". The fixtures below were
// produced from those files by sha512sum, sha256sum --tag, openssl dgst and
// gpg --print-md (GnuPG 2.2).
var (
	hello512 = sha512.Sum512([]byte("hello\n"))
	world512 = sha512.Sum512([]byte("world\n"))
	hello256 = sha256.Sum256([]byte("hello\n"))
)

const (
	hello512Hex = "e7c22b994c59d9cf2b48e549b1e24666636045930d3da7c1acb299d1c3b7f931f94aae41edda2c2b207a36e10f8bcb8d45223e54878f5b316e7ce3b6bc019629"
	world512Hex = "e0494295cc1dfdd443d09f81913881a112745174778cc0c224ccc7137024fe41ddc73d909a7ea0f590f253a6a3c470cb9872b9e1ba06e61fbb7a5e9455eba6bb"
	hello256Hex = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

	// gpg --print-md SHA512 apache-foo-1.2.3-source-release.tar.gz: the name
	// fills 40 columns, so gpg wraps after four 8-hex groups and aligns.
	gpgApache = "apache-foo-1.2.3-source-release.tar.gz: E7C22B99 4C59D9CF 2B48E549 B1E24666\n" +
		"                                        63604593 0D3DA7C1 ACB299D1 C3B7F931\n" +
		"                                        F94AAE41 EDDA2C2B 207A36E1 0F8BCB8D\n" +
		"                                        45223E54 878F5B31 6E7CE3B6 BC019629\n"

	// gpg --print-md SHA512 with a name longer than 40 columns: the digest
	// starts at column 0 on the next line, then continues indented by one.
	gpgLongName = "apache-something-very-long-name-2.10.0-incubating-bin.tar.gz: \n" +
		"E7C22B99 4C59D9CF 2B48E549 B1E24666 63604593 0D3DA7C1 ACB299D1 C3B7F931 F94AAE41\n" +
		" EDDA2C2B 207A36E1 0F8BCB8D 45223E54 878F5B31 6E7CE3B6 BC019629\n"

	// gpg --print-md SHA512 a.zip b.zip
	gpgTwoFiles = "a.zip: E7C22B99 4C59D9CF 2B48E549 B1E24666 63604593 0D3DA7C1 ACB299D1 C3B7F931\n" +
		"       F94AAE41 EDDA2C2B 207A36E1 0F8BCB8D 45223E54 878F5B31 6E7CE3B6 BC019629\n" +
		"b.zip: E0494295 CC1DFDD4 43D09F81 913881A1 12745174 778CC0C2 24CCC713 7024FE41\n" +
		"       DDC73D90 9A7EA0F5 90F253A6 A3C470CB 9872B9E1 BA06E61F BB7A5E94 55EBA6BB\n"
)

func TestParseChecksumFile(t *testing.T) {
	hello := hello512[:]
	world := world512[:]
	one := func(name string) []ChecksumEntry { return []ChecksumEntry{{Name: name, Digest: hello}} }

	tests := []struct {
		name string
		data string
		algo string
		want []ChecksumEntry
	}{
		{"ok/bare-lower-case", hello512Hex, "sha512", one("")},
		{"ok/bare-upper-case", strings.ToUpper(hello512Hex), "sha512", one("")},
		{"ok/bare-trailing-newline", hello512Hex + "\n", "sha512", one("")},
		{"ok/bare-trailing-blank-lines", hello512Hex + "\n\n\n", "sha512", one("")},
		{"ok/bare-crlf", hello512Hex + "\r\n\r\n", "sha512", one("")},
		{"ok/bare-leading-space", "  " + hello512Hex + "  \n", "sha512", one("")},
		{"ok/bare-bom", "\ufeff" + hello512Hex + "\n", "sha512", one("")},
		{"ok/bare-sha256", hello256Hex + "\n", "sha256", []ChecksumEntry{{Digest: hello256[:]}}},
		{"ok/bare-algo-upper-case", hello256Hex, "SHA256", []ChecksumEntry{{Digest: hello256[:]}}},
		{"ok/bare-gpg-groups-without-name", "E7C22B99 4C59D9CF 2B48E549 B1E24666 63604593 0D3DA7C1 ACB299D1 C3B7F931\n" +
			"F94AAE41 EDDA2C2B 207A36E1 0F8BCB8D 45223E54 878F5B31 6E7CE3B6 BC019629\n", "sha512", one("")},

		{"ok/gnu-text-mode", hello512Hex + "  a.zip\n", "sha512", one("a.zip")},
		{"ok/gnu-binary-mode", hello512Hex + " *a.zip\n", "sha512", one("a.zip")},
		{"ok/gnu-single-space", hello512Hex + " a.zip\n", "sha512", one("a.zip")},
		{"ok/gnu-tab", hello512Hex + "\ta.zip\n", "sha512", one("a.zip")},
		{"ok/gnu-dot-slash-kept", hello512Hex + "  ./a.zip\n", "sha512", one("./a.zip")},
		{"ok/gnu-upper-case-crlf", strings.ToUpper(hello512Hex) + "  a.zip\r\n", "sha512", one("a.zip")},
		{"ok/gnu-bom", "\ufeff" + hello512Hex + "  a.zip\n", "sha512", one("a.zip")},
		{"ok/gnu-hex-looking-name", hello512Hex + "  cafe\n", "sha512", one("cafe")},
		{"ok/gnu-name-with-spaces", hello512Hex + "  my file.zip\n", "sha512", one("my file.zip")},
		{"ok/gnu-sha256", hello256Hex + "  a.zip\n", "sha256", []ChecksumEntry{{Name: "a.zip", Digest: hello256[:]}}},
		{"ok/gnu-several-lines", hello512Hex + "  a.zip\n" + world512Hex + "  b.zip\n\n", "sha512",
			[]ChecksumEntry{{Name: "a.zip", Digest: hello}, {Name: "b.zip", Digest: world}}},
		{"ok/gnu-comment-lines", "# sha512sum of the release\n" + hello512Hex + "  a.zip\n", "sha512", one("a.zip")},

		{"ok/bsd-tag", "SHA512 (a.zip) = " + hello512Hex + "\n", "sha512", one("a.zip")},
		{"ok/bsd-sha256", "SHA256 (a.zip) = " + hello256Hex + "\n", "sha256", []ChecksumEntry{{Name: "a.zip", Digest: hello256[:]}}},
		{"ok/bsd-openssl", "SHA2-512(a.zip)= " + hello512Hex + "\n", "sha512", one("a.zip")},
		{"ok/bsd-dashed", "SHA-512 (a.zip) = " + strings.ToUpper(hello512Hex) + "\r\n", "sha512", one("a.zip")},
		{"ok/bsd-name-with-parens", "SHA512 (a (1).zip) = " + hello512Hex, "sha512", one("a (1).zip")},
		{"ok/bsd-several-lines", "SHA512 (a.zip) = " + hello512Hex + "\nSHA512 (b.zip) = " + world512Hex + "\n", "sha512",
			[]ChecksumEntry{{Name: "a.zip", Digest: hello}, {Name: "b.zip", Digest: world}}},

		{"ok/gpg-apache-aligned", gpgApache, "sha512", one("apache-foo-1.2.3-source-release.tar.gz")},
		{"ok/gpg-apache-crlf", strings.ReplaceAll(gpgApache, "\n", "\r\n"), "sha512", one("apache-foo-1.2.3-source-release.tar.gz")},
		{"ok/gpg-long-name", gpgLongName, "sha512", one("apache-something-very-long-name-2.10.0-incubating-bin.tar.gz")},
		{"ok/gpg-two-files", gpgTwoFiles, "sha512", []ChecksumEntry{{Name: "a.zip", Digest: hello}, {Name: "b.zip", Digest: world}}},
		{"ok/gpg-one-line-sha256", "a.zip: 5891B5B5 22D5DF08 6D0FF0B1 10FBD9D2 1BB4FC71 63AF34D0 8286A2E8 46F6BE03\n", "sha256",
			[]ChecksumEntry{{Name: "a.zip", Digest: hello256[:]}}},
		{"ok/gpg-trailing-blank-lines", gpgApache + "\n\n", "sha512", one("apache-foo-1.2.3-source-release.tar.gz")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChecksumFile([]byte(tt.data), tt.algo)
			if err != nil {
				t.Fatalf("ParseChecksumFile: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d entries %+v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if got[i].Name != tt.want[i].Name || !bytes.Equal(got[i].Digest, tt.want[i].Digest) {
					t.Errorf("entry %d = {%q %x}, want {%q %x}", i, got[i].Name, got[i].Digest, tt.want[i].Name, tt.want[i].Digest)
				}
			}
		})
	}
}

func TestParseChecksumFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		algo    string
		wantErr string // a phrase saying what was expected or found
	}{
		{"fail/empty", "", "sha512", "holds no digest; expected a SHA-512 digest of 128 hex characters"},
		{"fail/only-blank-lines", "\n\r\n  \n", "sha512", "holds no digest"},
		{"fail/only-bom", "\ufeff", "sha512", "holds no digest"},
		{"fail/only-comments", "# nothing here\n", "sha512", "holds no digest"},
		{"fail/too-large", strings.Repeat(hello512Hex+"  a.zip\n", 1000), "sha512", "at most 65536 bytes"},
		{"fail/not-utf8", "\xff\xfe" + hello512Hex, "sha512", "not UTF-8"},
		{"fail/bare-sha256-in-sha512-file", hello256Hex + "\n", "sha512", "expected a SHA-512 digest of 128 hex characters, found 64"},
		{"fail/bare-sha512-in-sha256-file", hello512Hex + "\n", "sha256", "expected a SHA-256 digest of 64 hex characters, found 128"},
		{"fail/bare-truncated", hello512Hex[:127], "sha512", "found 127"},
		{"fail/two-bare-digests", hello512Hex + "\n" + world512Hex + "\n", "sha512", "only allowed when it is the only one"},
		{"fail/bare-grouped-missing-group", "E7C22B99 4C59D9CF 2B48E549 B1E24666\n", "sha512", "expected a SHA-512 digest of 128 hex characters"},
		{"fail/bare-non-hex", "g" + hello512Hex[1:], "sha512", "unrecognised line; expected a bare digest"},
		{"fail/gnu-wrong-length", hello256Hex + "  a.zip\n", "sha512", "line 1"},
		{"fail/gnu-non-hex", "z" + hello512Hex[1:] + "  a.zip\n", "sha512", "unrecognised line"},
		{"fail/gnu-second-line-bad", hello512Hex + "  a.zip\n" + hello512Hex[:100] + "  b.zip\n", "sha512", "line 2"},
		{"fail/bare-mixed-with-named", hello512Hex + "  a.zip\n" + world512Hex + "\nSHA512 (c.zip) = " + hello512Hex, "sha512", "only allowed when it is the only one"},
		{"fail/bsd-wrong-algorithm", "SHA256 (a.zip) = " + hello256Hex + "\n", "sha512", "the line is for SHA256, but this is a .sha512 file"},
		{"fail/bsd-md5", "MD5 (a.zip) = 0123456789abcdef0123456789abcdef\n", "sha512", "the line is for MD5"},
		{"fail/bsd-short-digest", "SHA512 (a.zip) = abcd\n", "sha512", `expected a SHA-512 digest of 128 hex characters after '=', found "abcd"`},
		{"fail/bsd-non-hex-digest", "SHA512 (a.zip) = " + strings.Repeat("x", 128) + "\n", "sha512", "after '='"},
		{"fail/gpg-truncated", strings.Join(strings.Split(gpgApache, "\n")[:3], "\n") + "\n", "sha512", "ends in the middle of the gpg --print-md digest"},
		{"fail/gpg-too-long", gpgApache[:len(gpgApache)-1] + " ABCD\n", "sha512", "too long: expected 128 hex characters"},
		{"fail/gpg-sha512-in-sha256-file", gpgApache, "sha256", "too long: expected 64"},
		{"fail/gpg-blank-line-inside", strings.Replace(gpgApache, "\n", "\n\n", 1), "sha512", "expected the rest of the gpg --print-md digest"},
		{"fail/gpg-non-hex-continuation", strings.Replace(gpgApache, "63604593", "6360459Z", 1), "sha512", "expected the rest"},
		{"fail/html-page", "<html><body>Not Found</body></html>\n", "sha512", "unrecognised line"},
		{"fail/prose", "see the release notes\n", "sha512", "unrecognised line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChecksumFile([]byte(tt.data), tt.algo)
			if err == nil {
				t.Fatalf("ParseChecksumFile = %+v, want an error", got)
			}
			if !errors.Is(err, ErrMalformedChecksum) {
				t.Errorf("error %q does not wrap ErrMalformedChecksum", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseChecksumFileUnsupportedAlgorithm(t *testing.T) {
	for _, algo := range []string{"", "md5", "sha1", "sha384"} {
		t.Run("fail/"+algo, func(t *testing.T) {
			_, err := ParseChecksumFile([]byte(hello512Hex), algo)
			if !errors.Is(err, ErrUnsupportedAlgorithm) || errors.Is(err, ErrMalformedChecksum) {
				t.Fatalf("err = %v, want ErrUnsupportedAlgorithm only", err)
			}
		})
	}
}

func TestParseChecksumFileLongLineErrorIsShort(t *testing.T) {
	_, err := ParseChecksumFile([]byte(strings.Repeat("nonsense ", 5000)), "sha512")
	if err == nil || len(err.Error()) > 400 {
		t.Fatalf("err = %.500v, want a short error", err)
	}
}

func TestMatchChecksum(t *testing.T) {
	hello := hello512[:]
	world := world512[:]
	named := func(name string) []ChecksumEntry { return []ChecksumEntry{{Name: name, Digest: hello}} }
	twoFiles := []ChecksumEntry{{Name: "a.zip", Digest: hello}, {Name: "b.zip", Digest: world}}

	tests := []struct {
		name     string
		entries  []ChecksumEntry
		artifact string
		digest   []byte
		wantCode string
		wantMsg  []string
	}{
		{"ok/bare-digest", []ChecksumEntry{{Digest: hello}}, "a.zip", hello, CodeChecksumOK, []string{"SHA-512 of a.zip matches", "e7c22b994c59d9cf..."}},
		{"ok/named", named("a.zip"), "a.zip", hello, CodeChecksumOK, nil},
		{"ok/named-artifact-in-directory", named("a.zip"), "dist/1.0/a.zip", hello, CodeChecksumOK, nil},
		{"ok/binary-marker", named("*a.zip"), "a.zip", hello, CodeChecksumOK, nil},
		{"ok/dot-slash", named("./a.zip"), "a.zip", hello, CodeChecksumOK, nil},
		{"ok/binary-marker-and-dot-slash", named("*./a.zip"), "a.zip", hello, CodeChecksumOK, nil},
		{"ok/several-files-picks-first", twoFiles, "a.zip", hello, CodeChecksumOK, nil},
		{"ok/several-files-picks-second", twoFiles, "b.zip", world, CodeChecksumOK, nil},
		{"ok/duplicate-line-same-digest", append(named("a.zip"), named("a.zip")...), "a.zip", hello, CodeChecksumOK, nil},
		{"ok/sha256", []ChecksumEntry{{Name: "a.zip", Digest: hello256[:]}}, "a.zip", hello256[:], CodeChecksumOK, []string{"SHA-256"}},

		{"fail/mismatch", named("a.zip"), "a.zip", world, CodeChecksumMismatch,
			[]string{"checksum mismatch for a.zip", "the checksum file says e7c22b994c59d9cf...", "the artifact's SHA-512 is e0494295cc1dfdd4...", "re-upload"}},
		{"fail/mismatch-bare", []ChecksumEntry{{Digest: world}}, "a.zip", hello, CodeChecksumMismatch, []string{"e0494295cc1dfdd4...", "e7c22b994c59d9cf..."}},
		{"fail/wrong-name", named("b.zip"), "a.zip", hello, CodeChecksumWrongName, []string{`is for "b.zip"`, `the artifact is "a.zip"`, `expected the name "a.zip"`}},
		{"fail/name-with-directory", named("target/a.zip"), "a.zip", hello, CodeChecksumWrongName, []string{`"target/a.zip"`}},
		{"fail/name-differs-in-case", named("A.ZIP"), "a.zip", hello, CodeChecksumWrongName, nil},
		{"fail/missing-line", twoFiles, "c.zip", hello, CodeChecksumMissingEntry, []string{`lists 2 files ("a.zip", "b.zip") but none is "c.zip"`}},
		{"fail/missing-line-many", []ChecksumEntry{{Name: "a", Digest: hello}, {Name: "b", Digest: hello}, {Name: "c", Digest: hello}, {Name: "d", Digest: hello}, {Name: "e", Digest: hello}},
			"f.zip", hello, CodeChecksumMissingEntry, []string{`"a", "b", "c", and 2 more`}},
		{"fail/ambiguous", append(named("a.zip"), ChecksumEntry{Name: "a.zip", Digest: world}), "a.zip", hello, CodeChecksumAmbiguous, []string{"twice with different digests"}},
		{"fail/no-entries", nil, "a.zip", hello, CodeChecksumMalformed, []string{"holds no digest"}},
		{"fail/length-mismatch", named("a.zip"), "a.zip", hello256[:], CodeChecksumMalformed, []string{"64-byte digest", "SHA-256 is 32 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := MatchChecksum(tt.entries, tt.artifact, tt.digest)
			if v.Code != tt.wantCode {
				t.Fatalf("Code = %q (%s), want %q", v.Code, v.Message, tt.wantCode)
			}
			wantPass := tt.wantCode == CodeChecksumOK
			wantStatus := StatusBlocker
			if wantPass {
				wantStatus = StatusNote
			}
			if v.Passed != wantPass || v.Status != wantStatus {
				t.Errorf("Passed, Status = %v, %q, want %v, %q", v.Passed, v.Status, wantPass, wantStatus)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(v.Message, m) {
					t.Errorf("message %q does not contain %q", v.Message, m)
				}
			}
		})
	}
}

// TestMatchChecksumShowsOnlyDigestPrefixes proves that messages never carry
// more than 16 hex characters of a digest.
func TestMatchChecksumShowsOnlyDigestPrefixes(t *testing.T) {
	v := MatchChecksum([]ChecksumEntry{{Name: "a.zip", Digest: hello512[:]}}, "a.zip", world512[:])
	for _, full := range []string{hello512Hex, world512Hex} {
		if strings.Contains(v.Message, full[:17]) {
			t.Errorf("message %q shows more than 16 hex characters of %s", v.Message, full)
		}
		if !strings.Contains(v.Message, full[:16]) {
			t.Errorf("message %q does not show the first 16 hex characters of %s", v.Message, full)
		}
	}
}

func TestCheckChecksumFile(t *testing.T) {
	tests := []struct {
		name       string
		data       string
		algo       string
		artifact   string
		digest     []byte
		wantStatus string
		wantCode   string
	}{
		{"ok/gpg-apache", gpgApache, "sha512", "apache-foo-1.2.3-source-release.tar.gz", hello512[:], StatusNote, CodeChecksumOK},
		{"ok/gnu-several-lines", gpgTwoFiles, "sha512", "b.zip", world512[:], StatusNote, CodeChecksumOK},
		{"ok/bsd", "SHA256 (a.zip) = " + hello256Hex, "sha256", "a.zip", hello256[:], StatusNote, CodeChecksumOK},
		{"fail/gpg-other-file", gpgApache, "sha512", "apache-foo-1.2.4-source-release.tar.gz", hello512[:], StatusBlocker, CodeChecksumWrongName},
		{"fail/mismatch", hello512Hex, "sha512", "a.zip", world512[:], StatusBlocker, CodeChecksumMismatch},
		{"fail/malformed", "not a checksum", "sha512", "a.zip", hello512[:], StatusBlocker, CodeChecksumMalformed},
		{"fail/unsupported-algorithm-is-exception", hello512Hex, "md5", "a.zip", hello512[:], StatusException, CodeChecksumInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := CheckChecksumFile([]byte(tt.data), tt.algo, tt.artifact, tt.digest)
			if v.Status != tt.wantStatus || v.Code != tt.wantCode {
				t.Fatalf("got %q %q (%s), want %q %q", v.Status, v.Code, v.Message, tt.wantStatus, tt.wantCode)
			}
			if v.Message == "" {
				t.Error("empty message")
			}
		})
	}
}

// FuzzParseChecksumFile proves the parser never panics and that whatever it
// accepts is well formed: at least one entry, every digest of the right
// length, a nameless entry only when alone, and a GNU re-rendering of simple
// names parses back to the same entries.
func FuzzParseChecksumFile(f *testing.F) {
	seeds := []string{
		"", hello512Hex, hello512Hex + "  a.zip\n", hello512Hex + " *a.zip\r\n",
		"SHA512 (a.zip) = " + hello512Hex, "SHA2-512(a.zip)= " + hello512Hex,
		gpgApache, gpgLongName, gpgTwoFiles, "\ufeff" + hello256Hex,
		"a.zip:\n", "SHA512 (", "x(y)=", ":", "a: 1\n 2\n", "\\" + hello512Hex + "  a\\nb",
	}
	for _, s := range seeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, use512 bool) {
		algo, size := "sha256", 32
		if use512 {
			algo, size = "sha512", 64
		}
		entries, err := ParseChecksumFile(data, algo)
		if err != nil {
			if !errors.Is(err, ErrMalformedChecksum) {
				t.Fatalf("error %v does not wrap ErrMalformedChecksum", err)
			}
			if entries != nil {
				t.Fatalf("entries %v returned with error", entries)
			}
			return
		}
		if len(entries) == 0 {
			t.Fatal("no entries and no error")
		}
		var gnu strings.Builder
		simple := true
		for _, e := range entries {
			if len(e.Digest) != size {
				t.Fatalf("digest length %d, want %d", len(e.Digest), size)
			}
			if e.Name == "" && len(entries) > 1 {
				t.Fatal("nameless entry among several")
			}
			if e.Name != strings.TrimSpace(e.Name) || strings.ContainsAny(e.Name, "\r\n\t") || strings.HasPrefix(e.Name, "*") {
				simple = false
			}
			gnu.WriteString(hex.EncodeToString(e.Digest) + "  " + e.Name + "\n")
		}
		// Matching must not panic either; a few names suffice, and matching
		// every entry would make large inputs quadratic and the fuzzer slow.
		for _, e := range entries[:min(len(entries), 3)] {
			if v := MatchChecksum(entries, e.Name, e.Digest); v.Message == "" {
				t.Fatal("verdict without a message")
			}
		}
		if !simple || gnu.Len() > MaxChecksumFileSize {
			return
		}
		again, err := ParseChecksumFile([]byte(gnu.String()), algo)
		if err != nil {
			t.Fatalf("re-parsing %q: %v", gnu.String(), err)
		}
		if len(again) != len(entries) {
			t.Fatalf("re-parse gave %d entries, want %d", len(again), len(entries))
		}
		for i := range again {
			if again[i].Name != entries[i].Name || !bytes.Equal(again[i].Digest, entries[i].Digest) {
				t.Fatalf("re-parse entry %d = %q, want %q", i, again[i].Name, entries[i].Name)
			}
		}
	})
}
