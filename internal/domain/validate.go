package domain

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// ValidateKey checks a committee or project key: lower-case letters, digits
// and single hyphens, starting with a letter, 2 to 64 characters.
func ValidateKey(what, key string) error {
	if len(key) < 2 || len(key) > 64 {
		return Errorf(KindInvalid, "%s key %q must be 2 to 64 characters long", what, key)
	}
	for i, r := range key {
		switch {
		case r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		case r == '-' && i > 0 && i < len(key)-1 && key[i-1] != '-':
		default:
			return Errorf(KindInvalid, "%s key %q may only use lower-case letters, digits and single hyphens, and must start with a letter (for example %q)", what, key, "my-project")
		}
	}
	return nil
}

// ValidateUsername checks a username: lower-case letters, digits, '-', '_'
// and '.', starting with a letter, at most 64 characters.
func ValidateUsername(name string) error {
	if name == "" || len(name) > 64 {
		return Errorf(KindInvalid, "username must be 1 to 64 characters long")
	}
	for i, r := range name {
		ok := (r >= 'a' && r <= 'z') || (i > 0 && ((r >= '0' && r <= '9') || r == '-' || r == '_' || r == '.'))
		if !ok {
			return Errorf(KindInvalid, "username %q may only use lower-case letters, digits, '-', '_' and '.', and must start with a letter", name)
		}
	}
	return nil
}

// ValidateEmail checks that s is a bare e-mail address and returns it in
// lower case.
func ValidateEmail(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 {
		return "", Errorf(KindInvalid, "%q is not a valid e-mail address: give a bare address such as alice@example.org", s)
	}
	return strings.ToLower(s), nil
}

// ValidateName checks a human-readable name (committee, project, user,
// token or key name): printable text in NFC, without invisible formatting
// or bidi controls and without leading or trailing spaces.
func ValidateName(what, s string) error {
	if strings.TrimSpace(s) == "" {
		return Errorf(KindInvalid, "%s name must not be empty", what)
	}
	if len(s) > 200 || !utf8.ValidString(s) || strings.ContainsFunc(s, isControl) {
		return Errorf(KindInvalid, "%s name must be at most 200 characters of printable text", what)
	}
	if why := nameProblem(s, false); why != "" {
		return Errorf(KindInvalid, "%s name %s is refused: %s", what, SafeText(s), why)
	}
	return nil
}

// ValidateVersion checks a release version: letters, digits, '.', '-' and
// '+'; it starts and ends with a letter or digit, and two punctuation marks
// never follow each other. At most 64 characters.
func ValidateVersion(v string) error {
	const hint = "a version uses letters, digits, '.', '-' and '+', starts and ends with a letter or digit, and never has two punctuation marks in a row (for example 1.2.0-rc1)"
	if v == "" || len(v) > 64 {
		return Errorf(KindInvalid, "invalid version %q: %s, at most 64 characters", v, hint)
	}
	prevPunct := true // so that a leading punctuation mark is refused
	for _, r := range v {
		alnum := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		punct := r == '.' || r == '-' || r == '+'
		if !alnum && !punct {
			return Errorf(KindInvalid, "invalid version %q: %s", v, hint)
		}
		if punct && prevPunct {
			return Errorf(KindInvalid, "invalid version %q: %s", v, hint)
		}
		prevPunct = punct
	}
	if prevPunct {
		return Errorf(KindInvalid, "invalid version %q: %s", v, hint)
	}
	return nil
}

// Limits on release paths.
const (
	MaxPathLen     = 1024
	MaxSegmentLen  = 255
	MaxPathDepth   = 16
	MaxFilesPerRev = 10000
)

// ValidatePath checks a file path inside a release. Paths are relative,
// use '/' as separator and may not escape the release or hide files: no
// "..", no absolute paths, no backslashes, no NUL or control characters,
// no empty segments and no dotfiles.
func ValidatePath(p string) error {
	fail := func(why string) error {
		return Errorf(KindInvalid, "invalid path %q: %s", sanitize(p), why)
	}
	switch {
	case p == "":
		return fail("the path is empty")
	case len(p) > MaxPathLen:
		return fail("the path is longer than 1024 bytes")
	case !utf8.ValidString(p):
		return fail("the path is not valid UTF-8")
	case strings.ContainsFunc(p, isControl):
		return fail("the path contains NUL or control characters")
	case strings.Contains(p, `\`):
		return fail(`backslashes are not allowed: use "/" to separate directories`)
	case strings.HasPrefix(p, "/"):
		return fail("absolute paths are not allowed: give a path relative to the release")
	}
	segs := strings.Split(p, "/")
	if len(segs) > MaxPathDepth {
		return fail("the path is nested more than 16 directories deep")
	}
	for _, s := range segs {
		switch {
		case s == "":
			return fail("empty path segments (\"//\" or a trailing \"/\") are not allowed")
		case s == "." || s == "..":
			return fail(`"." and ".." segments are not allowed`)
		case strings.HasPrefix(s, "."):
			return fail("dotfiles and dot-directories are not allowed in a release")
		case len(s) > MaxSegmentLen:
			return fail("a path segment is longer than 255 bytes")
		}
	}
	return nil
}

// ValidateDir checks a target directory ("" means the release root).
func ValidateDir(d string) error {
	d = strings.TrimSuffix(d, "/")
	if d == "" {
		return nil
	}
	return ValidatePath(d)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// sanitize makes a rejected path safe to print in a message.
func sanitize(p string) string {
	if len(p) > 200 {
		p = p[:200] + "..."
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) || r == utf8.RuneError || IsFormatChar(r) {
			return '?'
		}
		return r
	}, p)
}

// HumanSize prints a byte count for people (1.5 MiB).
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
