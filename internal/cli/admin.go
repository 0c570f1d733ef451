package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"trel/internal/core"
	"trel/internal/server"
)

// adminCmd groups commands that work directly on a data directory (or on
// the --database and --blobs of a replicated deployment). Whoever can read
// them already holds all the data, so these run as the system actor; they
// are safe beside running servers (SQLite WAL; PostgreSQL transactions).
func adminCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "admin", Short: "Administer a data directory directly (also while the server runs)"}
	var eng server.Engines
	engineFlags(c.PersistentFlags(), &eng)

	var username, email, name string
	var admin bool
	createUser := &cobra.Command{
		Use:   "create-user --username U --email E [--admin]",
		Short: "Create a user",
		Args:  args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			app, err := server.OpenEngines(c.Context(), eng, core.Options{})
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
			app, err := server.OpenEngines(c.Context(), eng, core.Options{})
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

	var from, logDir string
	var resume bool
	migrateStorage := &cobra.Command{
		Use:   "migrate-storage --from-data DIR --database URL --blobs URL --log-dir DIR [--resume]",
		Short: "Copy an embedded installation (database, blobs, downloads, public log) to PostgreSQL, S3 and a log directory",
		Long: `Copy every table, every blob (each verified by its SHA-256 after the copy), the
downloads tree and the public log of a data directory to PostgreSQL, an S3 bucket and a
log directory that replicas share. Stop the server first. A target that already holds
data is refused unless --resume, which continues an interrupted copy and is safe to run
again after a complete one.`,
		Args: args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			return server.MigrateStorage(c.Context(), server.MigrateConfig{FromData: from, Database: eng.Database, Blobs: eng.Blobs, LogDir: logDir, Resume: resume}, e.stdout)
		},
	}
	migrateStorage.Flags().StringVar(&from, "from-data", "", "data directory of the embedded installation (required)")
	migrateStorage.Flags().StringVar(&logDir, "log-dir", envOr("TREL_LOG_DIR", ""), "log directory the replicas will share (required)")
	migrateStorage.Flags().BoolVar(&resume, "resume", false, "continue an interrupted copy into a target that already holds data")
	migrateStorage.MarkFlagRequired("from-data")
	migrateStorage.MarkFlagRequired("log-dir")

	c.AddCommand(createUser, createToken, migrateStorage, adminEnrollCmd(e, &eng))
	c.AddCommand(adminMasterKeyCmds(e, &eng)...)
	c.AddCommand(adminIncidentCmds(e, &eng)...)
	return c
}
