package archive

import (
	"fmt"
	"hash/maphash"
	"path"
	"sort"
	"strings"
	"unicode/utf8"

	"trel/internal/domain"
)

// nameSet remembers member names as keyed hashes (random seeds, so that
// they cannot be aimed at), to find duplicates and names that differ only
// by case without keeping every name in memory: 64 bits of the folded
// name map to 31 bits of the name itself and a bit saying whether it is a
// directory, about 16 bytes a member. Two different names collide with a
// probability of about n²/2⁶⁵ (1 in 10⁸ for 500,000 members).
type nameSet struct {
	seed   maphash.Seed
	folded map[uint64]uint32 // hash of the folded name -> hash of the name << 1 | directory
	// links are the symbolic links seen so far, with their targets (as
	// far as linkBudget allows; "" beyond).
	links      map[string]string
	linkBudget int
	unfollowed int // links whose targets were not kept
}

// linkTargetBudget bounds the bytes of link targets kept to follow chains
// of links at the end of the walk.
const linkTargetBudget = 16 << 20

func newNameSet() *nameSet {
	return &nameSet{seed: maphash.MakeSeed(), folded: map[uint64]uint32{}, links: map[string]string{}, linkBudget: linkTargetBudget}
}

func (n *nameSet) exact(s string) uint32 { return uint32(maphash.String(n.seed, "\x00"+s)) << 1 }

// add records name; it reports whether the same name, or one equal but for
// case or Unicode form, was seen before.
func (n *nameSet) add(name string, dir bool) (dup, caseCollision bool) {
	f, e := maphash.String(n.seed, foldCase(name)), n.exact(name)
	if prev, ok := n.folded[f]; ok {
		return prev&^1 == e, prev&^1 != e
	}
	if dir {
		e |= 1
	}
	n.folded[f] = e
	return false, false
}

// lookup reports whether name was added (exactly, as far as the remembered
// hashes tell), and whether it was added as a directory.
func (n *nameSet) lookup(name string) (found, dir bool) {
	prev, ok := n.folded[maphash.String(n.seed, foldCase(name))]
	return ok && prev&^1 == n.exact(name), prev&1 == 1
}

// addLink remembers a symbolic link and, within the budget, its target.
func (n *nameSet) addLink(name, target string) {
	if _, ok := n.links[name]; !ok && len(name)+len(target) <= n.linkBudget {
		n.linkBudget -= len(name) + len(target)
		n.links[name] = target
		return
	}
	if _, ok := n.links[name]; !ok {
		n.unfollowed++
		n.links[name] = ""
	}
}

// foldCase is the form in which two member names are the same on a
// case-insensitive or normalizing file system: lower case for ASCII
// names, domain.FoldKey for the others.
func foldCase(s string) string {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return domain.FoldKey(s)
		}
		upper = upper || 'A' <= c && c <= 'Z'
	}
	if upper {
		return strings.ToLower(s)
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
		if r >= 0x80 && domain.IsFormatChar(r) {
			g.problem(CodeInvalidName, name, "the name %q contains invisible formatting or bidi control characters (such as U+202E or U+200B), which make it display as something else; rename it", name)
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
	if dup, fold := g.names.add(clean, m.Kind == KindDir); dup {
		g.problem(CodeDuplicate, name, "%q appears more than once: extractors disagree on which copy wins", name)
	} else if fold {
		g.problem(CodeCaseCollision, name, "%q differs only by letter case or Unicode form from an earlier member: one overwrites the other on macOS and Windows", name)
	}
	for d := path.Dir(clean); d != "." && d != "/" && len(g.names.links) > 0; d = path.Dir(d) {
		if _, link := g.names.links[d]; link {
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
			g.names.addLink(clean, "/") // reported: chains through it need not be followed
		} else {
			g.names.addLink(clean, strings.ReplaceAll(t, "\\", "/"))
		}
	case KindHardlink:
		t := strings.ReplaceAll(m.LinkTarget, "\\", "/")
		found, dir := g.names.lookup(CleanName(t))
		switch {
		case strings.HasPrefix(t, "/") || isDrive(t) || escapes(path.Clean(t)):
			g.problem(CodeLinkEscape, name, "hard link %q points to %q, outside the archive", name, m.LinkTarget)
		case !found:
			g.problem(CodeLinkEscape, name, "hard link %q points to %q, which is not an earlier member of the archive", name, m.LinkTarget)
		case dir:
			g.problem(CodeLinkEscape, name, "hard link %q points to %q, a directory: extractors refuse it or, on some systems, link the directory itself", name, m.LinkTarget)
		}
	}
	return nil
}

// checkLinkChains follows every symbolic link through the archive's other
// links, as the file system does once they are extracted, and reports the
// links that lead outside the archive although each alone stays inside
// ("a/s" -> ".." and "a/l" -> "s/../x"). Loops lead nowhere and are left
// alone. The work is bounded (40 links per path, a million steps).
func (g *guard) checkLinkChains() {
	links := g.names.links
	names := make([]string, 0, len(links))
	for name, t := range links {
		if t != "" && t != "/" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	steps := 1_000_000
	for _, name := range names {
		outside, n := leadsOutside(links, name, steps)
		if steps -= n; steps <= 0 {
			g.problem(CodeUnsupported, "", "the archive's symbolic links are too many or too tangled to follow all of them; check where they point before extracting it")
			return
		}
		if outside {
			g.problem(CodeLinkEscape, name, "symbolic link %q points to %q, which leads outside the archive through other symbolic links in it", name, links[name])
		}
	}
	if g.names.unfollowed > 0 {
		g.problem(CodeUnsupported, "", "%d symbolic links were not followed through the others (too many links): check where they point before extracting the archive", g.names.unfollowed)
	}
}

// leadsOutside resolves the target of the link name component by
// component, replacing every component that is itself a link by that
// link's target; it returns whether the resolution leaves the archive, and
// the steps it took (at most max).
func leadsOutside(links map[string]string, name string, max int) (outside bool, steps int) {
	var stack []string
	if d := path.Dir(name); d != "." {
		stack = strings.Split(d, "/")
	}
	queue := strings.Split(links[name], "/")
	hops := 0
	for len(queue) > 0 && steps < max {
		steps++
		c := queue[0]
		queue = queue[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				return true, steps
			}
			stack = stack[:len(stack)-1]
			continue
		}
		stack = append(stack, c)
		t, link := links[strings.Join(stack, "/")]
		if !link {
			continue
		}
		if hops++; hops > 40 || t == "" {
			return false, steps // a loop, or a link not followed
		}
		if t == "/" {
			return true, steps // a link already reported as leading out
		}
		stack = stack[:len(stack)-1]
		queue = append(strings.Split(t, "/"), queue...)
	}
	return false, steps
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
