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
	c := &cobra.Command{
		Use: "notices", Short: "Show notices about your account (e.g. an administrator's action)", Args: args(cobra.NoArgs),
		RunE: run(func(c *cobra.Command, cl *client.Client, _ []string) error {
			ns, err := cl.Notices(c.Context())
			if err != nil {
				return err
			}
			return e.out(ns, func() {
				if len(ns) == 0 {
					fmt.Fprintln(e.stdout, "No notices.")
				}
				for _, n := range ns {
					fmt.Fprintf(e.stdout, "%d  %s  %s\n", n.ID, when(n.CreatedAt), n.Message)
				}
			})
		}),
	}
	c.AddCommand(&cobra.Command{
		Use: "dismiss ID", Short: "Dismiss a notice", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			id, err := strconv.ParseInt(a[0], 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("%q is not a notice id", a[0])}
			}
			if err := cl.DismissNotice(c.Context(), id); err != nil {
				return err
			}
			return e.out(map[string]int64{"dismissed": id}, func() { fmt.Fprintln(e.stdout, "Dismissed.") })
		}),
	})
	return c
}
