package domain

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Names people see: file paths of a release, committee, project and
// display names. Beyond being valid UTF-8 without control characters, a
// name must look like what it is: no invisible format or bidi controls
// (U+202E makes "gpj.exe" display as "exe.jpg"), one normalization form
// (NFC), and, for paths, something every file system a mirror or a
// downloader uses can hold.

// ReservedNames are the file names trel writes into a published release
// directory. A draft may not hold them (in any directory, any case), so the
// published tree is exactly the voted files plus trel's own.
var ReservedNames = []string{"trel-release-manifest.json", "trel-release-status.json"}

// IsFormatChar reports whether r is invisible formatting: Unicode category
// Cf (bidi embeddings, overrides and isolates, zero-width characters, the
// soft hyphen, the byte order mark...), a line or paragraph separator, or
// another default-ignorable code point that shows nothing (the Hangul
// fillers, which are letters, the combining grapheme joiner, variation
// selectors), with which two names look the same.
func IsFormatChar(r rune) bool {
	return unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' ||
		r >= 0x34f && (unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || unicode.Is(unicode.Variation_Selector, r))
}

// SafeText returns s unchanged when it holds only visible characters, and
// otherwise s quoted with Go escapes (\u202e), so that a hostile name can
// neither reverse the message around it nor hide part of itself. Use it
// wherever a name from the outside is printed to a terminal.
func SafeText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return isControl(r) || IsFormatChar(r) }) {
		return s
	}
	// strconv.Quote escapes what Unicode calls unprintable; some invisible
	// characters are letters (the Hangul fillers) and stay: escape them too.
	var b strings.Builder
	for _, r := range strconv.Quote(s) {
		switch {
		case !IsFormatChar(r):
			b.WriteRune(r)
		case r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// FoldKey is the form in which two names are "the same" on a
// case-insensitive or normalizing file system (Windows, macOS), or to the
// eye: NFKC (compatibility forms such as ligatures, full-width letters and
// superscripts become what they stand for), full Unicode case folding,
// the Turkish dotless ı and dotted İ folded to i (Windows upper-cases ı to
// I; a Turkish locale folds I to ı), then NFKC again.
func FoldKey(s string) string {
	k := cases.Fold().String(norm.NFKC.String(s))
	if strings.ContainsAny(k, "\u0131\u0307") {
		k = turkicI.Replace(k)
	}
	return norm.NFKC.String(k)
}

// turkicI folds the Turkish i's (ı, and İ which case folding turns into
// i + U+0307) into i.
var turkicI = strings.NewReplacer("\u0131", "i", "i\u0307", "i")

// windowsReserved are the device names Windows refuses as a file name,
// with or without an extension ("CON.txt" too).
var windowsReserved = func() map[string]bool {
	m := map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true, "CONIN$": true, "CONOUT$": true}
	for _, d := range []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³"} {
		m["COM"+d], m["LPT"+d] = true, true
	}
	return m
}()

// nameProblem says why s (a path segment when segment is true, otherwise a
// display name) is not a well-formed name, or returns "".
func nameProblem(s string, segment bool) string {
	switch {
	case !utf8.ValidString(s):
		return "it is not valid UTF-8"
	case strings.ContainsFunc(s, isControl):
		return "it contains NUL or control characters"
	case strings.ContainsFunc(s, IsFormatChar):
		return "it contains invisible Unicode formatting or bidi control characters (such as U+202E or U+200B), which make a name display as something else"
	case !norm.NFC.IsNormalString(s):
		return "it is not in Unicode normalization form C (NFC): compose accented letters (for example with `uconv -x nfc` or Python's unicodedata.normalize('NFC', name))"
	case strings.TrimSpace(s) != s:
		return "it starts or ends with a space"
	}
	if !segment {
		return ""
	}
	if i := strings.IndexAny(s, `<>:"|?*`); i >= 0 {
		return "it contains " + strconv.Quote(s[i:i+1]) + `, which Windows does not allow in file names (<>:"|?* are refused)`
	}
	if strings.HasSuffix(s, ".") {
		return "it ends with a dot, which Windows drops"
	}
	stem, _, _ := strings.Cut(s, ".")
	if windowsReserved[strings.ToUpper(strings.TrimRight(stem, " "))] {
		return strconv.Quote(stem) + " is a reserved device name on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9)"
	}
	return ""
}

// ValidateNewPath checks a path that is about to be written into a
// release (an upload or the target of a move): ValidatePath, and every
// segment a well-formed file name (no format or bidi controls, NFC, no
// leading or trailing space, no trailing dot, no Windows-reserved names or
// characters), and not one of the ReservedNames.
//
// Lookups, removals and move sources only need ValidatePath, so that a
// badly named file stored earlier can still be removed or renamed.
func ValidateNewPath(p string) error {
	if err := ValidatePath(p); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(p, "/") {
		if why := nameProblem(seg, true); why != "" {
			return Errorf(KindInvalid, "invalid path %s: %s", SafeText(p), why)
		}
	}
	base := p[strings.LastIndexByte(p, '/')+1:]
	for _, r := range ReservedNames {
		if strings.EqualFold(base, r) {
			return Errorf(KindInvalid, "invalid path %s: %s is written by trel when the release is published; rename your file", SafeText(p), r)
		}
	}
	return nil
}

// PathProblem is ValidateNewPath's reason as plain text ("" when p is
// fine), for checkers that report on paths stored earlier.
func PathProblem(p string) string {
	err := ValidateNewPath(p)
	if err == nil {
		return ""
	}
	return PublicMessage(err)
}

// FoldCollisions returns the pairs of different paths that are the same
// under FoldKey, sorted: such files overwrite each other on Windows and
// macOS. A file whose name folds to that of a directory ("NOTES" and
// "notes/a.txt") is a pair too, with the directory written "notes/".
func FoldCollisions(paths []string) [][2]string {
	sorted := append([]string(nil), paths...)
	sort.Strings(sorted)
	files := map[string]string{} // fold key -> first spelling
	dirs := map[string]string{}
	for _, p := range sorted {
		for i := 0; i < len(p); i++ {
			if p[i] == '/' {
				if _, ok := dirs[FoldKey(p[:i])]; !ok {
					dirs[FoldKey(p[:i])] = p[:i]
				}
			}
		}
	}
	var out [][2]string
	for _, p := range sorted {
		k := FoldKey(p)
		if q, ok := files[k]; ok {
			if q != p {
				out = append(out, [2]string{q, p})
			}
			continue
		}
		files[k] = p
		if d, ok := dirs[k]; ok && d != p {
			out = append(out, [2]string{p, d + "/"})
		}
	}
	return out
}
