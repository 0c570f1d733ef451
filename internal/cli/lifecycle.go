package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"trel/client"
	"trel/internal/api"
	"trel/internal/domain"
)

func policyCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "policy", Short: "A project's release policy: which signatures count, votes, checksums"}
	show := &cobra.Command{
		Use: "show PROJECT", Short: "Show the current policy", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			p, err := cl.Policy(c.Context(), a[0])
			if err != nil {
				return err
			}
			return e.out(p, func() { printPolicy(e, a[0], p) })
		}),
	}
	var (
		acceptOpenPGP, acceptSigstore, acceptServer bool
		require, signers                            string
		checksums, sources, binaries                []string
		minRSA, minHours, minPlus                   int
		ignore, unsigned                            []string
		clearIgnore, clearUnsigned                  bool
		arch                                        archiveFlags
		mailf                                       mailFlags
	)
	set := &cobra.Command{
		Use:   "set PROJECT --FIELD VALUE...",
		Short: "Change policy fields (committee members); every change is a new, audited version",
		Long: `Change policy fields; fields not given keep their values. Examples:

  trel policy set tomcat-server --min-vote-hours 0                 # a test project
  trel policy set tomcat-server --require openpgp --accept-sigstore=true
  trel policy set tomcat-server --signers release-managers
  trel policy set tomcat-server --ignore 'checker=paths,path=*.txt,reason=release notes are fine'
  trel policy set tomcat-server --unsigned 'RELEASE-NOTES*.txt=plain-text release notes'

Every file that is not a signature, checksum, Sigstore bundle or SBOM needs the
policy's signatures and checksums, whatever its suffix, unless an --unsigned
pattern names it (a pattern without '/' matches the file name in any directory).`,
		Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			p, err := cl.Policy(c.Context(), a[0])
			if err != nil {
				return err
			}
			f := c.Flags()
			changed := false
			apply := func(name string, fn func()) {
				if f.Changed(name) {
					fn()
					changed = true
				}
			}
			apply("accept-openpgp", func() { p.AcceptOpenPGP = acceptOpenPGP })
			apply("accept-sigstore", func() { p.AcceptSigstore = acceptSigstore })
			apply("accept-server-signed", func() { p.AcceptServerSigned = acceptServer })
			apply("require", func() { p.Require = require })
			apply("signers", func() { p.Signers = signers })
			apply("checksums", func() { p.ChecksumAlgorithms = checksums })
			apply("source-patterns", func() { p.SourcePatterns = sources })
			apply("binary-patterns", func() { p.BinaryPatterns = binaries })
			apply("min-rsa-bits", func() { p.MinRSABits = minRSA })
			apply("min-vote-hours", func() { p.MinVoteHours = minHours })
			apply("min-binding-votes", func() { p.MinBindingPlusOnes = minPlus })
			apply("clear-ignore", func() { p.Ignore = nil })
			apply("clear-unsigned", func() { p.Unsigned = nil })
			for _, spec := range unsigned {
				r, err := domain.ParseUnsignedRule(spec)
				if err != nil {
					return usageError{err}
				}
				p.Unsigned = append(p.Unsigned, r)
				changed = true
			}
			if ok, err := arch.apply(f, p); err != nil {
				return usageError{err}
			} else if ok {
				changed = true
			}
			if ok, err := mailf.apply(f, p); err != nil {
				return usageError{err}
			} else if ok {
				changed = true
			}
			for _, spec := range ignore {
				r, err := domain.ParseIgnoreRule(spec)
				if err != nil {
					return usageError{err}
				}
				p.Ignore = append(p.Ignore, r)
				changed = true
			}
			if !changed {
				return usageError{errors.New("no field given: see `trel policy set --help`")}
			}
			out, err := cl.SetPolicy(c.Context(), a[0], *p)
			if err != nil {
				return err
			}
			return e.out(out, func() {
				fmt.Fprintf(e.stdout, "Policy of %s is now version %d.\n", a[0], out.Version)
				printPolicy(e, a[0], out)
			})
		}),
	}
	f := set.Flags()
	f.BoolVar(&acceptOpenPGP, "accept-openpgp", true, "accept OpenPGP signatures from committee keys")
	f.BoolVar(&acceptSigstore, "accept-sigstore", true, "accept Sigstore bundles from the project's trusted identities")
	f.BoolVar(&acceptServer, "accept-server-signed", true, "accept signatures made by keys trel holds")
	f.StringVar(&require, "require", "", "per artifact: any | openpgp | sigstore | all")
	f.StringVar(&signers, "signers", "", "who may sign: participants | release-managers")
	f.StringSliceVar(&checksums, "checksums", nil, "required checksum algorithms, e.g. sha512 or sha512,sha256")
	f.StringSliceVar(&sources, "source-patterns", nil, "globs naming source artifacts")
	f.StringSliceVar(&binaries, "binary-patterns", nil, "globs naming binary artifacts")
	f.IntVar(&minRSA, "min-rsa-bits", 0, "minimum RSA key size for signatures")
	f.IntVar(&minHours, "min-vote-hours", 0, "minimum vote duration in hours")
	f.IntVar(&minPlus, "min-binding-votes", 0, "binding +1 votes needed (and more +1 than -1)")
	f.StringArrayVar(&ignore, "ignore", nil, "add an ignore rule: checker=C,path=GLOB,message=TEXT,reason=WHY (never hides blockers)")
	f.BoolVar(&clearIgnore, "clear-ignore", false, "remove all ignore rules")
	f.StringArrayVar(&unsigned, "unsigned", nil, "add files that may be published without signatures and checksums: GLOB=REASON")
	f.BoolVar(&clearUnsigned, "clear-unsigned", false, "remove all unsigned rules (every file then needs signatures)")
	arch.register(f)
	mailf.register(f)

	history := &cobra.Command{
		Use: "history PROJECT", Short: "Every version of the policy, newest first", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			ps, err := cl.PolicyHistory(c.Context(), a[0])
			if err != nil {
				return err
			}
			return e.out(ps, func() {
				if len(ps) == 0 {
					fmt.Fprintf(e.stdout, "%s uses the default policy; nobody changed it yet.\n", a[0])
				}
				for i := range ps {
					fmt.Fprintf(e.stdout, "version %d, by %s on %s\n", ps[i].Version, ps[i].UpdatedBy, when(ps[i].UpdatedAt))
				}
			})
		}),
	}
	c.AddCommand(show, set, history)
	return c
}

func printPolicy(e *env, project string, p *domain.Policy) {
	v := fmt.Sprintf("version %d", p.Version)
	if p.Version == 0 {
		v = "the default, never changed"
	}
	fmt.Fprintf(e.stdout, "Policy of %s (%s)\n", project, v)
	fmt.Fprintf(e.stdout, "  accepted signatures:  openpgp=%v sigstore=%v server-signed=%v\n", p.AcceptOpenPGP, p.AcceptSigstore, p.AcceptServerSigned)
	fmt.Fprintf(e.stdout, "  required per artifact: %s, checksums %s\n", p.Require, strings.Join(p.ChecksumAlgorithms, ","))
	fmt.Fprintf(e.stdout, "  who may sign:          %s (RSA keys of at least %d bits)\n", p.Signers, p.MinRSABits)
	fmt.Fprintf(e.stdout, "  vote:                  at least %d hours; at least %d binding +1 and more binding +1 than -1\n", p.MinVoteHours, p.MinBindingPlusOnes)
	fmt.Fprintf(e.stdout, "  sources: %s  binaries: %s\n", strings.Join(p.SourcePatterns, " "), strings.Join(p.BinaryPatterns, " "))
	for _, r := range p.Unsigned {
		fmt.Fprintf(e.stdout, "  unsigned: %s (%s)\n", domain.SafeText(r.Pattern), domain.SafeText(r.Reason))
	}
	a := p.Archive
	fmt.Fprintf(e.stdout, "  licence: %s; third-party licences allowed: %s\n", a.License, strings.Join(a.AllowedLicenses, ","))
	if a.SourceRepo != "" {
		fmt.Fprintf(e.stdout, "  source: %s tag %s (may differ: %s)\n", a.SourceRepo, a.SourceTag, strings.Join(a.SourceAllow, " "))
	}
	if len(a.HeaderIgnore) > 0 {
		fmt.Fprintf(e.stdout, "  no licence header needed: %s\n", strings.Join(a.HeaderIgnore, " "))
	}
	fmt.Fprintf(e.stdout, "  archive limits (0 = trel's): unpacked %d bytes, %d members, ratio %d\n", a.MaxUnpackedSize, a.MaxMembers, a.MaxRatio)
	printMailPolicy(e, p)
	for _, r := range p.Ignore {
		fmt.Fprintf(e.stdout, "  ignore: checker=%s path=%s message=%q (%s)\n", r.Checker, r.Path, r.Message, r.Reason)
	}
}

func voteCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "vote", Short: "Start, cast, tally and resolve the vote on a release candidate"}
	var plusOne, preview bool
	var startComment string
	start := &cobra.Command{
		Use: "start PROJECT VERSION [--plus-one [--comment TEXT]] [--preview]", Short: "Freeze the latest revision and open the vote (release managers)", Args: args(cobra.ExactArgs(2)),
		Example: `  trel vote start tomcat-server 11.0.0 --preview
  trel vote start tomcat-server 11.0.0
  trel vote start tomcat-server 11.0.0 --plus-one --comment "signatures and licences checked"`,
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if preview {
				return printPreview(e, cl, c, a[0], a[1], domain.MailVote)
			}
			v, err := cl.StartVoteWith(c.Context(), a[0], a[1], api.StartVoteRequest{PlusOne: plusOne, Comment: startComment})
			if err != nil {
				return err
			}
			return e.out(v, func() {
				fmt.Fprintf(e.stdout, "Vote %d on revision %d of %s %s is open; it may be resolved from %s.\n", v.Round, v.Revision, a[0], a[1], when(v.ClosesAt()))
				if plusOne {
					fmt.Fprintln(e.stdout, "Your +1 is recorded.")
				}
			})
		}),
	}
	start.Flags().BoolVar(&plusOne, "plus-one", false, "record your own +1 as the vote opens")
	start.Flags().StringVar(&startComment, "comment", "", "with --plus-one: what you checked")
	start.Flags().BoolVar(&preview, "preview", false, "show the [VOTE] mail as it would be sent, without starting the vote")
	var comment string
	cast := &cobra.Command{
		Use: "cast PROJECT VERSION +1|0|-1 [--comment TEXT]", Short: "Cast or change your vote", Args: args(cobra.ExactArgs(3)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			var value int
			switch a[2] {
			case "+1", "1":
				value = 1
			case "0", "+0", "-0":
				value = 0
			case negativeVote, "-1":
				value = -1
			default:
				return usageError{fmt.Errorf("a vote is +1, 0 or -1, not %q", a[2])}
			}
			t, err := cl.CastVote(c.Context(), a[0], a[1], value, comment)
			if err != nil {
				return err
			}
			return e.out(t, func() { printTally(e, t) })
		}),
	}
	cast.Flags().StringVar(&comment, "comment", "", "why")
	tally := &cobra.Command{
		Use: "tally PROJECT VERSION", Short: "Show the live tally", Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			t, err := cl.Tally(c.Context(), a[0], a[1])
			if err != nil {
				return err
			}
			return e.out(t, func() { printTally(e, t) })
		}),
	}
	var dryRun, yes bool
	resolve := &cobra.Command{
		Use:   "resolve PROJECT VERSION [--dry-run] [--yes]",
		Short: "Close the vote after its minimum duration (release managers)",
		Long: `Close the vote once its minimum duration is over: a passing vote moves the
release on to publication, a failing one returns it to draft, for good.

Resolving a vote that is not passing fails it: on a terminal trel asks first;
elsewhere it refuses unless --yes is given. --dry-run only says what resolving
now would do.`,
		Example: `  trel vote resolve tomcat-server 11.0.0 --dry-run
  trel vote resolve tomcat-server 11.0.0
  trel vote resolve tomcat-server 11.0.0 --yes   # also when the vote fails`,
		Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			cur, err := cl.Tally(c.Context(), a[0], a[1])
			if err != nil {
				return err
			}
			if dryRun {
				return e.out(map[string]any{"tally": cur, "would_pass": cur.Passing, "may_resolve": cur.MayClose}, func() {
					printTally(e, cur)
					switch {
					case cur.Round.ResolvedAt != nil:
						fmt.Fprintln(e.stdout, "Dry run: this vote is already resolved.")
					case !cur.MayClose:
						fmt.Fprintf(e.stdout, "Dry run: resolving is refused until %s.\n", when(cur.ClosesAt))
					case cur.Passing:
						fmt.Fprintf(e.stdout, "Dry run: resolving now passes the vote; then publish with `trel release publish %s %s`.\n", a[0], a[1])
					default:
						fmt.Fprintf(e.stdout, "Dry run: resolving now FAILS the vote (%s) and returns the release to draft.\n", cur.Missing)
					}
				})
			}
			if cur.Round.ResolvedAt == nil && cur.MayClose && !cur.Passing {
				if err := e.confirm(yes, fmt.Sprintf("The vote is not passing (%s): resolving now fails it and returns %s %s to draft. Fail the vote?", cur.Missing, a[0], a[1]),
					"fail the vote ("+cur.Missing+"), or wait for more votes; `--dry-run` shows the tally"); err != nil {
					return err
				}
			}
			t, err := cl.ResolveVote(c.Context(), a[0], a[1])
			if err != nil {
				return err
			}
			return e.out(t, func() {
				printTally(e, t)
				if t.Round.Passed != nil && *t.Round.Passed {
					fmt.Fprintf(e.stdout, "The vote passed. Publish with `trel release publish %s %s`.\n", a[0], a[1])
				} else {
					fmt.Fprintln(e.stdout, "The vote failed; the release is a draft again.")
				}
			})
		}),
	}
	resolve.Flags().BoolVar(&dryRun, "dry-run", false, "only say what resolving now would do")
	resolve.Flags().BoolVarP(&yes, "yes", "y", false, "resolve without asking, even when the vote fails")
	var reason string
	cancel := &cobra.Command{
		Use:   "cancel PROJECT VERSION --reason WHY",
		Short: "Cancel the vote, or withdraw a passed one: the release returns to draft (release managers)",
		Long: `Cancel the vote on a candidate, or withdraw a release whose vote passed but
that is not published: the release returns to draft, where its files can be
corrected (for example signatures by a revoked key replaced), and a new vote
started. The reason is kept in the audit log.`,
		Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if err := cl.CancelVote(c.Context(), a[0], a[1], reason); err != nil {
				return err
			}
			return e.out(map[string]any{"cancelled": true}, func() {
				fmt.Fprintf(e.stdout, "The vote on %s %s is cancelled; the release is a draft again.\n", a[0], a[1])
			})
		}),
	}
	cancel.Flags().StringVar(&reason, "reason", "", "why the vote is cancelled (required)")
	cancel.MarkFlagRequired("reason")
	c.AddCommand(start, cast, tally, resolve, cancel, voteHistoryCmd(e))
	return c
}

// printBallots prints one line per vote.
func printBallots(e *env, votes []domain.Vote) {
	for _, v := range votes {
		b := "non-binding"
		if v.Binding {
			b = "binding"
		}
		if v.Discounted != "" {
			b = "non-binding (" + v.Discounted + ")"
		}
		fmt.Fprintf(e.stdout, "  %+d %-12s %s %s\n", v.Value, v.User, b, v.Comment)
	}
}

func printTally(e *env, t *domain.Tally) {
	fmt.Fprintf(e.stdout, "Vote %d on revision %d: binding +1: %d, 0: %d, -1: %d; non-binding +1: %d, 0: %d, -1: %d\n",
		t.Round.Round, t.Round.Revision, t.BindingPlus, t.BindingZero, t.BindingMinus, t.NonBindingPlus, t.NonBindingZero, t.NonBindingMin)
	printBallots(e, t.Votes)
	fmt.Fprintf(e.stdout, "Counted under policy version %d: at least %d binding +1 (and more +1 than -1), open at least %d hours.\n",
		t.Round.PolicyVersion, t.Round.MinBindingPlusOnes, t.Round.MinHours)
	for _, rc := range t.RuleChanges {
		fmt.Fprintf(e.stdout, "Warning: %s.\n", rc)
	}
	state := "not passing yet: " + t.Missing
	if t.Passing {
		state = "passing"
	}
	closes := "may be resolved now"
	if !t.MayClose {
		closes = "may be resolved from " + when(t.ClosesAt)
	}
	fmt.Fprintf(e.stdout, "Currently %s; %s.\n", state, closes)
}

func publishCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use: "publish PROJECT VERSION", Short: "Publish a release whose vote passed (release managers)", Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			m, err := cl.Publish(c.Context(), a[0], a[1])
			if err != nil {
				return err
			}
			return e.out(m, func() {
				fmt.Fprintf(e.stdout, "Published %s %s (revision %d, %d files) to /downloads/%s/%s/%s/\n", m.Project, m.Version, m.Revision, len(m.Files), m.Committee, m.Project, m.Version)
			})
		}),
	}
}

func managerCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "manager", Short: "Release managers of a release (members or committers of its committee)"}
	c.AddCommand(&cobra.Command{
		Use: "add PROJECT VERSION USERNAME", Short: "Make a member or committer of the committee a release manager (committee members)", Args: args(cobra.ExactArgs(3)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if err := cl.AddReleaseManager(c.Context(), a[0], a[1], a[2]); err != nil {
				return err
			}
			return e.out(map[string]any{"release_manager": a[2]}, func() { fmt.Fprintf(e.stdout, "%s is now a release manager of %s %s\n", a[2], a[0], a[1]) })
		}),
	}, &cobra.Command{
		Use: "remove PROJECT VERSION USERNAME", Short: "End a user's release-manager role (committee members)", Args: args(cobra.ExactArgs(3)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if err := cl.RemoveReleaseManager(c.Context(), a[0], a[1], a[2]); err != nil {
				return err
			}
			return e.out(map[string]any{"removed": a[2]}, func() { fmt.Fprintf(e.stdout, "%s is no longer a release manager of %s %s\n", a[2], a[0], a[1]) })
		}),
	}, &cobra.Command{
		Use: "list PROJECT VERSION", Short: "List a release's managers", Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			rms, err := cl.ReleaseManagers(c.Context(), a[0], a[1])
			if err != nil {
				return err
			}
			return e.out(map[string]any{"managers": rms}, func() {
				for _, name := range rms {
					fmt.Fprintln(e.stdout, name)
				}
			})
		}),
	})
	return c
}

func ackCmd(e *env) *cobra.Command {
	var checker, path, comment string
	c := &cobra.Command{
		Use: "ack PROJECT VERSION --checker C --path P --comment WHY", Short: "Acknowledge a concern of the latest revision (release managers)", Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			ack, err := cl.Ack(c.Context(), a[0], a[1], checker, path, comment)
			if err != nil {
				return err
			}
			return e.out(ack, func() { fmt.Fprintf(e.stdout, "Acknowledged the %s concern on %s.\n", ack.Checker, ack.Path) })
		}),
	}
	c.Flags().StringVar(&checker, "checker", "", "checker that raised the concern (required)")
	c.Flags().StringVar(&path, "path", "", "path of the concern (required)")
	c.Flags().StringVar(&comment, "comment", "", "why it is acceptable (required)")
	c.MarkFlagRequired("checker")
	c.MarkFlagRequired("path")
	c.MarkFlagRequired("comment")
	return c
}
