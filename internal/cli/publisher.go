package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"trel/client"
	"trel/internal/api"
	"trel/internal/domain"
	"trel/internal/idtoken"
)

// Trusted publishing: `trel issuer`, `trel publisher` and
// `trel login --oidc`.

func issuerCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "issuer", Short: "OIDC issuers whose CI ID tokens trel accepts for trusted publishing (administrators)"}
	var kind, web string
	add := &cobra.Command{
		Use:   "add URL --kind github|gitlab [--web-url URL]",
		Short: "Accept the ID tokens of another issuer (a foundation's Forgejo, GitLab, Jenkins, Buildkite...)",
		Long: `Accept the ID tokens of an OIDC issuer for trusted publishing. URL is exactly the
iss of its tokens; trel fetches its discovery document and keys over https (plain http
only on a loopback address). --kind says which claim set it issues: github (GitHub
Actions, Forgejo Actions, GitHub Enterprise) or gitlab. --web-url is where its
repositories are shown (default https://github.com for github, the issuer for gitlab):
run URLs and Sigstore identities are built from it.`,
		Example: "  trel issuer add https://gitlab.example.org --kind gitlab",
		Args:    args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			is, err := cl.AddOIDCIssuer(c.Context(), domain.OIDCIssuer{URL: a[0], Kind: kind, WebURL: web})
			if err != nil {
				return err
			}
			return e.out(is, func() {
				fmt.Fprintf(e.stdout, "trel now accepts ID tokens of %s (%s claims, repositories at %s).\n", is.URL, is.Kind, is.WebURL)
			})
		}),
	}
	add.Flags().StringVar(&kind, "kind", "", "the claim set: github or gitlab (required)")
	add.Flags().StringVar(&web, "web-url", "", "where the issuer's repositories are shown")
	add.MarkFlagRequired("kind")
	list := &cobra.Command{
		Use: "list", Short: "The issuers trel accepts", Args: args(cobra.NoArgs),
		RunE: run(func(c *cobra.Command, cl *client.Client, _ []string) error {
			is, err := cl.OIDCIssuers(c.Context())
			if err != nil {
				return err
			}
			return e.out(is, func() {
				var rows [][]string
				for _, i := range is {
					added := "built-in"
					if !i.AddedAt.IsZero() {
						added = i.AddedBy + " " + when(i.AddedAt)
					}
					rows = append(rows, []string{i.URL, i.Kind, i.WebURL, added})
				}
				e.table([]string{"ISSUER", "KIND", "REPOSITORIES AT", "ADDED"}, rows)
			})
		}),
	}
	remove := &cobra.Command{
		Use: "remove URL", Short: "Stop accepting an issuer's tokens (credentials of its runs stop working at once)", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if err := cl.RemoveOIDCIssuer(c.Context(), a[0]); err != nil {
				return err
			}
			return e.out(map[string]any{"removed": a[0]}, func() { fmt.Fprintf(e.stdout, "trel no longer accepts ID tokens of %s.\n", a[0]) })
		}),
	}
	c.AddCommand(add, list, remove)
	return c
}

// issuerShorthands let `--issuer github` name GitHub Actions' issuer.
var issuerShorthands = map[string]string{"github": domain.GitHubActionsIssuer, "gitlab": domain.GitLabIssuer}

func publisherCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "publisher", Short: "CI workflows trusted to act for a project (trusted publishing; committee members)"}
	var req api.PublisherRequest
	var actions string
	add := &cobra.Command{
		Use:   "add PROJECT --issuer URL --repository OWNER/NAME --workflow PATH [--ref GLOB] [--environment NAME] --actions compose,vote-start,publish",
		Short: "Trust a CI workflow: its runs exchange their ID token for a 15-minute credential of this project",
		Long: `Trust a CI workflow to act for the project, without any long-lived secret in the CI:
a run of the workflow exchanges its OIDC ID token (` + "`trel login --oidc`" + `) for a credential of
at most 15 minutes allowed only the actions given:

  compose      start a release, upload files (and signatures made in the CI)
  vote-start   start the vote
  publish      resolve a vote that passes, and publish

--issuer is the issuer URL (or github / gitlab for GitHub Actions and GitLab.com),
--repository OWNER/NAME (GitLab: the project path), --workflow the workflow file
(.github/workflows/release.yml; GitLab: the CI configuration path, .gitlab-ci.yml).
--ref (a glob on the full ref, e.g. 'refs/tags/v*') requires a protected ref: runs of
pull-request events, which forks can trigger, are refused. --environment requires the
job's deployment environment. Keyless Sigstore bundles the workflow makes count as
trusted signatures of the project (with compose). Each change is a new, audited
policy version.`,
		Example: `  trel publisher add widget --issuer github --repository apache/widget \
      --workflow .github/workflows/release.yml --ref 'refs/tags/v*' --environment release \
      --actions compose,vote-start,publish`,
		Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if is, ok := issuerShorthands[req.Issuer]; ok {
				req.Issuer = is
			}
			acts, err := domain.ParseActions(actions)
			if err != nil {
				return usageError{err}
			}
			req.Actions = acts
			p, err := cl.AddPublisher(c.Context(), a[0], req)
			if err != nil {
				return err
			}
			return e.out(p, func() {
				fmt.Fprintf(e.stdout, "Publisher %d of %s: %s.\nIts runs sign in with `trel login --oidc --server URL`; what they do is recorded as %s.\n", p.ID, a[0], p, p.Account)
			})
		}),
	}
	f := add.Flags()
	f.StringVar(&req.Issuer, "issuer", "", "OIDC issuer URL, or github / gitlab (required)")
	f.StringVar(&req.Repository, "repository", "", "OWNER/NAME, or the GitLab project path (required)")
	f.StringVar(&req.Workflow, "workflow", "", "workflow file, e.g. .github/workflows/release.yml or .gitlab-ci.yml (required)")
	f.StringVar(&req.Ref, "ref", "", "glob the full ref must match, e.g. 'refs/tags/v*' (refuses pull-request events)")
	f.StringVar(&req.Environment, "environment", "", "deployment environment the job must run in")
	f.StringVar(&actions, "actions", "", "compose, vote-start, publish (comma-separated; required)")
	for _, name := range []string{"issuer", "repository", "workflow", "actions"} {
		add.MarkFlagRequired(name)
	}
	list := &cobra.Command{
		Use: "list PROJECT", Short: "A project's trusted publishers", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			ps, err := cl.Publishers(c.Context(), a[0])
			if err != nil {
				return err
			}
			return e.out(nonNilList(ps), func() {
				if len(ps) == 0 {
					fmt.Fprintf(e.stdout, "Project %s trusts no CI workflow yet: add one with `trel publisher add %s ...`.\n", a[0], a[0])
					return
				}
				var rows [][]string
				for _, p := range ps {
					rows = append(rows, []string{strconv.FormatInt(p.ID, 10), p.Issuer, p.Repository, p.Workflow, orAny(p.Ref), orAny(p.Environment), strings.Join(p.Actions, ",")})
				}
				e.table([]string{"ID", "ISSUER", "REPOSITORY", "WORKFLOW", "REF", "ENVIRONMENT", "ACTIONS"}, rows)
			})
		}),
	}
	remove := &cobra.Command{
		Use: "remove PROJECT ID", Short: "Stop trusting a publisher; credentials of its runs stop working at once", Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			id, err := strconv.ParseInt(a[1], 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("ID must be a number (see `trel publisher list %s`)", a[0])}
			}
			if err := cl.RemovePublisher(c.Context(), a[0], id); err != nil {
				return err
			}
			return e.out(map[string]any{"removed": id}, func() { fmt.Fprintf(e.stdout, "Project %s no longer trusts publisher %d.\n", a[0], id) })
		}),
	}
	c.AddCommand(add, list, remove)
	return c
}

func orAny(s string) string {
	if s == "" {
		return "any"
	}
	return s
}

func nonNilList[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// oidcLogin is `trel login --oidc`: ask the server which audience it
// expects, get the CI job's ID token for it, exchange it, and save the
// credential so that the following commands use it.
type oidcLogin struct {
	tokenEnv, project string
}

func (o oidcLogin) run(c *cobra.Command, e *env, server string) error {
	anon := client.New(server, "")
	aud, err := anon.Audience(c.Context())
	if err != nil {
		return fmt.Errorf("asking %s which audience it expects: %w", server, err)
	}
	tok, err := idtoken.CI(c.Context(), idtoken.Options{Audience: aud.Audience, TokenEnv: o.tokenEnv})
	if err != nil {
		return err
	}
	ex, err := anon.Exchange(c.Context(), tok, o.project)
	if err != nil {
		var ce *client.Error
		if errors.As(err, &ce) {
			return fmt.Errorf("%s refused the ID token: %s", server, idtoken.Redact(ce.Message, tok))
		}
		return fmt.Errorf("%s", idtoken.Redact(err.Error(), tok))
	}
	p, err := saveConfig(config{Server: server, Token: ex.Token})
	if err != nil {
		return err
	}
	shown := *ex
	shown.Token = ""
	return e.out(shown, func() {
		fmt.Fprintf(e.stdout, "Signed in to %s as trusted publisher %d of %s, allowed %s until %s (%s).\nRun: %s\nConfiguration saved in %s\n",
			server, ex.Publisher, ex.Project, strings.Join(ex.Actions, ", "), ex.ExpiresAt.Local().Format(time.TimeOnly),
			time.Until(ex.ExpiresAt).Round(time.Minute), ex.Run, p)
	})
}

// printWorkflows names the CI runs that made revisions.
func printWorkflows(e *env, rs []domain.Revision) {
	for _, r := range rs {
		if r.Workflow != nil {
			fmt.Fprintf(e.stdout, "revision %d was made by CI: %s\n", r.Number, r.Workflow)
		}
	}
}
