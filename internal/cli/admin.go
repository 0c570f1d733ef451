package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"trel/internal/core"
	"trel/internal/server"
)

// adminCmd groups commands that work directly on a data directory. Whoever
// can read the directory already holds all its data, so these run as the
// system actor; they are safe beside a running server (SQLite WAL).
func adminCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "admin", Short: "Administer a data directory directly (also while the server runs)"}
	var dataDir string
	c.PersistentFlags().StringVar(&dataDir, "data", envOr("TREL_DATA", "./trel-data"), "data directory")

	var username, email, name string
	var admin bool
	createUser := &cobra.Command{
		Use:   "create-user --username U --email E [--admin]",
		Short: "Create a user",
		Args:  args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			app, err := server.Open(c.Context(), dataDir, core.Options{})
			if err != nil {
				return err
			}
			defer app.Close()
			u, err := app.Core.CreateUser(c.Context(), core.SystemActor, core.NewUser{Username: username, Email: email, Name: name, Admin: admin})
			if err != nil {
				return err
			}
			return e.out(u, func() {
				role := "user"
				if u.Admin {
					role = "administrator"
				}
				fmt.Fprintf(e.stdout, "Created %s %s <%s>\n", role, u.Username, u.Email)
			})
		},
	}
	createUser.Flags().StringVar(&username, "username", "", "username (required)")
	createUser.Flags().StringVar(&email, "email", "", "e-mail address (required)")
	createUser.Flags().StringVar(&name, "name", "", "full name")
	createUser.Flags().BoolVar(&admin, "admin", false, "make the user an administrator")
	createUser.MarkFlagRequired("username")
	createUser.MarkFlagRequired("email")

	var tUser, label, expires string
	createToken := &cobra.Command{
		Use:   "create-token --username U [--label L] [--expires 90d]",
		Short: "Create an API token for a user; prints only the token",
		Args:  args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			ttl, err := core.ParseTTL(expires)
			if err != nil {
				return err
			}
			app, err := server.Open(c.Context(), dataDir, core.Options{})
			if err != nil {
				return err
			}
			defer app.Close()
			secret, t, err := app.Core.CreateToken(c.Context(), core.SystemActor, tUser, label, ttl)
			if err != nil {
				return err
			}
			return e.out(map[string]any{"token": t, "secret": secret}, func() { fmt.Fprintln(e.stdout, secret) })
		},
	}
	createToken.Flags().StringVar(&tUser, "username", "", "user who will own the token (required)")
	createToken.Flags().StringVar(&label, "label", "admin-created", "label to recognise the token by")
	createToken.Flags().StringVar(&expires, "expires", "90d", "lifetime, e.g. 90d or 12h (at most 366d)")
	createToken.MarkFlagRequired("username")

	c.AddCommand(createUser, createToken, adminEnrollCmd(e, &dataDir))
	c.AddCommand(adminMasterKeyCmds(e, &dataDir)...)
	c.AddCommand(adminIncidentCmds(e, &dataDir)...)
	return c
}
