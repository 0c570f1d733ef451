package archive

import (
	"fmt"
	"hash/maphash"
	"path"
	"strings"
	"unicode/utf8"
)

// nameSet remembers member names as keyed hashes (random seeds, so that
// they cannot be aimed at), to find duplicates and names that differ only
// by case without keeping every name in memory: 64 bits of the lower-cased
// name map to 32 bits of the name itself, about 16 bytes a member. Two
// different names collide with a probability of about n²/2⁶⁵ (1 in 10⁸
// for 500,000 members).
type nameSet struct {
	seed   maphash.Seed
	folded map[uint64]uint32 // hash of the lower-cased name -> hash of the name
	links  map[string]bool   // symbolic links seen so far
}

func newNameSet() *nameSet {
	return &nameSet{seed: maphash.MakeSeed(), folded: map[uint64]uint32{}, links: map[string]bool{}}
}

func (n *nameSet) exact(s string) uint32 { return uint32(maphash.String(n.seed, "\x00"+s)) }

// add records name; it reports whether the same name, or one equal but for
// case, was seen before.
func (n *nameSet) add(name string) (dup, caseCollision bool) {
	f, e := maphash.String(n.seed, foldCase(name)), n.exact(name)
	if prev, ok := n.folded[f]; ok {
		return prev == e, prev != e
	}
	n.folded[f] = e
	return false, false
}

// has reports whether name was added (exactly, as far as the remembered
// hashes tell).
func (n *nameSet) has(name string) bool {
	prev, ok := n.folded[maphash.String(n.seed, foldCase(name))]
	return ok && prev == n.exact(name)
}

func foldCase(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// CleanName returns a member name as a relative slash path without "./",
// trailing slash or backslashes ("" for the root itself). It is what the
// checks compare names by.
func CleanName(name string) string {
	if clean(name) {
		return strings.TrimSuffix(name, "/")
	}
	n := strings.ReplaceAll(name, "\\", "/")
	n = strings.TrimLeft(n, "/")
	c := path.Clean("/" + n)[1:]
	return c
}

// clean reports whether a name is already clean (the common case, so that
// CleanName allocates nothing): no backslash, no leading or doubled slash,
// no "." or ".." component.
func clean(name string) bool {
	if name == "" || name[0] == '/' || strings.Contains(name, "\\") || strings.Contains(name, "//") {
		return false
	}
	for rest := strings.TrimSuffix(name, "/"); rest != ""; {
		c := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			c, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if c == "." || c == ".." || c == "" {
			return false
		}
	}
	return true
}

// checkMember applies the name and kind rules to one member: fatal limits
// return an error, everything else becomes a problem.
func (g *guard) checkMember(m *Member) error {
	name := m.Name
	if len(name) > g.lim.MaxPathLen {
		return &Error{Code: CodePathTooLong, Member: truncate(name), Offset: m.Offset, Msg: fmt.Sprintf(
			"the name is %d bytes long, more than the limit of %d", len(name), g.lim.MaxPathLen)}
	}
	if !utf8.ValidString(name) {
		g.problem(CodeInvalidName, name, "the name %q is not valid UTF-8; rename it", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			g.problem(CodeInvalidName, name, "the name %q contains a control character; rename it", name)
			break
		}
	}
	norm := name
	if strings.Contains(name, "\\") {
		g.problem(CodeBackslash, name, "the name %q contains a backslash, which extractors on Windows read as a directory separator; use /", name)
		norm = strings.ReplaceAll(name, "\\", "/")
	}
	if strings.HasPrefix(norm, "/") || isDrive(norm) {
		g.problem(CodeAbsolute, name, "%q is an absolute path: extracting it would write outside the target directory", name)
	}
	depth := 0
	for rest := norm; rest != ""; {
		c := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			c, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		switch c {
		case "..":
			g.problem(CodeDotDot, name, "%q contains a '..' component: extracting it could write outside the target directory", name)
		case "", ".":
			continue
		}
		depth++
	}
	if depth > g.lim.MaxDepth {
		return &Error{Code: CodeTooDeep, Member: name, Offset: m.Offset, Msg: fmt.Sprintf(
			"the path has %d components, more than the limit of %d", depth, g.lim.MaxDepth)}
	}
	clean := CleanName(norm)
	if dup, fold := g.names.add(clean); dup {
		g.problem(CodeDuplicate, name, "%q appears more than once: extractors disagree on which copy wins", name)
	} else if fold {
		g.problem(CodeCaseCollision, name, "%q differs only by letter case from an earlier member: one overwrites the other on macOS and Windows", name)
	}
	for d := path.Dir(clean); d != "." && d != "/" && len(g.names.links) > 0; d = path.Dir(d) {
		if g.names.links[d] {
			g.problem(CodeThroughLink, name, "%q lies inside %q, a symbolic link in the archive: extracting it would write wherever the link points", name, d)
			break
		}
	}
	switch m.Kind {
	case KindDevice:
		g.problem(CodeDevice, name, "%q is a device file, FIFO or socket; release archives hold only files, directories and links", name)
	case KindSymlink:
		t := m.LinkTarget
		if t == "" || strings.HasPrefix(t, "/") || strings.HasPrefix(t, "\\") || isDrive(t) || escapes(path.Join(path.Dir(clean), strings.ReplaceAll(t, "\\", "/"))) {
			g.problem(CodeLinkEscape, name, "symbolic link %q points to %q, outside the archive", name, t)
		}
		g.names.links[clean] = true
	case KindHardlink:
		t := strings.ReplaceAll(m.LinkTarget, "\\", "/")
		switch {
		case strings.HasPrefix(t, "/") || isDrive(t) || escapes(path.Clean(t)):
			g.problem(CodeLinkEscape, name, "hard link %q points to %q, outside the archive", name, m.LinkTarget)
		case !g.names.has(CleanName(t)):
			g.problem(CodeLinkEscape, name, "hard link %q points to %q, which is not an earlier member of the archive", name, m.LinkTarget)
		}
	}
	return nil
}

func escapes(p string) bool { return p == ".." || strings.HasPrefix(p, "../") }

func isDrive(s string) bool {
	return len(s) >= 2 && s[1] == ':' && ('a' <= s[0]|0x20 && s[0]|0x20 <= 'z')
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
