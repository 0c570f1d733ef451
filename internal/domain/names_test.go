package domain

import (
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// nameCases are the hostile and tricky names of issue 12; the fuzz target
// starts from them.
var badSegments = []struct{ name, why string }{
	{"evil\u202Egz.rat.exe", "bidi"}, // RIGHT-TO-LEFT OVERRIDE: shows as "evilexe.tar.gz"
	{"a\u202Ab.tar.gz", "bidi"},      // LRE
	{"a\u202Bb.tar.gz", "bidi"},      // RLE
	{"a\u202Cb.tar.gz", "bidi"},      // PDF
	{"a\u202Db.tar.gz", "bidi"},      // LRO
	{"a\u2066b.tar.gz", "bidi"},      // LRI
	{"a\u2067b.tar.gz", "bidi"},      // RLI
	{"a\u2068b.tar.gz", "bidi"},      // FSI
	{"a\u2069b.tar.gz", "bidi"},      // PDI
	{"a\u200Bb.tar.gz", "bidi"},      // ZERO WIDTH SPACE
	{"a\u200Cb.tar.gz", "bidi"},      // ZWNJ
	{"a\u200Db.tar.gz", "bidi"},      // ZWJ
	{"a\u200Eb.tar.gz", "bidi"},      // LRM
	{"a\u200Fb.tar.gz", "bidi"},      // RLM
	{"\uFEFFa.tar.gz", "bidi"},       // BOM
	{"a\u00ADb.tar.gz", "bidi"},      // SOFT HYPHEN
	{"a\u061Cb.tar.gz", "bidi"},      // ARABIC LETTER MARK (Cf)
	{"a\u2060b.tar.gz", "bidi"},      // WORD JOINER (Cf)
	{"a\U000E0001b.tar.gz", "bidi"},  // LANGUAGE TAG (Cf)
	{"a\u2028b.tar.gz", "bidi"},      // LINE SEPARATOR
	{"a\u3164.tar.gz", "bidi"},       // HANGUL FILLER: a letter that shows nothing
	{"a\u115F.tar.gz", "bidi"},       // HANGUL CHOSEONG FILLER
	{"a\uFFA0.tar.gz", "bidi"},       // HALFWIDTH HANGUL FILLER
	{"a\u034Fb.tar.gz", "bidi"},      // COMBINING GRAPHEME JOINER
	{"a\uFE0Fb.tar.gz", "bidi"},      // VARIATION SELECTOR-16
	{"a\U000E0100b.tar.gz", "bidi"},  // VARIATION SELECTOR-17
	{"caf\u0065\u0301.txt", "NFC"},   // e + combining acute (NFD)
	{"A\u030A.txt", "NFC"},           // NFD Å
	{"CON", "reserved device name"},  // Windows devices
	{"con.txt", "reserved device name"},
	{"NUL.tar.gz", "reserved device name"},
	{"aux", "reserved device name"},
	{"PRN.zip", "reserved device name"},
	{"COM1", "reserved device name"},
	{"com9.log", "reserved device name"},
	{"LPT1.txt", "reserved device name"},
	{"lpt³", "reserved device name"},
	{"CONIN$", "reserved device name"},
	{"a<b", "Windows"},
	{"a>b", "Windows"},
	{"a:b", "Windows"},
	{`a"b`, "Windows"},
	{"a|b", "Windows"},
	{"a?b", "Windows"},
	{"a*b", "Windows"},
	{"a\x01b", "control"},
	{"a\x7fb", "control"},
	{"a\u0085b", "control"},
	{" a.txt", "space"},
	{"a.txt ", "space"},
	{"a.txt.", "dot"},
	{"notes...", "dot"},
	{"trel-release-manifest.json", "written by trel"},
	{"TREL-Release-Manifest.JSON", "written by trel"},
}

func TestValidateNewPath(t *testing.T) {
	for _, p := range []string{"a.tar.gz", "dist/a.tar.gz.asc", "ünïcode.txt", "日本語/ファイル.zip", "a..b", "CONTRIBUTING.md",
		"console.txt", "COM10.txt", "nul-terminated.txt", "a b.txt", "release notes/x", "café.txt", "trel-release-manifest.json.asc"} {
		if err := ValidateNewPath(p); err != nil {
			t.Errorf("ok/%q refused: %v", p, err)
		}
	}
	for _, c := range badSegments {
		for _, p := range []string{c.name, "dir/" + c.name} {
			err := ValidateNewPath(p)
			if !IsKind(err, KindInvalid) || !strings.Contains(PublicMessage(err), c.why) {
				t.Errorf("fail/%q: want an error mentioning %q, got %v", p, c.why, err)
				continue
			}
			msg := PublicMessage(err)
			if strings.ContainsFunc(msg, func(r rune) bool { return IsFormatChar(r) || isControl(r) }) {
				t.Errorf("fail/%q: the message carries the invisible character itself: %q", p, msg)
			}
		}
	}
	// The same rules hold inside a directory name.
	if err := ValidateNewPath("CON/a.txt"); err == nil {
		t.Error("fail/a reserved directory name was accepted")
	}
	// Lookups stay lenient so that a badly named file can be removed.
	if err := ValidatePath("evil\u202Egz.rat.exe"); err != nil {
		t.Errorf("ok/lookup of a stored bidi name refused: %v", err)
	}
}

func TestValidateNameRefusesInvisibleAndUnnormalized(t *testing.T) {
	for _, n := range []string{"Apache Tomcat", "Café Project", "Apache: The Server", "מערכת", "Commons <IO>"} {
		if err := ValidateName("project", n); err != nil {
			t.Errorf("ok/%q refused: %v", n, err)
		}
	}
	for _, n := range []string{"Tomcat\u202E", "To\u200Bmcat", "Cafe\u0301", " Tomcat", "Tomcat ", "\uFEFFTomcat", "Tom\u00ADcat", "a\u2067b"} {
		err := ValidateName("project", n)
		if !IsKind(err, KindInvalid) {
			t.Errorf("fail/%q accepted", n)
			continue
		}
		if strings.ContainsFunc(PublicMessage(err), IsFormatChar) {
			t.Errorf("fail/%q: the message carries the invisible character", n)
		}
	}
}

func TestFoldCollisions(t *testing.T) {
	cases := []struct {
		paths []string
		want  [][2]string
	}{
		{[]string{"a.txt", "b.txt"}, nil},
		{[]string{"README", "readme"}, [][2]string{{"README", "readme"}}},
		{[]string{"dist/A.tar.gz", "dist/a.tar.gz"}, [][2]string{{"dist/A.tar.gz", "dist/a.tar.gz"}}},
		{[]string{"Dist/a.tar.gz", "dist/a.tar.gz"}, [][2]string{{"Dist/a.tar.gz", "dist/a.tar.gz"}}},
		{[]string{"caf\u00e9.txt", "caf\u0065\u0301.txt"}, [][2]string{{"caf\u0065\u0301.txt", "caf\u00e9.txt"}}},
		{[]string{"STRASSE.txt", "straße.txt"}, [][2]string{{"STRASSE.txt", "straße.txt"}}},
		{[]string{"NOTES", "notes/a.txt"}, [][2]string{{"NOTES", "notes/"}}},
		// Other scripts: Windows upper-cases the Turkish dotless ı to I,
		// and a Turkish locale folds I to ı and İ to i.
		{[]string{"FILE.txt", "fıle.txt"}, [][2]string{{"FILE.txt", "fıle.txt"}}},
		{[]string{"fıle.txt", "file.txt"}, [][2]string{{"file.txt", "fıle.txt"}}},
		{[]string{"FİLE.txt", "file.txt"}, [][2]string{{"FİLE.txt", "file.txt"}}},
		// Compatibility forms look like what they stand for: ligatures,
		// full-width letters and digits, superscripts, the Kelvin sign.
		{[]string{"file.txt", "ﬁle.txt"}, [][2]string{{"file.txt", "ﬁle.txt"}}},
		{[]string{"apache-1.0.tar.gz", "ａpache-1.0.tar.gz"}, [][2]string{{"apache-1.0.tar.gz", "ａpache-1.0.tar.gz"}}},
		{[]string{"APACHE-1.0.zip", "ａｐａｃｈｅ-1.0.zip"}, [][2]string{{"APACHE-1.0.zip", "ａｐａｃｈｅ-1.0.zip"}}},
		{[]string{"notes-2.txt", "notes-².txt"}, [][2]string{{"notes-2.txt", "notes-².txt"}}},
		{[]string{"ǅ.txt", "dž.txt"}, [][2]string{{"dž.txt", "ǅ.txt"}}},
		{[]string{"a-1.0.tar.gz", "a-1․0.tar.gz"}, [][2]string{{"a-1.0.tar.gz", "a-1․0.tar.gz"}}},
		{[]string{"A/x", "a/y"}, nil}, // the directories merge, no file is lost
		{[]string{"x", "x"}, nil},
	}
	for _, c := range cases {
		if got := FoldCollisions(c.paths); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.paths, got, c.want)
		}
	}
}

func TestSafeText(t *testing.T) {
	if got := SafeText("a.tar.gz"); got != "a.tar.gz" {
		t.Errorf("plain name changed: %q", got)
	}
	if got := SafeText("日本語.zip"); got != "日本語.zip" {
		t.Errorf("visible non-ASCII changed: %q", got)
	}
	got := SafeText("evil\u202Egz.rat.exe")
	if got != `"evil\u202egz.rat.exe"` {
		t.Errorf("bidi name: %q", got)
	}
}

// FuzzNewPath: ValidateNewPath never panics; whatever it accepts is a
// structurally valid path whose every character is visible, in NFC, and
// which is no reserved name; its message never carries the hostile
// characters.
func FuzzNewPath(f *testing.F) {
	for _, c := range badSegments {
		f.Add(c.name)
		f.Add("dir/" + c.name)
	}
	for _, s := range []string{"a.tar.gz", "dist/a.tar.gz.asc", "ünïcode.txt", "../x", "/abs", `a\b`, ".git/config", "a//b", "", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := ValidateNewPath(p)
		if err != nil {
			msg := PublicMessage(err)
			if strings.ContainsFunc(msg, func(r rune) bool { return IsFormatChar(r) || isControl(r) }) || !utf8.ValidString(msg) {
				t.Fatalf("message of %q carries invisible or invalid text: %q", p, msg)
			}
			return
		}
		if ValidatePath(p) != nil {
			t.Fatalf("%q accepted by ValidateNewPath but not ValidatePath", p)
		}
		if !norm.NFC.IsNormalString(p) {
			t.Fatalf("%q accepted but not NFC", p)
		}
		for _, r := range p {
			if IsFormatChar(r) || isControl(r) || unicode.Is(unicode.Cf, r) || strings.ContainsRune(`<>:"|?*\`, r) {
				t.Fatalf("%q accepted with %U", p, r)
			}
		}
		for seg := range strings.SplitSeq(p, "/") {
			if strings.TrimSpace(seg) != seg || strings.HasSuffix(seg, ".") {
				t.Fatalf("%q accepted with segment %q", p, seg)
			}
		}
		if len(FoldCollisions([]string{p, p})) != 0 {
			t.Fatalf("a path collides with itself: %q", p)
		}
	})
}

// FuzzName: ValidateName accepts only visible NFC text without leading or
// trailing space.
func FuzzName(f *testing.F) {
	for _, c := range badSegments {
		f.Add(c.name)
	}
	f.Add("Apache Tomcat")
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateName("project", s) != nil {
			return
		}
		if strings.ContainsFunc(s, func(r rune) bool { return IsFormatChar(r) || isControl(r) }) || !norm.NFC.IsNormalString(s) || strings.TrimSpace(s) != s {
			t.Fatalf("accepted %q", s)
		}
	})
}

// FuzzFoldCollisions: two different paths with the same fold key are
// always reported, and a path never collides with itself.
func FuzzFoldCollisions(f *testing.F) {
	for _, pair := range [][2]string{{"README", "readme"}, {"dist/A.tar.gz", "dist/a.tar.gz"}, {"caf\u00e9.txt", "caf\u0065\u0301.txt"},
		{"STRASSE.txt", "straße.txt"}, {"NOTES", "notes/a.txt"}, {"A/x", "a/y"}, {"x", "x"}, {"\u212a", "k"},
		{"FILE", "fıle"}, {"FİLE", "file"}, {"\ufb01le", "file"}, {"\uff41", "A"}, {"x\u00b2", "x2"}} {
		f.Add(pair[0], pair[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		got := FoldCollisions([]string{a, b})
		if a != b && FoldKey(a) == FoldKey(b) && len(got) == 0 {
			t.Fatalf("%q and %q fold together but were not reported", a, b)
		}
		if a == b && len(got) != 0 {
			t.Fatalf("%q collides with itself: %q", a, got)
		}
		for _, p := range got {
			if p[0] == p[1] {
				t.Fatalf("a pair of equal names: %q", p)
			}
		}
	})
}
