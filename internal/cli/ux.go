package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"trel/client"
	"trel/internal/domain"
	"trel/internal/store"
)

// Commands of issue 16: who am I, signing out, the account's sessions and
// passkeys, abandoning a draft, restoring a revision, the audit log.

func whoamiCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use: "whoami", Short: "Show the server and the user this client acts as", Args: args(cobra.NoArgs),
		Example: "  trel whoami\n  trel whoami --json",
		RunE: run(func(c *cobra.Command, cl *client.Client, _ []string) error {
			u, err := cl.Me(c.Context())
			if err != nil {
				return err
			}
			return e.out(map[string]any{"server": cl.Base(), "user": u}, func() {
				role := ""
				if u.Admin {
					role = " (administrator)"
				}
				fmt.Fprintf(e.stdout, "%s as %s <%s>%s\n", cl.Base(), u.Username, u.Email, role)
			})
		}),
	}
}

func logoutCmd(e *env) *cobra.Command {
	var revoke bool
	c := &cobra.Command{
		Use:   "logout [--revoke]",
		Short: "Forget the saved API token (and revoke it on the server with --revoke)",
		Long: `Remove the token saved by ` + "`trel login`" + ` from the configuration file; the server
URL stays. With --revoke the token is also revoked on the server first, so that
a copy of it elsewhere stops working too. TREL_TOKEN, when set, is not touched:
unset it yourself.`,
		Example: "  trel logout\n  trel logout --revoke",
		Args:    args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			if cfg.Token == "" {
				return e.out(map[string]any{"logged_out": false}, func() { fmt.Fprintln(e.stdout, "No token is saved: nothing to forget.") })
			}
			if revoke {
				cl := client.New(cfg.Server, cfg.Token)
				ts, err := cl.ListTokens(c.Context())
				if err != nil {
					return fmt.Errorf("the token was not revoked, nor forgotten: %w", err)
				}
				for _, t := range ts {
					if strings.HasPrefix(cfg.Token, t.Prefix) && t.RevokedAt == nil {
						if err := cl.RevokeToken(c.Context(), t.ID); err != nil {
							return fmt.Errorf("the token was not revoked, nor forgotten: %w", err)
						}
					}
				}
			}
			cfg.Token = ""
			p, err := saveConfig(cfg)
			if err != nil {
				return err
			}
			return e.out(map[string]any{"logged_out": true, "revoked": revoke}, func() {
				fmt.Fprintf(e.stdout, "Forgot the token saved in %s.", p)
				if revoke {
					fmt.Fprint(e.stdout, " It is revoked on the server.")
				}
				fmt.Fprintln(e.stdout)
				if os.Getenv("TREL_TOKEN") != "" {
					fmt.Fprintln(e.stdout, "TREL_TOKEN is still set in your environment: unset it too.")
				}
			})
		},
	}
	c.Flags().BoolVar(&revoke, "revoke", false, "also revoke the token on the server")
	return c
}

func accountCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "account", Short: "Your browser sessions and passkeys"}
	sessions := &cobra.Command{
		Use: "sessions", Short: "List the browsers signed in as you", Args: args(cobra.NoArgs),
		Example: "  trel account sessions",
		RunE: run(func(c *cobra.Command, cl *client.Client, _ []string) error {
			ss, err := cl.MySessions(c.Context())
			if err != nil {
				return err
			}
			return e.out(ss, func() {
				if len(ss) == 0 {
					fmt.Fprintln(e.stdout, "No browser is signed in as you.")
					return
				}
				var rows [][]string
				for _, s := range ss {
					rows = append(rows, []string{strconv.FormatInt(s.ID, 10), domain.DeviceName(s.UserAgent), s.ClientIP, s.Passkey, when(s.CreatedAt), when(s.LastSeenAt)})
				}
				e.table([]string{"ID", "DEVICE", "ADDRESS", "PASSKEY", "SIGNED IN", "LAST SEEN"}, rows)
			})
		}),
	}
	end := &cobra.Command{
		Use: "end-session ID", Short: "Sign out one browser (a device you lost or do not recognise)", Args: args(cobra.ExactArgs(1)),
		Example: "  trel account sessions\n  trel account end-session 42",
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			id, err := strconv.ParseInt(a[0], 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("the session ID is a number from `trel account sessions`, not %q", a[0])}
			}
			if err := cl.EndMySession(c.Context(), id); err != nil {
				return err
			}
			return e.out(map[string]any{"ended": id}, func() { fmt.Fprintf(e.stdout, "Session %d is ended: that browser must sign in again.\n", id) })
		}),
	}
	passkeys := &cobra.Command{
		Use: "passkeys", Short: "List your passkeys", Args: args(cobra.NoArgs),
		Example: "  trel account passkeys",
		RunE: run(func(c *cobra.Command, cl *client.Client, _ []string) error {
			pks, err := cl.MyPasskeys(c.Context())
			if err != nil {
				return err
			}
			return e.out(pks, func() {
				var rows [][]string
				for _, p := range pks {
					rows = append(rows, []string{strconv.FormatInt(p.ID, 10), p.Name, when(p.CreatedAt), whenPtr(p.LastUsedAt), synced(p)})
				}
				e.table([]string{"ID", "NAME", "ADDED", "LAST USED", "SYNCED"}, rows)
			})
		}),
	}
	rename := &cobra.Command{
		Use: "rename-passkey ID NAME", Short: "Rename one of your passkeys, to tell your devices apart", Args: args(cobra.ExactArgs(2)),
		Example: "  trel account passkeys\n  trel account rename-passkey 3 \"work laptop\"",
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			id, err := strconv.ParseInt(a[0], 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("the passkey ID is a number from `trel account passkeys`, not %q", a[0])}
			}
			if err := cl.RenamePasskey(c.Context(), id, a[1]); err != nil {
				return err
			}
			return e.out(map[string]any{"id": id, "name": a[1]}, func() { fmt.Fprintf(e.stdout, "Passkey %d is now called %q.\n", id, a[1]) })
		}),
	}
	c.AddCommand(sessions, end, passkeys, rename)
	return c
}

func synced(p store.Passkey) string {
	switch {
	case p.BackupEligible && p.BackupState:
		return "backed up"
	case p.BackupEligible:
		return "can be backed up"
	}
	return "this device only"
}

func abandonCmd(e *env) *cobra.Command {
	var reason string
	var yes bool
	c := &cobra.Command{
		Use:   "abandon PROJECT VERSION [--reason WHY] [--yes]",
		Short: "Delete a draft release for good (committee members)",
		Long: `Delete a draft release with its revisions, check results, release managers and
cancelled votes. Its files are removed later by the storage sweep, unless
another release holds the same content. The version can then be started again.
A release under vote cannot be abandoned: cancel its vote first.

This cannot be undone: on a terminal trel asks first; elsewhere give --yes.`,
		Example: "  trel release abandon tomcat-server 11.0.0-rc1 --reason \"started by mistake\"\n  trel release abandon tomcat-server 11.0.0-rc1 --yes",
		Args:    args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if err := e.confirm(yes, fmt.Sprintf("Delete the draft %s %s and all its revisions for good?", a[0], a[1]), "delete the draft"); err != nil {
				return err
			}
			if err := cl.Abandon(c.Context(), a[0], a[1], reason); err != nil {
				return err
			}
			return e.out(map[string]any{"abandoned": true}, func() {
				fmt.Fprintf(e.stdout, "The draft %s %s is deleted. Its content is removed by the storage sweep.\n", a[0], a[1])
			})
		}),
	}
	c.Flags().StringVar(&reason, "reason", "", "why (kept in the audit log)")
	c.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return c
}

func restoreCmd(e *env) *cobra.Command {
	var expect int
	c := &cobra.Command{
		Use:   "restore PROJECT VERSION REVISION [--expect-revision N]",
		Short: "Make a new revision of a draft with the files of an earlier revision",
		Long: `Make a new revision holding exactly the files of an earlier revision (nothing
is lost: the revisions in between stay in the history). --expect-revision is
the latest revision you saw: if someone changed the release since, nothing is
done and trel says so.`,
		Example: "  trel revisions tomcat-server 11.0.0\n  trel restore tomcat-server 11.0.0 2\n  trel restore tomcat-server 11.0.0 2 --expect-revision 5",
		Args:    args(cobra.ExactArgs(3)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			n, err := strconv.Atoi(a[2])
			if err != nil || n < 1 {
				return usageError{fmt.Errorf("REVISION is a revision number (see `trel revisions %s %s`), not %q", a[0], a[1], a[2])}
			}
			var exp *int
			if c.Flags().Changed("expect-revision") {
				exp = &expect
			}
			res, err := cl.Restore(c.Context(), a[0], a[1], n, exp)
			if err != nil {
				return err
			}
			return e.out(res, func() {
				fmt.Fprintf(e.stdout, "Revision %d holds the files of revision %d (%d files).\n", res.Revision.Number, n, len(res.Revision.Files))
			})
		}),
	}
	c.Flags().IntVar(&expect, "expect-revision", 0, "fail unless the latest revision is still `N`")
	return c
}

func auditCmd(e *env) *cobra.Command {
	var f store.AuditFilter
	var offset, limit int
	c := &cobra.Command{
		Use:   "audit [--actor USER] [--action PREFIX] [--target TEXT] [--offset N] [--limit N]",
		Short: "Read the audit log, newest first (administrators)",
		Example: "  trel audit --limit 20\n  trel audit --actor alice --action release.\n" +
			"  trel audit --target tomcat-server/11.0.0 --offset 100",
		Args: args(cobra.NoArgs),
		RunE: run(func(c *cobra.Command, cl *client.Client, _ []string) error {
			evs, more, err := cl.AuditPage(c.Context(), f, offset, limit)
			if err != nil {
				return err
			}
			return e.out(map[string]any{"events": evs, "more": more}, func() {
				var rows [][]string
				for _, ev := range evs {
					rows = append(rows, []string{when(ev.Time), ev.Actor, ev.Action, ev.Target, ev.ClientIP})
				}
				e.table([]string{"TIME", "ACTOR", "ACTION", "TARGET", "CLIENT"}, rows)
				if more {
					fmt.Fprintf(e.stdout, "Older events match: add --offset %d.\n", offset+len(evs))
				}
			})
		}),
	}
	fl := c.Flags()
	fl.StringVar(&f.Actor, "actor", "", "only events by this `USER`")
	fl.StringVar(&f.Action, "action", "", "only actions starting with `PREFIX` (e.g. release. or key.add)")
	fl.StringVar(&f.Target, "target", "", "only targets containing `TEXT`")
	fl.IntVar(&offset, "offset", 0, "skip the newest `N` events")
	fl.IntVar(&limit, "limit", 100, "at most `N` events (up to 500)")
	return c
}

// confirm asks before an irreversible action: yes skips the question; on a
// terminal the user answers; elsewhere the action is refused, saying to
// add --yes.
func (e *env) confirm(yes bool, question, what string) error {
	if yes {
		return nil
	}
	in, ok := e.stdin.(*os.File)
	if !ok || !isTerminal(in) || !isTerminal(e.stderr) {
		return usageError{fmt.Errorf("not asking on a terminal: add --yes to %s", what)}
	}
	fmt.Fprintf(e.stderr, "%s [y/N] ", question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return errors.New("no answer: nothing was done")
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errors.New("nothing was done")
}

// voteHistoryCmd is `trel vote history`: every round with its ballots,
// cancelled ones with the reason.
func voteHistoryCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use: "history PROJECT VERSION", Short: "Every vote round of a release with its ballots, cancelled rounds with why", Args: args(cobra.ExactArgs(2)),
		Example: "  trel vote history tomcat-server 11.0.0\n  trel vote history tomcat-server 11.0.0 --json",
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			h, err := cl.VoteHistory(c.Context(), a[0], a[1])
			if err != nil {
				return err
			}
			return e.out(map[string]any{"rounds": h}, func() {
				if len(h) == 0 {
					fmt.Fprintf(e.stdout, "No vote on %s %s yet: a release manager starts it with `trel vote start %s %s`.\n", a[0], a[1], a[0], a[1])
				}
				for _, rec := range h {
					r := rec.Round
					fmt.Fprintf(e.stdout, "Vote %d on revision %d, started by %s on %s: %s\n", r.Round, r.Revision, r.StartedBy, when(r.StartedAt), roundOutcome(r))
					printBallots(e, rec.Votes)
				}
			})
		}),
	}
}

// roundOutcome says how a vote round ended, in words.
func roundOutcome(r domain.VoteRound) string {
	switch {
	case r.ResolvedAt == nil:
		return "open"
	case r.CancelReason != "" && r.Passed != nil && *r.Passed:
		return "passed, then withdrawn before publication: " + domain.SafeText(r.CancelReason)
	case r.CancelReason != "":
		return fmt.Sprintf("cancelled by %s on %s: %s", r.ResolvedBy, when(*r.ResolvedAt), domain.SafeText(r.CancelReason))
	case r.Passed != nil && *r.Passed:
		return fmt.Sprintf("passed (resolved by %s on %s)", r.ResolvedBy, when(*r.ResolvedAt))
	}
	return fmt.Sprintf("did not pass (resolved by %s on %s)", r.ResolvedBy, when(*r.ResolvedAt))
}
