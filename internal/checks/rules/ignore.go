package rules

import (
	"fmt"
	"regexp"
	"strings"
)

// Limits of an ignore list (a .trel-license-ignore file or policy rules).
const (
	MaxIgnorePatterns = 1000
	MaxIgnoreLine     = 1024
)

// IgnoreList is a list of gitignore-syntax patterns: "#" comments, "!"
// re-includes, a trailing "/" matches directories only, a "/" elsewhere
// anchors the pattern at the root, "*" and "?" and "[...]" stay within one
// path component, "**" crosses them. The last matching pattern wins.
type IgnoreList struct {
	patterns []ignorePattern
}

type ignorePattern struct {
	text   string
	negate bool
	re     *regexp.Regexp
}

// ParseIgnore reads a gitignore-syntax list. Lines it cannot use are
// returned as errors (with their line numbers) and skipped.
func ParseIgnore(text string) (*IgnoreList, []error) {
	l := &IgnoreList{}
	var errs []error
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		p, err := compileIgnore(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", i+1, err))
			continue
		}
		if p == nil {
			continue
		}
		if len(l.patterns) >= MaxIgnorePatterns {
			errs = append(errs, fmt.Errorf("line %d: more than %d patterns; the rest are not used", i+1, MaxIgnorePatterns))
			break
		}
		l.patterns = append(l.patterns, *p)
	}
	return l, errs
}

// Len is the number of patterns.
func (l *IgnoreList) Len() int {
	if l == nil {
		return 0
	}
	return len(l.patterns)
}

// Match reports whether the slash-separated relative path is ignored, and
// by which pattern.
func (l *IgnoreList) Match(path string) (bool, string) {
	if l == nil {
		return false, ""
	}
	ignored, by := false, ""
	for _, p := range l.patterns {
		if p.re.MatchString(path) {
			ignored, by = !p.negate, p.text
		}
	}
	return ignored, by
}

func compileIgnore(line string) (*ignorePattern, error) {
	if len(line) > MaxIgnoreLine {
		return nil, fmt.Errorf("longer than %d bytes", MaxIgnoreLine)
	}
	// Trailing spaces are dropped unless escaped.
	for strings.HasSuffix(line, " ") && !strings.HasSuffix(line, "\\ ") {
		line = line[:len(line)-1]
	}
	if line == "" || strings.HasPrefix(line, "#") {
		return nil, nil
	}
	p := &ignorePattern{text: line}
	if strings.HasPrefix(line, "!") {
		p.negate, line = true, line[1:]
	} else if strings.HasPrefix(line, "\\#") || strings.HasPrefix(line, "\\!") {
		line = line[1:]
	}
	dirOnly := strings.HasSuffix(line, "/")
	line = strings.TrimSuffix(line, "/")
	anchored := strings.Contains(line, "/")
	line = strings.TrimPrefix(line, "/")
	if line == "" {
		return nil, fmt.Errorf("%q matches nothing", p.text)
	}
	body, err := globToRegexp(line)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", p.text, err)
	}
	prefix := "^"
	if !anchored {
		prefix = "^(?:.*/)?"
	}
	suffix := "(?:/.*)?$"
	if dirOnly {
		suffix = "/.*$"
	}
	p.re, err = regexp.Compile(prefix + body + suffix)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", p.text, err)
	}
	return p, nil
}

// globToRegexp translates one gitignore glob into a regular expression.
func globToRegexp(g string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch {
		case c == '*' && strings.HasPrefix(g[i:], "**/"):
			b.WriteString("(?:.*/)?")
			i += 2
		case c == '*' && strings.HasPrefix(g[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '\\':
			if i+1 < len(g) {
				i++
				b.WriteString(regexp.QuoteMeta(g[i : i+1]))
			}
		case c == '[':
			end := strings.IndexByte(g[i+1:], ']')
			if end < 0 {
				return "", fmt.Errorf("unclosed [")
			}
			class := g[i+1 : i+1+end]
			if end == 0 || class == "!" || class == "^" {
				return "", fmt.Errorf("empty character class")
			}
			if class[0] == '!' {
				class = "^" + class[1:]
			}
			class = strings.NewReplacer("\\", "\\\\", "[", "\\[").Replace(class)
			b.WriteString("[" + class + "]")
			i += end + 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String(), nil
}
