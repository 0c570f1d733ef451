package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"trel/internal/core"
	"trel/internal/server"
)

// adminEnrollCmd prints a one-time passkey enrollment link for a user: the
// way in for a new user, and the recovery path for one who lost every
// passkey.
func adminEnrollCmd(e *env, eng *server.Engines) *cobra.Command {
	var username, publicURL string
	c := &cobra.Command{
		Use:   "enroll --username U",
		Short: "Print a one-time link (valid 24 hours) with which a user creates a passkey",
		Args:  args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			app, err := server.OpenEngines(c.Context(), *eng, core.Options{})
			if err != nil {
				return err
			}
			defer app.Close()
			// The public URL `trel serve` runs with is stored: the link is
			// right without the flag.
			if publicURL == "" {
				if publicURL, err = server.StoredPublicURL(c.Context(), app); err != nil {
					return err
				}
			}
			app.PublicURL = publicURL
			keys, err := app.Core.UserPasskeys(c.Context(), core.SystemActor, username)
			if err != nil {
				return err
			}
			link, err := server.EnrollmentLink(c.Context(), app, username)
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				// Never silent: the link is audited as a re-enrollment and the
				// user sees a notice.
				fmt.Fprintf(e.stderr, "trel: %s already has %d passkey(s): this is a re-enrollment; it is audited and %s will see a notice about it\n", username, len(keys), username)
			}
			return e.out(map[string]any{"username": username, "link": link, "existing_passkeys": len(keys)}, func() { fmt.Fprintln(e.stdout, link) })
		},
	}
	c.Flags().StringVar(&username, "username", "", "user who will create a passkey (required)")
	c.Flags().StringVar(&publicURL, "public-url", envOr("TREL_PUBLIC_URL", ""), "`URL` browsers use to reach trel (default: the one trel serve last ran with)")
	c.MarkFlagRequired("username")
	return c
}
