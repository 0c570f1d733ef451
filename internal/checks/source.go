package checks

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"time"

	"trel/internal/checks/rules"
	"trel/internal/domain"
)

// GitSource compares source archives with the tagged tree of the project's
// repository, using the git binary: `git ls-remote` resolves the tag when
// the checks are planned (its commit is an input of the result), a shallow
// `git fetch --depth 1` of that one tag into a scratch bare repository
// gives the tree, and `git ls-tree -r` its blob ids, which the archive pass
// computed for every member. Nothing is checked out.
type GitSource struct {
	// TempDir holds the scratch repositories ("" = the system's).
	TempDir string
	// AllowLocal permits file:// URLs and local paths (tests, and `trel
	// verify` on the downloader's machine); the server refuses them.
	AllowLocal bool
	// Timeout bounds each git command.
	Timeout time.Duration
}

type sourcePlan struct {
	repo, tag, commit string
	missing           bool
	err               error
}

func (p *sourcePlan) errText() string {
	if p.err != nil {
		return p.err.Error()
	}
	return ""
}

func (g *GitSource) git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd, stderr, cancel := g.command(ctx, dir, args...)
	defer cancel()
	out, err := cmd.Output()
	if err != nil {
		return nil, gitError(args, err, stderr)
	}
	return out, nil
}

// command prepares a git command: bounded in time, with no configuration
// but its own, and only the protocols the server allows.
func (g *GitSource) command(ctx context.Context, dir string, args ...string) (*exec.Cmd, *bytes.Buffer, context.CancelFunc) {
	timeout := g.Timeout
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	protocols := []string{"-c", "protocol.allow=never", "-c", "protocol.https.allow=always", "-c", "protocol.http.allow=always",
		"-c", "protocol.git.allow=always", "-c", "protocol.ssh.allow=always", "-c", "core.hooksPath=/dev/null", "-c", "transfer.fsckObjects=true"}
	if g.AllowLocal {
		protocols = append(protocols, "-c", "protocol.file.allow=always")
	}
	cmd := exec.CommandContext(ctx, "git", append(protocols, args...)...)
	cmd.Dir = dir
	home := dir
	if home == "" {
		home = os.TempDir()
	}
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_SSH_COMMAND=ssh -o BatchMode=yes", "LC_ALL=C"}
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	return cmd, stderr, cancel
}

func gitError(args []string, err error, stderr *bytes.Buffer) error {
	msg := strings.TrimSpace(stderr.String())
	if len(msg) > 500 {
		msg = msg[:500]
	}
	return fmt.Errorf("git %s: %v: %s", args[0], err, msg)
}

// gitLines runs git like git does and passes each NUL-terminated record
// of its output to fn as it comes, without keeping the output.
func (g *GitSource) gitLines(ctx context.Context, dir string, fn func([]byte), args ...string) error {
	cmd, stderr, cancel := g.command(ctx, dir, args...)
	defer cancel()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, 0); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	for sc.Scan() {
		fn(sc.Bytes())
	}
	scanErr := sc.Err()
	if scanErr != nil {
		io.Copy(io.Discard, out)
	}
	if err := cmd.Wait(); err != nil {
		return gitError(args, err, stderr)
	}
	return scanErr
}

// plan resolves the release's tag to a commit.
func (g *GitSource) plan(ctx context.Context, ap domain.ArchivePolicy, version string) *sourcePlan {
	p := &sourcePlan{repo: ap.SourceRepo, tag: ap.SourceTagFor(version)}
	if !g.AllowLocal && !strings.Contains(p.repo, "://") || strings.HasPrefix(strings.ToLower(p.repo), "file:") && !g.AllowLocal {
		p.err = fmt.Errorf("repository %q: only network URLs are allowed", p.repo)
		return p
	}
	out, err := g.git(ctx, "", "ls-remote", "--tags", "--", p.repo, "refs/tags/"+p.tag, "refs/tags/"+p.tag+"^{}")
	if err != nil {
		p.err = err
		return p
	}
	for _, line := range strings.Split(string(out), "\n") {
		sha, ref, ok := strings.Cut(line, "\t")
		switch {
		case !ok:
		case ref == "refs/tags/"+p.tag+"^{}":
			p.commit = sha // an annotated tag, peeled
		case ref == "refs/tags/"+p.tag && p.commit == "":
			p.commit = sha
		}
	}
	p.missing = p.commit == ""
	return p
}

// sourceScan is what a pass needs to compare an archive with its tag.
type sourceScan struct {
	git   *GitSource
	plan  *sourcePlan
	allow []string // the policy's --source-allow patterns
}

// sourceCompare compares the archive with the tagged tree while the
// archive is walked, so that neither side's names are all kept: the tag's
// files are remembered as keyed 64-bit hashes (random seed, so that they
// cannot be aimed at) of their paths and blob ids, 16 bytes a file in a
// sorted slice; the archive's members are looked up as they come; the tag
// is listed a second time at the end for the names of the files the
// archive lacks. Only the paths reported are kept (the first
// maxDetailPaths of each kind).
type sourceCompare struct {
	err   error // the tag could not be fetched or listed
	dir   string
	git   *GitSource
	plan  *sourcePlan
	allow *rules.IgnoreList

	seed       maphash.Seed
	tag        []tagFile // sorted by path
	seen       []uint64  // a bit per tag file found in the archive
	submodules map[uint64]bool

	// The archive's root: its members' first component when they all
	// share one directory ("" for a flat archive); mixed when they do not.
	root     string
	rootSet  bool
	mixed    bool
	files    int
	allowed  int
	onlyArch pathList
	differ   pathList
	onlyTag  pathList
}

// tagFile is a file of the tag: the keyed hashes of its path and blob id.
type tagFile struct{ path, id uint64 }

// find returns the index of the tag file at path, or -1.
func (c *sourceCompare) find(path uint64) int {
	i := sort.Search(len(c.tag), func(i int) bool { return c.tag[i].path >= path })
	if i < len(c.tag) && c.tag[i].path == path {
		return i
	}
	return -1
}

// pathList is a count of paths and the first maxDetailPaths of them.
type pathList struct {
	n     int
	paths []string
}

func (l *pathList) add(p string) {
	l.n++
	if len(l.paths) < maxDetailPaths {
		l.paths = append(l.paths, p)
	}
}

// start fetches the tag shallowly into a scratch bare repository and
// remembers its files.
func (s *sourceScan) start(ctx context.Context) *sourceCompare {
	c := &sourceCompare{git: s.git, plan: s.plan, seed: maphash.MakeSeed(), submodules: map[uint64]bool{}}
	c.allow, _ = rules.ParseIgnore(strings.Join(s.allow, "\n"))
	c.dir, c.err = os.MkdirTemp(s.git.TempDir, "trel-source-*")
	if c.err != nil {
		return c
	}
	if _, c.err = s.git.git(ctx, c.dir, "init", "--bare", "-q", "."); c.err != nil {
		return c
	}
	p := s.plan
	if _, c.err = s.git.git(ctx, c.dir, "fetch", "--depth", "1", "--no-tags", "-q", "--", p.repo, "+refs/tags/"+p.tag+":refs/tags/"+p.tag); c.err != nil {
		return c
	}
	c.err = c.listTag(ctx, func(mode, path string, id [20]byte) {
		h := maphash.String(c.seed, path)
		if mode == "160000" { // a submodule: not in archives
			c.submodules[h] = true
			return
		}
		c.tag = append(c.tag, tagFile{h, maphash.Bytes(c.seed, id[:])})
	})
	c.tag = slices.Clip(c.tag)
	slices.SortFunc(c.tag, func(a, b tagFile) int { return cmp.Compare(a.path, b.path) })
	c.seen = make([]uint64, (len(c.tag)+63)/64)
	return c
}

// listTag streams `git ls-tree -r` of the tag.
func (c *sourceCompare) listTag(ctx context.Context, fn func(mode, path string, id [20]byte)) error {
	return c.git.gitLines(ctx, c.dir, func(line []byte) {
		meta, name, ok := bytes.Cut(line, []byte("\t"))
		f := bytes.Fields(meta)
		var id [20]byte
		if !ok || len(f) != 3 || hex.DecodedLen(len(f[2])) != 20 {
			return
		}
		if _, err := hex.Decode(id[:], f[2]); err != nil {
			return
		}
		fn(string(f[0]), string(name), id)
	}, "ls-tree", "-r", "-z", "--full-tree", "refs/tags/"+c.plan.tag+"^{tree}")
}

// member compares one archive member (a file or link) with the tag.
func (c *sourceCompare) member(name string, id [20]byte) {
	top, deeper := rules.TopDir(name)
	root := ""
	if deeper {
		root = top + "/"
	}
	if !c.rootSet {
		c.root, c.rootSet = root, true
	}
	if c.root != "" && root != c.root {
		c.mixed = true
		return
	}
	rel := strings.TrimPrefix(name, c.root)
	c.files++
	i := c.find(maphash.String(c.seed, rel))
	ok := i >= 0
	if ok {
		c.seen[i/64] |= 1 << (i % 64)
	}
	switch {
	case ok && c.tag[i].id == maphash.Bytes(c.seed, id[:]):
	case c.countAllowed(rel):
	case !ok:
		c.onlyArch.add(rel)
	default:
		c.differ.add(rel)
	}
}

// countAllowed reports whether the policy allows rel to differ, and counts it.
func (c *sourceCompare) countAllowed(rel string) bool {
	if ok, _ := c.allow.Match(rel); ok {
		c.allowed++
		return true
	}
	return false
}

// finish lists the tag again for the files the archive lacks.
func (c *sourceCompare) finish(ctx context.Context) {
	if c.err != nil {
		return
	}
	c.err = c.listTag(ctx, func(mode, path string, id [20]byte) {
		i := c.find(maphash.String(c.seed, path))
		if i < 0 || c.seen[i/64]&(1<<(i%64)) != 0 || c.countAllowed(path) {
			return // found in the archive, a submodule, or allowed
		}
		c.onlyTag.add(path)
	})
	c.tag, c.seen = nil, nil
}

func (c *sourceCompare) cleanup() {
	c.tag, c.seen = nil, nil
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

func (g *GitSource) judge(ctx context.Context, r *scanResult, p *sourcePlan, ap domain.ArchivePolicy) []Outcome {
	if out := r.unreadable("the source comparison"); out != nil {
		return out
	}
	if p.err != nil {
		return []Outcome{{Status: domain.StatusException, Message: fmt.Sprintf(
			"the tag %s of %s could not be looked up (%v); this says nothing about the archive; re-run the checks", p.tag, p.repo, p.err)}}
	}
	if p.missing {
		return []Outcome{{Status: domain.StatusBlocker, Message: fmt.Sprintf(
			"the tag %s is not in %s: push the tag the release was made from, or fix the policy's source tag pattern (%s)", p.tag, p.repo, ap.SourceTag),
			Details: map[string]any{"repository": p.repo, "tag": p.tag}}}
	}
	c := r.src
	if c.err != nil {
		return []Outcome{{Status: domain.StatusException, Message: fmt.Sprintf(
			"the tag %s of %s could not be fetched (%v); this says nothing about the archive; re-run the checks", p.tag, p.repo, c.err)}}
	}
	if c.mixed {
		return []Outcome{{Status: domain.StatusConcern, Details: map[string]any{"repository": p.repo, "tag": p.tag, "commit": p.commit},
			Message: fmt.Sprintf("the archive was not compared with tag %s of %s: its files are not all in one directory (see the archive result), so they cannot be matched with the tag's paths", p.tag, p.repo)}}
	}
	for _, l := range []*pathList{&c.onlyArch, &c.onlyTag, &c.differ} {
		sort.Strings(l.paths)
	}
	details := map[string]any{"repository": p.repo, "tag": p.tag, "commit": p.commit, "files": c.files, "allowed": c.allowed,
		"only_in_archive": c.onlyArch.paths, "only_in_tag": c.onlyTag.paths, "different": c.differ.paths}
	if c.onlyArch.n+c.onlyTag.n+c.differ.n == 0 {
		return []Outcome{{Status: domain.StatusNote, Details: details, Message: fmt.Sprintf(
			"the archive matches tag %s (commit %.12s) of %s: %d files (%d allowed differences)", p.tag, p.commit, p.repo, c.files, c.allowed)}}
	}
	var parts []string
	for _, g := range []struct {
		what string
		l    pathList
	}{{"only in the archive", c.onlyArch}, {"only in the tag", c.onlyTag}, {"with different content", c.differ}} {
		if g.l.n > 0 {
			more := ""
			if g.l.n > maxListed {
				more = fmt.Sprintf(" and %d more", g.l.n-maxListed)
			}
			parts = append(parts, fmt.Sprintf("%d %s (%s%s)", g.l.n, g.what, strings.Join(capList(g.l.paths, maxListed), ", "), more))
		}
	}
	return []Outcome{{Status: domain.StatusConcern, Details: details, Message: fmt.Sprintf(
		"the archive differs from tag %s (commit %.12s) of %s: %s; generated files may be allowed with `trel policy set --source-allow`",
		p.tag, p.commit, p.repo, strings.Join(parts, "; "))}}
}

func capList(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
