package checks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
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
	timeout := g.Timeout
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
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
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 500 {
			msg = msg[:500]
		}
		return nil, fmt.Errorf("git %s: %v: %s", args[0], err, msg)
	}
	return out, nil
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

type treeEntry struct {
	mode string
	id   [20]byte
}

// tree fetches the tag shallowly and lists its files.
func (g *GitSource) tree(ctx context.Context, p *sourcePlan) (map[string]treeEntry, error) {
	dir, err := os.MkdirTemp(g.TempDir, "trel-source-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if _, err := g.git(ctx, dir, "init", "--bare", "-q", "."); err != nil {
		return nil, err
	}
	if _, err := g.git(ctx, dir, "fetch", "--depth", "1", "--no-tags", "-q", "--", p.repo, "+refs/tags/"+p.tag+":refs/tags/"+p.tag); err != nil {
		return nil, err
	}
	out, err := g.git(ctx, dir, "ls-tree", "-r", "-z", "--full-tree", "refs/tags/"+p.tag+"^{tree}")
	if err != nil {
		return nil, err
	}
	entries := map[string]treeEntry{}
	sc := bufio.NewScanner(bytes.NewReader(out))
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
		meta, name, ok := strings.Cut(sc.Text(), "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 3 {
			continue
		}
		var e treeEntry
		e.mode = f[0]
		if b, err := hex.DecodeString(f[2]); err == nil && len(b) == 20 {
			copy(e.id[:], b)
		}
		entries[name] = e
	}
	return entries, sc.Err()
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
	entries, err := g.tree(ctx, p)
	if err != nil {
		return []Outcome{{Status: domain.StatusException, Message: fmt.Sprintf(
			"the tag %s of %s could not be fetched (%v); this says nothing about the archive; re-run the checks", p.tag, p.repo, err)}}
	}
	allow, _ := rules.ParseIgnore(strings.Join(ap.SourceAllow, "\n"))
	root := r.root()
	var onlyArchive, onlyTag, differ []string
	allowed := 0
	seen := map[string]bool{}
	for name, id := range r.blobs {
		rel := strings.TrimPrefix(name, root)
		seen[rel] = true
		e, ok := entries[rel]
		switch {
		case ok && e.id == id:
		case func() bool { ok, _ := allow.Match(rel); return ok }():
			allowed++
		case !ok:
			onlyArchive = append(onlyArchive, rel)
		default:
			differ = append(differ, rel)
		}
	}
	for rel, e := range entries {
		if seen[rel] || e.mode == "160000" { // submodules are not in archives
			continue
		}
		if ok, _ := allow.Match(rel); ok {
			allowed++
			continue
		}
		onlyTag = append(onlyTag, rel)
	}
	sort.Strings(onlyArchive)
	sort.Strings(onlyTag)
	sort.Strings(differ)
	details := map[string]any{"repository": p.repo, "tag": p.tag, "commit": p.commit, "files": len(r.blobs), "allowed": allowed,
		"only_in_archive": capList(onlyArchive, maxDetailPaths), "only_in_tag": capList(onlyTag, maxDetailPaths), "different": capList(differ, maxDetailPaths)}
	if len(onlyArchive)+len(onlyTag)+len(differ) == 0 {
		return []Outcome{{Status: domain.StatusNote, Details: details, Message: fmt.Sprintf(
			"the archive matches tag %s (commit %.12s) of %s: %d files (%d allowed differences)", p.tag, p.commit, p.repo, len(r.blobs), allowed)}}
	}
	var parts []string
	for _, g := range []struct {
		what  string
		paths []string
	}{{"only in the archive", onlyArchive}, {"only in the tag", onlyTag}, {"with different content", differ}} {
		if len(g.paths) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s (%s)", len(g.paths), g.what, strings.Join(capList(g.paths, maxListed), ", ")))
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
