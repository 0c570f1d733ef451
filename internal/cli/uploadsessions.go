package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"trel/client"
	"trel/internal/domain"
)

// uploadsCmd lists and aborts resumable uploads (upload sessions).
func uploadsCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "uploads [PROJECT VERSION]",
		Short: "List your resumable uploads that have not expired (all releases, or one)",
		Long: `List your resumable uploads (files larger than --resumable-over sent in
chunks) with what the server has received: running the same trel upload
command again continues one; trel uploads abort removes one.`,
		Args: args(func(c *cobra.Command, a []string) error {
			if len(a) != 0 && len(a) != 2 {
				return fmt.Errorf("give no arguments, or PROJECT VERSION")
			}
			return nil
		}),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			var project, version string
			if len(a) == 2 {
				project, version = a[0], a[1]
			}
			ss, err := cl.UploadSessions(c.Context(), project, version)
			if err != nil {
				return err
			}
			return e.out(map[string]any{"sessions": nonNilSessions(ss)}, func() {
				if len(ss) == 0 {
					fmt.Fprintln(e.stdout, "No resumable uploads.")
					return
				}
				var rows [][]string
				for _, s := range ss {
					rows = append(rows, []string{s.ID, s.ProjectKey + " " + s.Version, s.Path,
						fmt.Sprintf("%s of %s", domain.HumanSize(s.Received), domain.HumanSize(s.Size)), s.State, when(s.ExpiresAt)})
				}
				e.table([]string{"ID", "RELEASE", "PATH", "RECEIVED", "STATE", "EXPIRES"}, rows)
			})
		}),
	}
	abort := &cobra.Command{
		Use:   "abort PROJECT VERSION ID",
		Short: "Abort a resumable upload: the server deletes what it received",
		Args:  args(cobra.ExactArgs(3)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if err := cl.AbortUploadSession(c.Context(), a[0], a[1], a[2]); err != nil {
				return err
			}
			forgetSessions(a[2])
			return e.out(map[string]any{"aborted": a[2]}, func() {
				fmt.Fprintf(e.stdout, "Aborted upload session %s of %s %s.\n", a[2], a[0], a[1])
			})
		}),
	}
	c.AddCommand(abort)
	return c
}

func nonNilSessions(ss []domain.UploadSession) []domain.UploadSession {
	if ss == nil {
		return []domain.UploadSession{}
	}
	return ss
}
