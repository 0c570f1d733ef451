package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"trel/client"
	"trel/internal/verify"
)

// `trel verify --release URL` and `trel verify --server URL PROJECT
// VERSION`: a whole published release in one command.

type releaseFlags struct {
	release, server, dir, logKey string
}

// args chooses the positional arguments by mode: none with --release,
// PROJECT VERSION with --server, ARTIFACT otherwise.
func (rf *releaseFlags) args(c *cobra.Command, a []string) error {
	var check cobra.PositionalArgs
	switch {
	case rf.release != "" && rf.server != "":
		return usageError{errors.New("give either --release URL or --server URL PROJECT VERSION, not both")}
	case rf.release != "":
		check = cobra.NoArgs
	case rf.server != "":
		check = cobra.ExactArgs(2)
	case rf.dir != "" || rf.logKey != "":
		return usageError{errors.New("--dir and --log-key go with --release URL or --server URL PROJECT VERSION")}
	default:
		check = cobra.ExactArgs(1)
	}
	return args(check)(c, a)
}

func (rf *releaseFlags) active() bool { return rf.release != "" || rf.server != "" }

func (rf *releaseFlags) run(c *cobra.Command, e *env, a []string, trustedRoot string) error {
	ctx := c.Context()
	releaseURL := rf.release
	if rf.server != "" {
		p, err := client.New(rf.server, "").Project(ctx, a[0])
		if err != nil {
			return err
		}
		releaseURL = strings.TrimSuffix(rf.server, "/") + "/downloads/" + url.PathEscape(p.CommitteeKey) + "/" + url.PathEscape(p.Key) + "/" + url.PathEscape(a[1]) + "/"
	}
	server, err := verify.ServerOf(releaseURL)
	if err != nil {
		return usageError{err}
	}
	if rf.dir != "" {
		if st, err := os.Stat(rf.dir); err != nil || !st.IsDir() {
			return usageError{fmt.Errorf("--dir %s is not a directory", rf.dir)}
		}
	}
	trust, err := pinLogKey(server, rf.logKey)
	if err != nil {
		return err
	}
	last, _ := os.ReadFile(logStateFile(server, "log-checkpoint"))
	rep, err := verify.VerifyRelease(ctx, verify.ReleaseOptions{URL: releaseURL, Dir: rf.dir, LogKey: trust.key,
		LastCheckpoint: last, TrustedRoot: trustedRoot})
	if errors.Is(err, verify.ErrUsage) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	rep.Notes = append(trust.notes, rep.Notes...)
	if rep.Log.Checkpoint != nil {
		// The log is consistent with what this client saw: remember it
		// (and, on first use, its key).
		if err := trust.remember(); err != nil {
			return err
		}
		if err := writeState(logStateFile(server, "log-checkpoint"), rep.Log.Checkpoint); err != nil {
			return err
		}
	}
	if err := e.out(rep, func() { printReleaseReport(e, rep) }); err != nil {
		return err
	}
	// The verdict is printed once, above: the exit code says the rest.
	if !rep.OK {
		return reportedError{code: exitError}
	}
	return nil
}

// logTrust is the log key a verification pins, and how it was chosen.
type logTrust struct {
	key      string
	notes    []string
	remember func() error
}

// pinLogKey returns the log key to trust: --log-key's file; else the key
// seen on first use and kept next to the configuration (a server that now
// publishes another key is not believed); else, the first time, the key
// the server publishes (trust on first use).
func pinLogKey(server, keyFile string) (*logTrust, error) {
	t := &logTrust{remember: func() error { return nil }}
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, usageError{fmt.Errorf("--log-key: %w", err)}
		}
		t.key = strings.TrimSpace(string(b))
		return t, nil
	}
	state := logStateFile(server, "log-key")
	published, err := fetchLogKey(server)
	if err != nil {
		return nil, err
	}
	if saved, err := os.ReadFile(state); err == nil {
		t.key = strings.TrimSpace(string(saved))
		if t.key != published {
			t.notes = append(t.notes, fmt.Sprintf("%s now publishes another log key (%s) than the one this client pinned on first use (%s, kept in %s): the pinned key is used", server, published, t.key, state))
		}
		return t, nil
	}
	t.key = published
	t.notes = append(t.notes, fmt.Sprintf("first use of %s's log: its key %s is pinned from now on (in %s); pass --log-key FILE to pin one you got elsewhere", server, published, state))
	t.remember = func() error { return writeState(state, []byte(published+"\n")) }
	return t, nil
}

// fetchLogKey reads the verifier key a server publishes for its log.
func fetchLogKey(server string) (string, error) {
	resp, err := http.Get(server + "/log/verifier-key")
	if err != nil {
		return "", fmt.Errorf("cannot reach %s: %w", server, err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("%s publishes no log key (%s)", server, resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}

// logStateFile is where this client keeps what it learnt of a server's
// log (prefix log-checkpoint: the last checkpoint seen; log-key: the key
// pinned on first use), next to the configuration.
func logStateFile(server, prefix string) string {
	p, err := configPath()
	if err != nil {
		return ""
	}
	h := sha256.Sum256([]byte(strings.TrimSuffix(server, "/")))
	return filepath.Join(filepath.Dir(p), prefix+"-"+hex.EncodeToString(h[:6]))
}

func writeState(path string, data []byte) error {
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

func printReleaseReport(e *env, rep *verify.ReleaseReport) {
	mark := func(ok bool) string {
		if ok {
			return "✓"
		}
		return "✗"
	}
	fmt.Fprintf(e.stdout, "Release %s %s (committee %s, revision %d) at %s\n", rep.Project, rep.Version, rep.Committee, rep.Revision, rep.URL)
	if st := rep.Status; st != nil && st.YankedAt != nil {
		fmt.Fprintf(e.stdout, "! YANKED on %s: %s\n  (the release managers withdrew this release; it still verifies, but do not use it)\n", st.YankedAt.UTC().Format("2006-01-02"), st.YankReason)
	}
	if st := rep.Status; st != nil && st.ArchivedAt != nil {
		fmt.Fprintf(e.stdout, "- archived on %s: the files are in %s\n", st.ArchivedAt.UTC().Format("2006-01-02"), st.FilesURL)
	}
	fmt.Fprintf(e.stdout, "%s %-8s %s\n", mark(rep.Log.OK), "log", rep.Log.Message)
	for _, f := range rep.Files {
		fmt.Fprintf(e.stdout, "%s %-8s %s: %s\n", mark(f.OK), "file", f.Path, f.Message)
		if v := f.Verification; v != nil {
			fmt.Fprintf(e.stdout, "%s %-8s %s: %s\n", mark(v.OK), v.Kind, f.Path, v.Message)
		}
	}
	for _, a := range rep.Artifacts {
		fmt.Fprintf(e.stdout, "%s %-8s %s: %s", mark(a.OK), "policy", a.Path, a.Message)
		if len(a.Signers) > 0 {
			fmt.Fprintf(e.stdout, " — %s", strings.Join(a.Signers, "; "))
		}
		fmt.Fprintln(e.stdout)
	}
	fmt.Fprintf(e.stdout, "%s %-8s %s\n", mark(rep.Vote.OK), "vote", rep.Vote.Message)
	// What CI runs did, one line per run.
	var runs []string
	did := map[string][]string{}
	for _, w := range rep.Workflows {
		what := w.Action
		if w.Number > 0 {
			what = fmt.Sprintf("%s %d", w.Action, w.Number)
		}
		run := w.Run.String()
		if did[run] == nil {
			runs = append(runs, run)
		}
		did[run] = append(did[run], what)
	}
	for _, run := range runs {
		fmt.Fprintf(e.stdout, "- CI %s: %s\n", strings.Join(did[run], ", "), run)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(e.stdout, "- %s\n", n)
	}
	if rep.OK {
		yanked := ""
		if rep.Status != nil && rep.Status.YankedAt != nil {
			yanked = " (YANKED)"
		}
		fmt.Fprintf(e.stdout, "VERIFIED: %s %s%s\n", rep.Project, rep.Version, yanked)
		return
	}
	fmt.Fprintf(e.stdout, "NOT VERIFIED: %s %s\n", rep.Project, rep.Version)
	for _, p := range rep.Problems {
		fmt.Fprintf(e.stdout, "  - %s\n", p.Message)
	}
}
