package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"trel/client"
)

// noticesCmd shows what the web pages show on top: notices about actions
// taken on the user's account (an administrator ended a session, a passkey
// was added through an enrollment link, ...).
func noticesCmd(e *env) *cobra.Command {
	var all, dismissAll bool
	c := &cobra.Command{
		Use:   "notices [--all]",
		Short: "Show your notifications: account notices, votes, receipts, blockers, signatures made with your held keys",
		Args:  args(cobra.NoArgs),
		RunE: run(func(c *cobra.Command, cl *client.Client, _ []string) error {
			list := cl.Notices
			if all {
				list = cl.AllNotices
			}
			ns, err := list(c.Context())
			if err != nil {
				return err
			}
			return e.out(ns, func() {
				if len(ns) == 0 {
					fmt.Fprintln(e.stdout, "No notices.")
				}
				for _, n := range ns {
					read := ""
					if n.DismissedAt != nil {
						read = " (read)"
					}
					fmt.Fprintf(e.stdout, "%d  %s  %-9s %s%s\n", n.ID, when(n.CreatedAt), n.Kind, n.Message, read)
				}
			})
		}),
	}
	c.Flags().BoolVar(&all, "all", false, "read notifications too (the newest 200)")
	dismiss := &cobra.Command{
		Use: "dismiss ID | --all", Short: "Mark a notice read (--all: every one)", Args: args(cobra.MaximumNArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if dismissAll {
				n, err := cl.DismissAllNotices(c.Context())
				if err != nil {
					return err
				}
				return e.out(map[string]int{"dismissed": n}, func() { fmt.Fprintf(e.stdout, "Dismissed %d.\n", n) })
			}
			if len(a) == 0 {
				return usageError{fmt.Errorf("give a notice id, or --all")}
			}
			id, err := strconv.ParseInt(a[0], 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("%q is not a notice id", a[0])}
			}
			if err := cl.DismissNotice(c.Context(), id); err != nil {
				return err
			}
			return e.out(map[string]int64{"dismissed": id}, func() { fmt.Fprintln(e.stdout, "Dismissed.") })
		}),
	}
	dismiss.Flags().BoolVar(&dismissAll, "all", false, "mark every notice read")
	c.AddCommand(dismiss)
	return c
}
