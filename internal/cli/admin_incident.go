package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/server"
)

// adminIncidentCmds are what an operator needs when an account is
// compromised: suspend it, see and revoke its tokens, see and end its
// browser sessions, remove its passkeys. They work on the data directory
// (--data) as the system, beside a running server, and are audited.
func adminIncidentCmds(e *env, eng *server.Engines) []*cobra.Command {
	// withApp opens the (existing) data directory for one command.
	withApp := func(run func(ctx context.Context, svc *core.Service, args []string) error) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, a []string) error {
			app, err := server.OpenEngines(c.Context(), *eng, core.Options{})
			if err != nil {
				return err
			}
			defer app.Close()
			return run(c.Context(), app.Core, a)
		}
	}
	id := func(s string) (int64, error) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return 0, usageError{fmt.Errorf("%q is not an id: give the number shown by the listing command", s)}
		}
		return n, nil
	}
	sys := core.SystemActor
	done := func(msg string) error {
		return e.out(map[string]string{"result": msg}, func() { fmt.Fprintln(e.stdout, msg) })
	}
	return []*cobra.Command{
		{
			Use:   "suspend USER",
			Short: "Suspend a user at once: tokens, sessions, enrollment links and server-side signing refused",
			Args:  args(cobra.ExactArgs(1)),
			RunE: withApp(func(ctx context.Context, svc *core.Service, a []string) error {
				if err := svc.SuspendUser(ctx, sys, a[0]); err != nil {
					return err
				}
				return done(a[0] + " is suspended; their browser sessions were ended. What they made stays attributed to them.")
			}),
		},
		{
			Use:   "reactivate USER",
			Short: "Lift a user's suspension (tokens not revoked work again)",
			Args:  args(cobra.ExactArgs(1)),
			RunE: withApp(func(ctx context.Context, svc *core.Service, a []string) error {
				if err := svc.ReactivateUser(ctx, sys, a[0]); err != nil {
					return err
				}
				return done(a[0] + " is active again.")
			}),
		},
		{
			Use:   "tokens USER",
			Short: "List a user's API tokens",
			Args:  args(cobra.ExactArgs(1)),
			RunE: withApp(func(ctx context.Context, svc *core.Service, a []string) error {
				ts, err := svc.UserTokens(ctx, sys, a[0])
				if err != nil {
					return err
				}
				return e.out(map[string]any{"tokens": ts}, func() { e.tokenTable(ts) })
			}),
		},
		{
			Use:   "revoke-token ID",
			Short: "Revoke any user's API token (see `trel admin tokens USER`)",
			Args:  args(cobra.ExactArgs(1)),
			RunE: withApp(func(ctx context.Context, svc *core.Service, a []string) error {
				n, err := id(a[0])
				if err != nil {
					return err
				}
				if err := svc.RevokeAnyToken(ctx, sys, n); err != nil {
					return err
				}
				return done(fmt.Sprintf("Token %d is revoked: it no longer works.", n))
			}),
		},
		{
			Use:   "sessions USER",
			Short: "List a user's browser sessions: address, browser, passkey, times",
			Args:  args(cobra.ExactArgs(1)),
			RunE: withApp(func(ctx context.Context, svc *core.Service, a []string) error {
				ss, err := svc.UserSessions(ctx, sys, a[0])
				if err != nil {
					return err
				}
				return e.out(map[string]any{"sessions": ss}, func() { e.sessionTable(ss) })
			}),
		},
		{
			Use:   "end-session ID",
			Short: "End any user's browser session (see `trel admin sessions USER`)",
			Args:  args(cobra.ExactArgs(1)),
			RunE: withApp(func(ctx context.Context, svc *core.Service, a []string) error {
				n, err := id(a[0])
				if err != nil {
					return err
				}
				if err := svc.EndSession(ctx, sys, n); err != nil {
					return err
				}
				return done(fmt.Sprintf("Session %d is ended.", n))
			}),
		},
		{
			Use:   "passkeys USER",
			Short: "List a user's passkeys",
			Args:  args(cobra.ExactArgs(1)),
			RunE: withApp(func(ctx context.Context, svc *core.Service, a []string) error {
				ps, err := svc.UserPasskeys(ctx, sys, a[0])
				if err != nil {
					return err
				}
				return e.out(map[string]any{"passkeys": ps}, func() {
					var rows [][]string
					for _, p := range ps {
						rows = append(rows, []string{strconv.FormatInt(p.ID, 10), p.Name, when(p.CreatedAt), whenPtr(p.LastUsedAt)})
					}
					e.table([]string{"ID", "NAME", "ADDED", "LAST USED"}, rows)
				})
			}),
		},
		{
			Use:   "remove-passkey ID",
			Short: "Remove any user's passkey (even the last one) and end the sessions opened with it",
			Args:  args(cobra.ExactArgs(1)),
			RunE: withApp(func(ctx context.Context, svc *core.Service, a []string) error {
				n, err := id(a[0])
				if err != nil {
					return err
				}
				ended, err := svc.RemoveAnyPasskey(ctx, sys, n)
				if err != nil {
					return err
				}
				return done(fmt.Sprintf("Passkey %d is removed; %d session(s) opened with it were ended.", n, ended))
			}),
		},
	}
}

func (e *env) sessionTable(ss []domain.Session) {
	var rows [][]string
	for _, s := range ss {
		pk := s.Passkey
		if pk == "" {
			pk = "–"
		}
		rows = append(rows, []string{strconv.FormatInt(s.ID, 10), s.ClientIP, shorten(s.UserAgent, 40), pk, when(s.CreatedAt), when(s.LastSeenAt)})
	}
	e.table([]string{"ID", "ADDRESS", "BROWSER", "PASSKEY", "SIGNED IN", "LAST SEEN"}, rows)
}

func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return strings.TrimSpace(s)
}
