package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"golang.org/x/text/unicode/norm"

	"trel/client"
	"trel/internal/core"
	"trel/internal/domain"
)

var timeNow = time.Now

// progressThreshold is the file size from which uploads show their
// progress: a bar on a terminal, a line at each tenth otherwise (logs and
// CI keep readable lines, not a bar's carriage returns).
const progressThreshold = 8 << 20

// localFile is a file to upload and its path inside the release.
type localFile struct {
	local  string
	target string
	size   int64
}

// collect expands files and directories (recursively, keeping the
// directory's own name, like `cp -r`) and validates every target path
// before anything is sent, so a bad name fails the whole upload up front.
func collect(paths []string, to string) ([]localFile, error) {
	if err := domain.ValidateDir(to); err != nil {
		return nil, usageError{fmt.Errorf("--to: %s", domain.PublicMessage(err))}
	}
	var out []localFile
	seen := map[string]string{}
	add := func(local, rel string, size int64) error {
		// macOS file systems hand out decomposed (NFD) names; a release
		// path is composed (NFC).
		target := norm.NFC.String(path.Join(to, rel))
		if err := domain.ValidateNewPath(target); err != nil {
			return usageError{fmt.Errorf("%s: %s", local, domain.PublicMessage(err))}
		}
		if prev, dup := seen[domain.FoldKey(target)]; dup {
			return usageError{fmt.Errorf("%s and %s would both be uploaded as %s (names that differ only in case are the same file on Windows and macOS)", prev, local, target)}
		}
		seen[domain.FoldKey(target)] = local
		out = append(out, localFile{local: local, target: target, size: size})
		return nil
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", p, err)
		}
		if !st.IsDir() {
			if !st.Mode().IsRegular() {
				return nil, usageError{fmt.Errorf("%s is not a regular file", p)}
			}
			if err := add(p, filepath.Base(p), st.Size()); err != nil {
				return nil, err
			}
			continue
		}
		base := filepath.Base(filepath.Clean(p))
		err = filepath.WalkDir(p, func(fp string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				return usageError{fmt.Errorf("%s is not a regular file (symbolic links and devices are not uploaded)", fp)}
			}
			rel, err := filepath.Rel(p, fp)
			if err != nil {
				return err
			}
			if base == "." || base == string(filepath.Separator) {
				return add(fp, filepath.ToSlash(rel), info.Size())
			}
			return add(fp, base+"/"+filepath.ToSlash(rel), info.Size())
		})
		if err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, usageError{errors.New("no files to upload")}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].target < out[j].target })
	return out, nil
}

func uploadCmd(e *env) *cobra.Command {
	var to, description, resumableOver string
	var expect, parallel int
	c := &cobra.Command{
		Use:   "upload PROJECT VERSION PATH... [--to DIR] [--expect-revision N]",
		Short: "Upload files and directories as ONE new revision of a draft",
		Long: `Upload files and directories (recursively) to a draft release. All of them
land together in one new revision; its number is printed. With
--expect-revision N the upload fails, changing nothing, if the release is no
longer at revision N (someone else changed it).

Files larger than --resumable-over (64 MiB) are sent in chunks through a
resumable upload: if the upload is interrupted (Ctrl-C, a network failure, a
server restart), nothing changes in the release, and running the same command
again continues where it stopped. Network failures during a chunk are retried
by themselves a few times first. See trel uploads.`,
		Args: args(cobra.MinimumNArgs(3)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if parallel < 1 {
				return usageError{errors.New("--parallel must be at least 1")}
			}
			files, err := collect(a[2:], to)
			if err != nil {
				return err
			}
			req := core.RevisionRequest{Description: description}
			if c.Flags().Changed("expect-revision") {
				req.ExpectRevision = &expect
			}
			if req.Description == "" {
				req.Description = fmt.Sprintf("upload of %d file(s)", len(files))
			}
			if e.resumableOver, err = parseSize(resumableOver); err != nil {
				return usageError{fmt.Errorf("--resumable-over: %w", err)}
			}
			changes, err := e.uploadAll(c.Context(), cl, a[0], a[1], files, parallel, e.commandLine())
			if err != nil {
				return err
			}
			req.Changes = changes
			return e.commit(c.Context(), cl, a[0], a[1], req)
		}),
	}
	c.Flags().StringVar(&resumableOver, "resumable-over", "64MiB", "files larger than this go in resumable chunks: an interrupted upload continues where it stopped when the command is run again")
	c.Flags().StringVar(&to, "to", "", "directory inside the release to upload into")
	c.Flags().IntVar(&expect, "expect-revision", 0, "fail unless the release is at this revision (0: no revision yet)")
	c.Flags().StringVarP(&description, "message", "m", "", "description of the new revision")
	c.Flags().IntVar(&parallel, "parallel", defaultParallelUploads, "small files uploaded at once (large ones go one after another)")
	return c
}

// uploadCommands are the `trel upload` commands that upload files to
// their targets (one per folder of the release), joined for a message.
func uploadCommands(project, version string, files []localFile) string {
	var dirs []string
	locals := map[string][]string{}
	for _, f := range files {
		d := path.Dir(f.target)
		if locals[d] == nil {
			dirs = append(dirs, d)
		}
		locals[d] = append(locals[d], shellQuote(f.local))
	}
	var cmds []string
	for _, d := range dirs {
		cmd := fmt.Sprintf("trel upload %s %s %s", shellQuote(project), shellQuote(version), strings.Join(locals[d], " "))
		if d != "." {
			cmd += " --to " + shellQuote(d)
		}
		cmds = append(cmds, cmd)
	}
	return strings.Join(cmds, "\n  ")
}

// uploadOnce sends one file.
func (e *env) uploadOnce(ctx context.Context, cl *client.Client, project, version string, f localFile) (*domain.Blob, error) {
	fh, err := os.Open(f.local)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", f.local, err)
	}
	defer fh.Close()
	var r io.Reader = fh
	switch {
	case f.size < progressThreshold || e.json:
	case isTerminal(e.stderr):
		bar := progressbar.DefaultBytes(f.size, f.target)
		defer bar.Finish()
		r = io.TeeReader(fh, bar)
	default:
		r = io.TeeReader(fh, &lineProgress{w: e.stderr, name: f.target, size: f.size, next: 10})
	}
	b, err := cl.UploadContent(ctx, project, version, r, f.size)
	if err != nil {
		return nil, fmt.Errorf("uploading %s: %w", f.local, err)
	}
	return b, nil
}

// lineProgress writes "uploading NAME: 40% (25.6 MiB of 64.0 MiB)" to w
// each time another tenth of size went through it.
type lineProgress struct {
	w          io.Writer
	name       string
	size, done int64
	next       int64 // the next percentage to report
}

func (p *lineProgress) Write(b []byte) (int, error) {
	p.advance(int64(len(b)))
	return len(b), nil
}

// advance counts n more bytes sent.
func (p *lineProgress) advance(n int64) {
	p.done += n
	for p.next <= 100 && p.done*100 >= p.next*p.size {
		fmt.Fprintf(p.w, "uploading %s: %d%% (%s of %s)\n", p.name, p.next, mib(p.done), mib(p.size))
		p.next += 10
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// notUploaded explains a failed or interrupted upload. trel makes the
// revision only after every file arrived, so nothing changed in the
// release; retry is the command that tries again. What resumable uploads
// received stays on the server (kept), and the same command continues it.
func notUploaded(err error, project, version, retry string, kept []keptUpload) error {
	var ce *client.Error
	if errors.As(err, &ce) && ce.Status < 500 && ce.Status != http.StatusTooManyRequests && len(kept) == 0 {
		return err // a refusal: its message says what to change
	}
	what := "failed"
	if errors.Is(err, context.Canceled) {
		what = "was interrupted"
	}
	sent, next := "the files sent so far are discarded", "To try again"
	if len(kept) > 0 {
		next = "To continue"
		var parts []string
		for _, k := range kept {
			parts = append(parts, fmt.Sprintf("%s of %s of %s", domain.HumanSize(k.received), domain.HumanSize(k.size), k.target))
		}
		sent = fmt.Sprintf("the server keeps the %s until %s, and running the same command again resumes from there",
			strings.Join(parts, ", "), kept[0].expires.Local().Format("2006-01-02 15:04 MST"))
	}
	return fmt.Errorf("the upload %s (%w).\nNothing changed in %s %s: trel makes the new revision only once every file is uploaded, and %s. %s, run:\n  %s",
		what, err, project, version, sent, next, retry)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// commit creates the revision and prints its number; the resumable
// uploads whose content it holds are forgotten.
func (e *env) commit(ctx context.Context, cl *client.Client, project, version string, req core.RevisionRequest) error {
	res, err := cl.CreateRevision(ctx, project, version, req)
	if err != nil {
		return err
	}
	forgetSessions(e.completedSessions...)
	return e.out(res, func() {
		if !res.Created {
			fmt.Fprintf(e.stdout, "Nothing changed: revision %d already holds these files.\n", res.Revision.Number)
			return
		}
		fmt.Fprintf(e.stdout, "Created revision %d of %s %s (%d files).\n", res.Revision.Number, project, version, len(res.Revision.Files))
	})
}

func filesCmd(e *env) *cobra.Command {
	var rev int
	c := &cobra.Command{
		Use: "files PROJECT VERSION [--revision N]", Short: "List the files of a revision (default: the latest)", Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			r, err := cl.Revision(c.Context(), a[0], a[1], rev)
			if err != nil {
				return err
			}
			return e.out(r, func() {
				if r.Number == 0 {
					fmt.Fprintf(e.stdout, "No files yet. Upload some with `trel upload %s %s FILE...`\n", a[0], a[1])
					return
				}
				fmt.Fprintf(e.stdout, "Revision %d (%s by %s): %d files\n", r.Number, when(r.CreatedAt), r.Author, len(r.Files))
				var rows [][]string
				for _, f := range r.Files {
					rows = append(rows, []string{f.Path, domain.HumanSize(f.Size), short(f.SHA512) + "…"})
				}
				e.table([]string{"PATH", "SIZE", "SHA-512"}, rows)
			})
		}),
	}
	c.Flags().IntVar(&rev, "revision", 0, "revision number (default: the latest)")
	return c
}

func revisionsCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use: "revisions PROJECT VERSION", Short: "List a release's revisions", Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			rs, err := cl.ListRevisions(c.Context(), a[0], a[1])
			if err != nil {
				return err
			}
			return e.out(rs, func() {
				if len(rs) == 0 {
					fmt.Fprintln(e.stdout, "No revisions yet.")
					return
				}
				var rows [][]string
				for _, r := range rs {
					rows = append(rows, []string{strconv.Itoa(r.Number), strconv.Itoa(r.Parent), r.Author, when(r.CreatedAt), r.Description})
				}
				e.table([]string{"REVISION", "PARENT", "AUTHOR", "CREATED", "DESCRIPTION"}, rows)
				printWorkflows(e, rs)
			})
		}),
	}
}

func downloadCmd(e *env) *cobra.Command {
	var rev int
	var output string
	var force bool
	c := &cobra.Command{
		Use:   "download PROJECT VERSION PATH [--revision N] [-o FILE]",
		Short: "Download a file; its SHA-256 is checked before it is kept",
		Args:  args(cobra.ExactArgs(3)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if output == "-" {
				_, err := cl.Download(c.Context(), a[0], a[1], rev, a[2], e.stdout)
				return err
			}
			if output == "" {
				output = path.Base(a[2])
			}
			if _, err := os.Stat(output); err == nil && !force {
				return usageError{fmt.Errorf("%s already exists: choose another name with -o, or pass --force", output)}
			}
			// Download next to the target and rename only once the digest
			// matched: an interrupted download never leaves a partial file.
			tmp, err := os.CreateTemp(filepath.Dir(output), ".trel-download-*")
			if err != nil {
				return fmt.Errorf("cannot write in %s: %w", filepath.Dir(output), err)
			}
			defer os.Remove(tmp.Name())
			n, err := cl.Download(c.Context(), a[0], a[1], rev, a[2], tmp)
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), output); err != nil {
				return err
			}
			return e.out(map[string]any{"path": a[2], "output": output, "size": n}, func() {
				fmt.Fprintf(e.stdout, "Downloaded %s (%s) to %s\n", a[2], domain.HumanSize(n), output)
			})
		}),
	}
	c.Flags().IntVar(&rev, "revision", 0, "revision number (default: the latest)")
	c.Flags().StringVarP(&output, "output", "o", "", "file to write (\"-\" for standard output; default: the file's name)")
	c.Flags().BoolVar(&force, "force", false, "overwrite an existing output file")
	return c
}

func rmCmd(e *env) *cobra.Command {
	var expect int
	c := &cobra.Command{
		Use: "rm PROJECT VERSION PATH...", Short: "Remove files or directories, as one new revision", Args: args(cobra.MinimumNArgs(3)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			req := core.RevisionRequest{Description: "remove " + joinShort(a[2:])}
			if c.Flags().Changed("expect-revision") {
				req.ExpectRevision = &expect
			}
			for _, p := range a[2:] {
				req.Changes = append(req.Changes, core.Change{Op: "delete", Path: p})
			}
			return e.commit(c.Context(), cl, a[0], a[1], req)
		}),
	}
	c.Flags().IntVar(&expect, "expect-revision", 0, "fail unless the release is at this revision")
	return c
}

func mvCmd(e *env) *cobra.Command {
	var expect int
	c := &cobra.Command{
		Use: "mv PROJECT VERSION FROM TO", Short: "Move or rename a file or directory, as one new revision", Args: args(cobra.ExactArgs(4)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			req := core.RevisionRequest{Description: "move " + a[2] + " to " + a[3],
				Changes: []core.Change{{Op: "move", From: a[2], To: a[3]}}}
			if c.Flags().Changed("expect-revision") {
				req.ExpectRevision = &expect
			}
			return e.commit(c.Context(), cl, a[0], a[1], req)
		}),
	}
	c.Flags().IntVar(&expect, "expect-revision", 0, "fail unless the release is at this revision")
	return c
}

func joinShort(ps []string) string {
	s := ""
	for i, p := range ps {
		if i == 3 {
			return s + fmt.Sprintf(" and %d more", len(ps)-3)
		}
		if i > 0 {
			s += ", "
		}
		s += p
	}
	return s
}
