package cli

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"trel/client"
	"trel/internal/domain"
)

func sigstoreIdentityCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "identity", Short: "Sigstore identities a project trusts, and your personal identity"}
	var id domain.SigstoreIdentity
	var personal bool
	var email string
	add := &cobra.Command{
		Use:   "add PROJECT --issuer URL (--subject S | --subject-regexp RE) [constraints] | add --personal --issuer URL",
		Short: "Trust a signer for a project's Sigstore bundles",
		Long: `Trust a signer for a project's Sigstore bundles (committee members).

A person:   trel sigstore identity add PROJECT --issuer https://github.com/login/oauth --subject rm@example.org
A workflow: trel sigstore identity add PROJECT --issuer https://token.actions.githubusercontent.com \
              --subject-regexp 'https://github.com/org/repo/\.github/workflows/release\.yml@refs/tags/.*' \
              --source-repository https://github.com/org/repo --ref-regexp 'refs/tags/.*'
Yourself:   trel sigstore identity add --personal --issuer https://github.com/login/oauth
            (subject = your account's e-mail; counts as signed by you where you are a participant)

--subject-regexp is anchored by trel: it must match the whole subject.`,
		Args: args(cobra.RangeArgs(0, 1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if personal {
				if len(a) != 0 {
					return usageError{errors.New("--personal takes no PROJECT")}
				}
				out, err := cl.AddPersonalIdentity(c.Context(), id.Issuer, email)
				if err != nil {
					return err
				}
				return e.out(out, func() {
					fmt.Fprintf(e.stdout, "Registered your personal identity %s (issuer %s), id %d\n", out.Subject, out.Issuer, out.ID)
				})
			}
			if len(a) != 1 {
				return usageError{errors.New("name the PROJECT, or pass --personal")}
			}
			out, err := cl.AddSigstoreIdentity(c.Context(), a[0], id)
			if err != nil {
				return err
			}
			return e.out(out, func() {
				fmt.Fprintf(e.stdout, "Project %s now trusts identity %d (issuer %s)\n", a[0], out.ID, out.Issuer)
			})
		}),
	}
	f := add.Flags()
	f.BoolVar(&personal, "personal", false, "register your own identity instead of a project's")
	f.StringVar(&email, "email", "", "with --personal: your account's address (the default)")
	f.StringVar(&id.Issuer, "issuer", "", "OIDC issuer, matched exactly (required)")
	f.StringVar(&id.Subject, "subject", "", "certificate subject (e-mail or URI), matched exactly")
	f.StringVar(&id.SubjectRegexp, "subject-regexp", "", "regular expression for the subject (anchored)")
	f.StringVar(&id.SourceRepository, "source-repository", "", "CI: repository that ran the build, e.g. https://github.com/org/repo")
	f.StringVar(&id.Ref, "ref", "", "CI: exact source ref, e.g. refs/tags/v1.0")
	f.StringVar(&id.RefRegexp, "ref-regexp", "", "CI: anchored ref pattern, e.g. refs/tags/.* for tags only")
	f.StringVar(&id.Workflow, "workflow", "", "CI: workflow path, e.g. .github/workflows/release.yml")
	f.StringVar(&id.RunnerEnvironment, "runner-environment", "", "CI: e.g. github-hosted")
	f.StringVar(&id.ReusableWorkflowRepository, "reusable-workflow-repository", "", "CI: repository holding a trusted reusable workflow")
	add.MarkFlagRequired("issuer")

	list := &cobra.Command{
		Use: "list PROJECT | list --personal", Short: "List trusted identities", Args: args(cobra.RangeArgs(0, 1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			project := ""
			if len(a) == 1 {
				project = a[0]
			} else if !personal {
				return usageError{errors.New("name the PROJECT, or pass --personal")}
			}
			ids, err := cl.SigstoreIdentities(c.Context(), project)
			if err != nil {
				return err
			}
			return e.out(ids, func() {
				if len(ids) == 0 {
					fmt.Fprintln(e.stdout, "No identities. Add one with `trel sigstore identity add`.")
					return
				}
				var rows [][]string
				for _, i := range ids {
					subject := i.Subject
					if subject == "" {
						subject = "~ " + i.SubjectRegexp
					}
					extra := ""
					if i.SourceRepository != "" {
						extra += " repo=" + i.SourceRepository
					}
					if i.Ref != "" || i.RefRegexp != "" {
						extra += " ref=" + i.Ref + i.RefRegexp
					}
					if i.Workflow != "" {
						extra += " workflow=" + i.Workflow
					}
					if i.Problem != "" {
						extra += " REFUSED: " + i.Problem
					}
					rows = append(rows, []string{strconv.FormatInt(i.ID, 10), i.Issuer, subject, extra})
				}
				e.table([]string{"ID", "ISSUER", "SUBJECT", "CONSTRAINTS"}, rows)
			})
		}),
	}
	list.Flags().BoolVar(&personal, "personal", false, "list your personal identities")

	remove := &cobra.Command{
		Use: "remove PROJECT ID | remove --personal ID", Short: "Stop trusting an identity", Args: args(cobra.RangeArgs(1, 2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			project, idArg := "", a[len(a)-1]
			if len(a) == 2 {
				project = a[0]
			} else if !personal {
				return usageError{errors.New("name the PROJECT and ID, or pass --personal ID")}
			}
			n, err := strconv.ParseInt(idArg, 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("identity id %q is not a number: see `trel sigstore identity list`", idArg)}
			}
			if err := cl.RemoveSigstoreIdentity(c.Context(), project, n); err != nil {
				return err
			}
			return e.out(map[string]any{"id": n, "removed": true}, func() { fmt.Fprintf(e.stdout, "Removed identity %d\n", n) })
		}),
	}
	remove.Flags().BoolVar(&personal, "personal", false, "remove one of your personal identities")
	c.AddCommand(add, list, remove)
	return c
}

func sigstoreKeyCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "key", Short: "Public keys a project trusts for key-based Sigstore bundles"}
	var name string
	add := &cobra.Command{
		Use: "add PROJECT PEMFILE --name NAME", Short: "Register a PEM public key", Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			pem, err := readInput(e, a[1], 64<<10)
			if err != nil {
				return err
			}
			k, err := cl.AddSigstoreKey(c.Context(), a[0], name, pem)
			if err != nil {
				return err
			}
			return e.out(k, func() {
				fmt.Fprintf(e.stdout, "Registered key %q (%s) for %s, id %d\n", k.Name, k.Fingerprint, a[0], k.ID)
			})
		}),
	}
	add.Flags().StringVar(&name, "name", "", "label for the key (required)")
	add.MarkFlagRequired("name")
	list := &cobra.Command{
		Use: "list PROJECT", Short: "List registered keys", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			ks, err := cl.SigstoreKeys(c.Context(), a[0])
			if err != nil {
				return err
			}
			return e.out(ks, func() {
				var rows [][]string
				for _, k := range ks {
					rows = append(rows, []string{strconv.FormatInt(k.ID, 10), k.Name, k.Fingerprint, k.CreatedBy})
				}
				e.table([]string{"ID", "NAME", "FINGERPRINT", "ADDED BY"}, rows)
			})
		}),
	}
	remove := &cobra.Command{
		Use: "remove PROJECT ID", Short: "Unregister a key", Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			n, err := strconv.ParseInt(a[1], 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("key id %q is not a number", a[1])}
			}
			if err := cl.RemoveSigstoreKey(c.Context(), a[0], n); err != nil {
				return err
			}
			return e.out(map[string]any{"id": n, "removed": true}, func() { fmt.Fprintf(e.stdout, "Removed key %d\n", n) })
		}),
	}
	c.AddCommand(add, list, remove)
	return c
}
