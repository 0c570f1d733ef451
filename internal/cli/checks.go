package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"trel/client"
	"trel/internal/core"
	"trel/internal/domain"
)

// exitCodeError carries a specific exit code (e.g. `checks wait`).
type exitCodeError struct {
	code int
	msg  string
}

func (e exitCodeError) Error() string { return e.msg }

func checksCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "checks", Short: "Automated check results of a release"}
	var rev int
	list := &cobra.Command{
		Use: "list PROJECT VERSION [--revision N]", Short: "Show check results, most severe first", Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			rep, err := cl.Checks(c.Context(), a[0], a[1], rev)
			if err != nil {
				return err
			}
			return e.out(rep, func() { e.printChecks(rep) })
		}),
	}
	list.Flags().IntVar(&rev, "revision", 0, "revision (default: the latest)")

	var timeout time.Duration
	wait := &cobra.Command{
		Use:   "wait PROJECT VERSION [--timeout D]",
		Short: "Wait for the latest revision's checks: exit 0 no blocker, 1 blocker, 2 timeout",
		Args:  args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			deadline := time.Now().Add(timeout)
			for {
				rep, err := cl.Checks(c.Context(), a[0], a[1], 0)
				var ce *client.Error
				if err != nil && !(errors.As(err, &ce) && ce.Status == 404 && ce.Message == "no checks were run on this revision") {
					return err
				}
				if err == nil && rep.Finished {
					if err := e.out(rep, func() { e.printChecks(rep) }); err != nil {
						return err
					}
					if n := rep.Summary[domain.StatusBlocker]; n > 0 {
						return exitCodeError{1, fmt.Sprintf("%d blocker(s) in revision %d", n, rep.Revision)}
					}
					return nil
				}
				if time.Now().After(deadline) {
					return exitCodeError{2, fmt.Sprintf("the checks did not finish within %s", timeout)}
				}
				select {
				case <-c.Context().Done():
					return c.Context().Err()
				case <-time.After(300 * time.Millisecond):
				}
			}
		}),
	}
	wait.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait")

	rerun := &cobra.Command{
		Use: "rerun PROJECT VERSION [--revision N]", Short: "Run a revision's checks again", Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			r, err := cl.RerunChecks(c.Context(), a[0], a[1], rev)
			if err != nil {
				return err
			}
			return e.out(r, func() { fmt.Fprintln(e.stdout, "Checks queued again. Follow them with `trel checks wait`.") })
		}),
	}
	rerun.Flags().IntVar(&rev, "revision", 0, "revision (default: the latest)")
	c.AddCommand(list, wait, rerun, ackCmd(e))
	return c
}

func (e *env) printChecks(rep *core.ChecksReport) {
	if !rep.Finished {
		fmt.Fprintf(e.stdout, "Checks of revision %d are %s.\n", rep.Revision, rep.Run.State)
		return
	}
	fmt.Fprintf(e.stdout, "Checks of revision %d: %d blocker, %d exception, %d concern, %d suggestion, %d note\n", rep.Revision,
		rep.Summary[domain.StatusBlocker], rep.Summary[domain.StatusException], rep.Summary[domain.StatusConcern],
		rep.Summary[domain.StatusSuggestion], rep.Summary[domain.StatusNote])
	results := append([]domain.CheckResult(nil), rep.Results...)
	domain.SortCheckResults(results)
	for _, r := range results {
		path := r.Path
		if path == "" {
			path = "(release)"
		}
		fmt.Fprintf(e.stdout, "%-10s %-9s %s\n           %s\n", r.Status, r.Checker, path, r.Message)
		if r.Ignored != "" {
			fmt.Fprintf(e.stdout, "           (ignored by the project's policy: %s)\n", r.Ignored)
		}
		if r.Ack != nil {
			fmt.Fprintf(e.stdout, "           (acknowledged by %s: %s)\n", r.Ack.User, r.Ack.Comment)
		}
	}
}
