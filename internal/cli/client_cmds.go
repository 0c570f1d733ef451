package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"trel/client"
	"trel/internal/core"
	"trel/internal/domain"
)

func loginCmd(e *env) *cobra.Command {
	var server string
	var useOIDC bool
	var ol oidcLogin
	c := &cobra.Command{
		Use:   "login --server URL [--oidc [--token-env NAME] [--project KEY]]",
		Short: "Save the server URL and an API token (read from stdin or a prompt), or in CI a trusted publisher's credential (--oidc)",
		Long: `Save the server URL and an API token, read from standard input or a hidden prompt.

In CI, --oidc signs in as a trusted publisher instead (see ` + "`trel publisher add`" + `): trel asks
the server which audience it expects, gets the job's OIDC ID token for it (GitHub
Actions: from ACTIONS_ID_TOKEN_REQUEST_URL, which needs ` + "`permissions: id-token: write`" + `;
GitLab CI: from the id_tokens variable named by --token-env), exchanges it for a
credential of at most 15 minutes, and saves it for the following commands.`,
		Example: `  trel admin create-token --data ./trel-data --username admin | trel login --server http://localhost:8080
  trel login --oidc --server https://trel.example.org                            # GitHub Actions
  trel login --oidc --server https://trel.example.org --token-env TREL_ID_TOKEN  # GitLab CI`,
		Args: args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			if useOIDC {
				return ol.run(c, e, server)
			}
			if ol.tokenEnv != "" || ol.project != "" {
				return usageError{errors.New("--token-env and --project go with --oidc")}
			}
			token, err := readSecret(e, "API token: ")
			if err != nil {
				return err
			}
			if !strings.HasPrefix(token, core.TokenPrefix) {
				return usageError{fmt.Errorf("that does not look like a trel API token (they start with %q)", core.TokenPrefix)}
			}
			u, err := client.New(server, token).Me(c.Context())
			if err != nil {
				return err
			}
			p, err := saveConfig(config{Server: server, Token: token})
			if err != nil {
				return err
			}
			return e.out(u, func() {
				fmt.Fprintf(e.stdout, "Signed in to %s as %s. Configuration saved in %s\n", server, u.Username, p)
			})
		},
	}
	c.Flags().StringVar(&server, "server", "", "server URL, e.g. http://localhost:8080 (required)")
	c.Flags().BoolVar(&useOIDC, "oidc", false, "in CI: exchange the job's OIDC ID token for a trusted publisher's credential")
	c.Flags().StringVar(&ol.tokenEnv, "token-env", "", "with --oidc: the variable holding the ID token (GitLab's id_tokens)")
	c.Flags().StringVar(&ol.project, "project", "", "with --oidc: the project, when the workflow publishes several")
	c.MarkFlagRequired("server")
	return c
}

// readSecret reads one line: with a hidden prompt on a terminal, plainly
// from a pipe. The secret is never echoed.
func readSecret(e *env, prompt string) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the token: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", usageError{fmt.Errorf("nothing to read for %q on standard input: type it on a terminal, or pipe it in (e.g. `trel admin create-token ... | trel login --server URL`)", strings.TrimSuffix(strings.TrimSpace(prompt), ":"))}
	}
	return strings.TrimSpace(line), nil
}

// run builds a client and calls fn with it.
func run(fn func(c *cobra.Command, cl *client.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, a []string) error {
		cl, err := newClient()
		if err != nil {
			return err
		}
		return fn(c, cl, a)
	}
}

func committeeCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "committee", Short: "Create, list and show committees"}
	var name string
	create := &cobra.Command{
		Use: "create KEY --name NAME", Short: "Create a committee (administrators)", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			cm, err := cl.CreateCommittee(c.Context(), a[0], name)
			if err != nil {
				return err
			}
			return e.out(cm, func() { fmt.Fprintf(e.stdout, "Created committee %s (%s)\n", cm.Key, cm.Name) })
		}),
	}
	create.Flags().StringVar(&name, "name", "", "display name (required)")
	create.MarkFlagRequired("name")
	list := &cobra.Command{
		Use: "list", Short: "List committees", Args: args(cobra.NoArgs),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			cs, err := cl.ListCommittees(c.Context())
			if err != nil {
				return err
			}
			return e.out(cs, func() {
				if len(cs) == 0 {
					fmt.Fprintln(e.stdout, "No committees yet. An administrator creates one with `trel committee create KEY --name NAME`.")
					return
				}
				var rows [][]string
				for _, c := range cs {
					rows = append(rows, []string{c.Key, c.Name, when(c.CreatedAt)})
				}
				e.table([]string{"KEY", "NAME", "CREATED"}, rows)
			})
		}),
	}
	show := &cobra.Command{
		Use: "show KEY", Short: "Show a committee with its members and projects", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			cd, err := cl.Committee(c.Context(), a[0])
			if err != nil {
				return err
			}
			return e.out(cd, func() {
				fmt.Fprintf(e.stdout, "Committee %s: %s\n", cd.Key, cd.Name)
				if cd.Incubating {
					fmt.Fprintln(e.stdout, "Incubating: releases must carry a DISCLAIMER.")
				}
				fmt.Fprint(e.stdout, "\nMembers:\n")
				if len(cd.Members) == 0 {
					fmt.Fprintln(e.stdout, "  (none) add one with `trel member add COMMITTEE USERNAME --role member`")
				}
				for _, m := range cd.Members {
					fmt.Fprintf(e.stdout, "  %-20s %s\n", m.Username, m.Role)
				}
				fmt.Fprintln(e.stdout, "\nProjects:")
				if len(cd.Projects) == 0 {
					fmt.Fprintln(e.stdout, "  (none) create one with `trel project create KEY --committee COMMITTEE --name NAME`")
				}
				for _, p := range cd.Projects {
					fmt.Fprintf(e.stdout, "  %-20s %s\n", p.Key, p.Name)
				}
			})
		}),
	}
	var off bool
	incubating := &cobra.Command{
		Use: "incubating KEY [--off]", Short: "Mark a committee as incubating (its releases need a DISCLAIMER), or not with --off (administrators)",
		Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if err := cl.SetIncubating(c.Context(), a[0], !off); err != nil {
				return err
			}
			return e.out(map[string]any{"committee": a[0], "incubating": !off}, func() {
				if off {
					fmt.Fprintf(e.stdout, "Committee %s is no longer incubating.\n", a[0])
				} else {
					fmt.Fprintf(e.stdout, "Committee %s is incubating: its releases must carry a DISCLAIMER.\n", a[0])
				}
			})
		}),
	}
	incubating.Flags().BoolVar(&off, "off", false, "the committee is no longer incubating")
	c.AddCommand(create, list, show, incubating)
	return c
}

func memberCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "member", Short: "Add and remove committee members"}
	var role string
	add := &cobra.Command{
		Use: "add COMMITTEE USERNAME --role member|committer", Short: "Add a member or change their role", Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			r, err := domain.ParseRole(role)
			if err != nil {
				return usageError{err}
			}
			m, err := cl.AddMember(c.Context(), a[0], a[1], r)
			if err != nil {
				return err
			}
			return e.out(m, func() { fmt.Fprintf(e.stdout, "%s is now a %s of %s\n", m.Username, m.Role, m.CommitteeKey) })
		}),
	}
	add.Flags().StringVar(&role, "role", "", "member or committer (required)")
	add.MarkFlagRequired("role")
	remove := &cobra.Command{
		Use: "remove COMMITTEE USERNAME", Short: "Remove a member", Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if err := cl.RemoveMember(c.Context(), a[0], a[1]); err != nil {
				return err
			}
			return e.out(map[string]any{"committee": a[0], "username": a[1], "removed": true}, func() {
				fmt.Fprintf(e.stdout, "Removed %s from %s\n", a[1], a[0])
			})
		}),
	}
	c.AddCommand(add, remove)
	return c
}

func projectCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "project", Short: "Create, list and show projects"}
	var committee, name string
	create := &cobra.Command{
		Use: "create KEY --committee C --name NAME", Short: "Create a project", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			p, err := cl.CreateProject(c.Context(), a[0], committee, name)
			if err != nil {
				return err
			}
			return e.out(p, func() {
				fmt.Fprintf(e.stdout, "Created project %s (%s) in committee %s\n", p.Key, p.Name, p.CommitteeKey)
			})
		}),
	}
	create.Flags().StringVar(&committee, "committee", "", "owning committee (required)")
	create.Flags().StringVar(&name, "name", "", "display name (required)")
	create.MarkFlagRequired("committee")
	create.MarkFlagRequired("name")
	var of string
	list := &cobra.Command{
		Use: "list [--committee C]", Short: "List projects", Args: args(cobra.NoArgs),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			ps, err := cl.ListProjects(c.Context(), of)
			if err != nil {
				return err
			}
			return e.out(ps, func() {
				if len(ps) == 0 {
					fmt.Fprintln(e.stdout, "No projects yet. Create one with `trel project create KEY --committee C --name NAME`.")
					return
				}
				var rows [][]string
				for _, p := range ps {
					rows = append(rows, []string{p.Key, p.CommitteeKey, p.Name})
				}
				e.table([]string{"KEY", "COMMITTEE", "NAME"}, rows)
			})
		}),
	}
	list.Flags().StringVar(&of, "committee", "", "only this committee's projects")
	show := &cobra.Command{
		Use: "show KEY", Short: "Show a project", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			p, err := cl.Project(c.Context(), a[0])
			if err != nil {
				return err
			}
			return e.out(p, func() {
				fmt.Fprintf(e.stdout, "Project %s: %s\nCommittee: %s\nCreated:   %s\n", p.Key, p.Name, p.CommitteeKey, when(p.CreatedAt))
			})
		}),
	}
	c.AddCommand(create, list, show)
	return c
}

func releaseCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "release", Short: "Start, list, show, publish, yank and archive releases; their mail and the project feed"}
	var embargoed bool
	start := &cobra.Command{
		Use: "start PROJECT VERSION [--embargoed]", Short: "Start a draft release", Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			r, err := cl.StartReleaseWith(c.Context(), a[0], a[1], core.StartReleaseOptions{Embargoed: embargoed})
			if err != nil {
				return err
			}
			return e.out(r, func() {
				fmt.Fprintf(e.stdout, "Started draft release %s %s. Add files with `trel upload %s %s FILE...`\n", r.ProjectKey, r.Version, r.ProjectKey, r.Version)
				if r.Embargoed {
					fmt.Fprintln(e.stdout, "It is embargoed: only the committee's participants see it, and its mail goes to the private list, until it is published.")
				}
			})
		}),
	}
	start.Flags().BoolVar(&embargoed, "embargoed", false, "a security release: visible to the committee's participants only, mail to the policy's private list, until published")
	list := &cobra.Command{
		Use: "list PROJECT", Short: "List a project's releases", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			rs, err := cl.ListReleases(c.Context(), a[0])
			if err != nil {
				return err
			}
			return e.out(rs, func() {
				if len(rs) == 0 {
					fmt.Fprintf(e.stdout, "No releases of %s that you can see. Start one with `trel release start %s VERSION`.\n", a[0], a[0])
					return
				}
				var rows [][]string
				for _, r := range rs {
					rows = append(rows, []string{r.Version, string(r.Phase), releaseState(r), strconv.Itoa(r.LatestRevision), r.CreatedBy, when(r.CreatedAt)})
				}
				e.table([]string{"VERSION", "PHASE", "STATE", "REVISION", "STARTED BY", "STARTED"}, rows)
			})
		}),
	}
	show := &cobra.Command{
		Use: "show PROJECT VERSION", Short: "Show a release: its phase, release managers and, once under vote, its signed files", Args: args(cobra.ExactArgs(2)),
		Example: "  trel release show tomcat-server 11.0.0\n  trel release show tomcat-server 11.0.0 --json",
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			r, err := cl.Release(c.Context(), a[0], a[1])
			if err != nil {
				return err
			}
			// The managers are the committee's to see; the summary exists
			// once the vote started.
			rms, rmErr := cl.ReleaseManagers(c.Context(), a[0], a[1])
			var sum *core.ReleaseSummary
			if r.Phase != domain.PhaseDraft {
				if sum, err = cl.Summary(c.Context(), a[0], a[1]); err != nil {
					return err
				}
			}
			// --json keeps printing the release alone (scripts rely on its
			// shape); `release manager list` and the summary API give the rest.
			return e.out(r, func() {
				fmt.Fprintf(e.stdout, "Release:   %s %s\nCommittee: %s\nPhase:     %s\nRevision:  %d\nStarted:   %s by %s\n",
					r.ProjectKey, r.Version, r.CommitteeKey, r.Phase, r.LatestRevision, when(r.CreatedAt), r.CreatedBy)
				printReleaseStatus(e, r)
				if rmErr == nil {
					fmt.Fprintf(e.stdout, "Managers:  %s\n", strings.Join(rms, ", "))
				}
				if sum != nil {
					printSummary(e, sum)
				}
			})
		}),
	}
	c.AddCommand(start, list, show, publishCmd(e), managerCmd(e), abandonCmd(e))
	c.AddCommand(afterlifeCmds(e)...)
	return c
}

func tokenCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "Create, list and revoke your API tokens"}
	var label, expires string
	create := &cobra.Command{
		Use: "create [--label L] [--expires 90d]", Short: "Create a token; prints it once", Args: args(cobra.NoArgs),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			t, err := cl.CreateToken(c.Context(), label, expires)
			if err != nil {
				return err
			}
			return e.out(t, func() { fmt.Fprintln(e.stdout, t.Secret) })
		}),
	}
	create.Flags().StringVar(&label, "label", "cli", "label to recognise the token by")
	create.Flags().StringVar(&expires, "expires", "90d", "lifetime, e.g. 90d or 12h (at most 366d)")
	list := &cobra.Command{
		Use: "list", Short: "List your tokens (never their secrets)", Args: args(cobra.NoArgs),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			ts, err := cl.ListTokens(c.Context())
			if err != nil {
				return err
			}
			return e.out(ts, func() { e.tokenTable(ts) })
		}),
	}
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke one of your tokens at once", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			id, err := strconv.ParseInt(a[0], 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("token id %q is not a number: see `trel token list`", a[0])}
			}
			if err := cl.RevokeToken(c.Context(), id); err != nil {
				return err
			}
			return e.out(map[string]any{"id": id, "revoked": true}, func() { fmt.Fprintf(e.stdout, "Revoked token %d\n", id) })
		}),
	}
	c.AddCommand(create, list, revoke)
	return c
}

func (e *env) tokenTable(ts []domain.Token) {
	var rows [][]string
	for _, t := range ts {
		state := "active"
		if t.RevokedAt != nil {
			state = "revoked"
		} else if t.ExpiresAt != nil && !t.Active(timeNow()) {
			state = "expired"
		}
		rows = append(rows, []string{strconv.FormatInt(t.ID, 10), t.Label, t.Prefix + "…", state, when(t.CreatedAt), whenPtr(t.ExpiresAt), whenPtr(t.LastUsedAt)})
	}
	e.table([]string{"ID", "LABEL", "PREFIX", "STATE", "CREATED", "EXPIRES", "LAST USED"}, rows)
}

// printSummary prints the signed files of a candidate or published release.
func printSummary(e *env, s *core.ReleaseSummary) {
	if s.LogIndex != nil {
		fmt.Fprintf(e.stdout, "Published: %s by %s; manifest in the public log at index %d\n", whenPtr(s.PublishedAt), s.PublishedBy, *s.LogIndex)
	}
	for _, f := range s.Files {
		if !f.Artifact {
			continue
		}
		fmt.Fprintf(e.stdout, "\n%s (%s)\n  sha512 %s\n", f.Path, domain.HumanSize(f.Size), f.SHA512)
		if len(f.Signers) == 0 {
			fmt.Fprintln(e.stdout, "  no signature that counts")
		}
		for _, sg := range f.Signers {
			held := ""
			if sg.Held {
				held = ", held by trel"
			}
			if sg.Kind == "openpgp" {
				fmt.Fprintf(e.stdout, "  OpenPGP %s by %s, key %s%s\n", sg.File, orNone(sg.Owner, "an automation key"), sg.Fingerprint, held)
			} else {
				fmt.Fprintf(e.stdout, "  Sigstore %s: %s (%s)%s\n", sg.File, orNone(sg.Identity, sg.KeyName), sg.Issuer, held)
			}
		}
	}
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}
