// Package cli implements trel's command line: `trel serve`, the `trel admin`
// commands that work on a data directory, and the client commands that talk
// to a server through the API. Commands parse flags, call the client or the
// core, and print; they hold no business logic.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"trel/client"
	"trel/internal/buildinfo"
	"trel/internal/domain"
)

// Exit codes. Scripts can rely on them.
const (
	exitOK    = 0
	exitError = 1 // the operation failed (the message says why)
	exitUsage = 2 // the command line was wrong
)

// env holds the streams and global flags of one invocation.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	json           bool
	waitNote       sync.Once // see noteWaiting
	printedJSON    bool      // the command printed its JSON output
	args           []string  // the command line, to say what to run again
	// Resumable uploads: the size above which files use upload sessions
	// (0: defaultResumableOver), what interrupted ones left on the
	// server, and the sessions completed by this command (forgotten once
	// their revision exists).
	resumableOver     int64
	kept              []keptUpload
	completedSessions []string
}

// commandLine is the command as the user typed it, quoted for a POSIX
// shell, to print as the command to run again.
func (e *env) commandLine() string {
	out := []string{"trel"}
	for _, a := range e.args {
		out = append(out, shellQuote(a))
	}
	return strings.Join(out, " ")
}

// shellQuote leaves plain words alone and puts anything else in single
// quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// usageError marks a command-line mistake (exit code 2).
type usageError struct{ error }

// Main runs the trel command line and returns its exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, args: args}
	root := newRoot(e)
	root.SetArgs(protectNegativeVote(args))
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitError
	var ec exitCodeError
	var ue usageError
	var re reportedError
	if errors.As(err, &re) {
		return re.code
	}
	switch {
	case errors.As(err, &ec):
		code = ec.code
	case errors.As(err, &ue) || isCobraUsage(err):
		code = exitUsage
	}
	if (e.json || slices.Contains(args, "--json")) && !e.printedJSON {
		// Scripts read one JSON value from standard output, errors too
		// (unless the command printed its own report, as verify does).
		writeJSONError(stdout, err, code)
	}
	fmt.Fprintln(stderr, "trel: "+neutralize(message(err)))
	return code
}

// writeJSONError prints an error as {"error": {"code", "message", "exit"}}:
// the server's error code, or usage / failed for the command line's own.
func writeJSONError(w io.Writer, err error, exit int) {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Status  int    `json:"status,omitempty"`
			Exit    int    `json:"exit"`
		} `json:"error"`
	}
	body.Error.Message, body.Error.Exit = message(err), exit
	body.Error.Code = "failed"
	if exit == exitUsage {
		body.Error.Code = "usage"
	}
	var ce *client.Error
	var de *domain.Error
	switch {
	case errors.As(err, &ce):
		body.Error.Code, body.Error.Status = ce.Code, ce.Status
	case errors.As(err, &de):
		body.Error.Code = string(de.Kind)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(body)
}

// newRoot builds the whole command tree.
func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "trel",
		Short:         "trel: sign, verify and publish trusted open-source releases",
		SilenceUsage:  true,
		SilenceErrors: true,
		Long: `trel is a trusted-release platform.

  trel serve                 run the platform (database and files in ./trel-data)
  trel admin ...             administer a data directory directly
  trel login --server URL    sign this client in with an API token
  trel release / upload ...  work with releases on a server

Every client command accepts --json for machine-readable output.`,
	}
	root.Version = buildinfo.Get().String()
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentFlags().BoolVar(&e.json, "json", false, "print machine-readable JSON")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nsee `%s --help`", err, c.CommandPath())}
	})
	root.AddCommand(
		serveCmd(e),
		adminCmd(e),
		loginCmd(e),
		committeeCmd(e),
		memberCmd(e),
		projectCmd(e),
		releaseCmd(e),
		uploadCmd(e), uploadsCmd(e),
		filesCmd(e),
		revisionsCmd(e),
		downloadCmd(e),
		rmCmd(e),
		mvCmd(e),
		tokenCmd(e),
		keysCmd(e),
		checksCmd(e),
		signCmd(e),
		policyCmd(e),
		signingKeyCmd(e),
		logCmd(e),
		voteCmd(e),
		verifyCmd(e), sigstoreCmd(e),
		noticesCmd(e),
		whoamiCmd(e), logoutCmd(e), accountCmd(e), auditCmd(e), restoreCmd(e),
		issuerCmd(e), publisherCmd(e),
		webhookCmd(e),
	)
	refuseUnknownSubcommands(root)
	addExamples(root)
	useOwnFlagHelp(root)
	return root
}

// negativeVote stands for "-1" in `trel vote cast`: flag parsing would
// otherwise read "-1" as the shorthand flag "-1".
const negativeVote = "\x00-1"

func protectNegativeVote(args []string) []string {
	if len(args) < 2 || args[0] != "vote" || args[1] != "cast" {
		return args
	}
	out := append([]string(nil), args...)
	for i := 2; i < len(out); i++ {
		if out[i] == "-1" {
			out[i] = negativeVote
		}
	}
	return out
}

// message is the user-facing text of an error: the server's or the core's
// public message, never an internal cause.
func message(err error) string {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Message
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return de.Message
	}
	return err.Error()
}

func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "unknown flag", "unknown shorthand", "required flag", "flag needs an argument", "invalid argument"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// refuseUnknownSubcommands makes a typo in a subcommand a usage error
// (exit 2, with suggestions) at every level: cobra only checks the root's,
// and prints help with exit 0 for `trel admin suspnd`.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !c.HasSubCommands() || c.Runnable() || c == c.Root() {
		return
	}
	c.SuggestionsMinimumDistance = 2
	c.Args = func(c *cobra.Command, a []string) error {
		if len(a) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", a[0], c.CommandPath())
		if s := c.SuggestionsFor(a[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
		}
		return usageError{fmt.Errorf("%s\nsee `%s --help`", msg, c.CommandPath())}
	}
	c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
}

// args wraps cobra's argument checks so that they count as usage errors.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, a []string) error {
		if err := check(c, a); err != nil {
			return usageError{fmt.Errorf("%w\nusage: %s", err, c.UseLine())}
		}
		return nil
	}
}
