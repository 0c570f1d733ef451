package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"trel/client"
	"trel/internal/core"
	"trel/internal/domain"
)

// mailFlags are the `trel policy set` flags of the mail group.
type mailFlags struct {
	voteTo, announceTo, privateTo, cc []string
	vote, result, announce            string
	archivePrevious                   string
}

func (m *mailFlags) register(f *pflag.FlagSet) {
	f.StringSliceVar(&m.voteTo, "vote-to", nil, "lists that get [VOTE], ballots and [RESULT], e.g. dev@example.org (comma-separated; replaces the list)")
	f.StringSliceVar(&m.announceTo, "announce-to", nil, "lists that get [ANNOUNCE] after publication")
	f.StringSliceVar(&m.privateTo, "private-to", nil, "the committee's private list: every mail of an embargoed release before publication")
	f.StringSliceVar(&m.cc, "cc", nil, "copied on [VOTE], ballots, [RESULT] and [ANNOUNCE] (not on embargoed releases)")
	f.StringVar(&m.vote, "vote-template", "", "file with the [VOTE] template (plain text with {placeholders}; \"\" for trel's default)")
	f.StringVar(&m.result, "result-template", "", "file with the [RESULT] template")
	f.StringVar(&m.announce, "announce-template", "", "file with the [ANNOUNCE] template")
	f.StringVar(&m.archivePrevious, "archive-previous", "", "when a release is published, archive the older ones of its line: minor (same X.Y), major (same X) or never")
}

// apply copies the given flags into p and reports whether any was given.
func (m *mailFlags) apply(f *pflag.FlagSet, p *domain.Policy) (bool, error) {
	changed := false
	var err error
	set := func(name string, fn func()) {
		if f.Changed(name) {
			fn()
			changed = true
		}
	}
	mp := &p.Mail
	set("vote-to", func() { mp.VoteTo = m.voteTo })
	set("announce-to", func() { mp.AnnounceTo = m.announceTo })
	set("private-to", func() { mp.PrivateTo = m.privateTo })
	set("cc", func() { mp.Cc = m.cc })
	template := func(file string, to *string) {
		if file == "" {
			*to = ""
			return
		}
		b, rerr := os.ReadFile(file)
		if rerr != nil {
			err = rerr
			return
		}
		*to = string(b)
	}
	set("vote-template", func() { template(m.vote, &mp.VoteTemplate) })
	set("result-template", func() { template(m.result, &mp.ResultTemplate) })
	set("announce-template", func() { template(m.announce, &mp.AnnounceTemplate) })
	set("archive-previous", func() {
		p.ArchivePrevious = m.archivePrevious
		if p.ArchivePrevious == "never" {
			p.ArchivePrevious = domain.ArchiveNever
		}
	})
	return changed, err
}

// printMailPolicy adds the mail group to `trel policy show`.
func printMailPolicy(e *env, p *domain.Policy) {
	list := func(l []string) string {
		if len(l) == 0 {
			return "none"
		}
		return strings.Join(l, ", ")
	}
	fmt.Fprintf(e.stdout, "  mail: vote to %s; announce to %s; private list %s; cc %s\n", list(p.Mail.VoteTo), list(p.Mail.AnnounceTo), list(p.Mail.PrivateTo), list(p.Mail.Cc))
	for name, t := range map[string]string{"vote": p.Mail.VoteTemplate, "result": p.Mail.ResultTemplate, "announce": p.Mail.AnnounceTemplate} {
		if t != "" {
			fmt.Fprintf(e.stdout, "  %s template: the project's own (%d bytes)\n", name, len(t))
		}
	}
	archive := map[string]string{"": "never", domain.ArchiveMinor: "older releases of the same X.Y", domain.ArchiveMajor: "older releases of the same X"}[p.ArchivePrevious]
	fmt.Fprintf(e.stdout, "  archive at publication: %s\n", archive)
}

// releaseState is the state column of `trel release list`.
func releaseState(r domain.Release) string {
	var s []string
	if r.Embargoed {
		s = append(s, "embargoed")
	}
	if r.YankedAt != nil {
		s = append(s, "yanked")
	}
	if r.ArchivedAt != nil {
		s = append(s, "archived")
	}
	return strings.Join(s, ",")
}

// printReleaseStatus adds the release's state to `trel release show`.
func printReleaseStatus(e *env, r *domain.Release) {
	if r.Embargoed {
		fmt.Fprintln(e.stdout, "Embargoed: visible to the committee's participants only until published")
	}
	if r.PublishedAt != nil {
		fmt.Fprintf(e.stdout, "Published: %s\nFiles:     %s\n", when(*r.PublishedAt), r.FilesPath())
	}
	if r.YankedAt != nil {
		fmt.Fprintf(e.stdout, "YANKED:    %s by %s: %s\n", when(*r.YankedAt), r.YankedBy, domain.SafeText(r.YankReason))
	}
	if r.ArchivedAt != nil {
		fmt.Fprintf(e.stdout, "Archived:  %s by %s\n", when(*r.ArchivedAt), r.ArchivedBy)
	}
}

// afterlifeCmds are `trel release yank|unyank|archive|feed|mail`.
func afterlifeCmds(e *env) []*cobra.Command {
	var reason string
	yank := &cobra.Command{
		Use:   "yank PROJECT VERSION --reason TEXT",
		Short: "Mark a published release yanked (release managers): still downloadable, marked with the reason everywhere",
		Args:  args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			r, err := cl.Yank(c.Context(), a[0], a[1], reason)
			if err != nil {
				return err
			}
			return e.out(r, func() {
				fmt.Fprintf(e.stdout, "%s %s is yanked: %s\nIts files stay at %s; `trel release unyank %s %s` lifts the yank.\n", a[0], a[1], domain.SafeText(r.YankReason), r.FilesPath(), a[0], a[1])
			})
		}),
	}
	yank.Flags().StringVar(&reason, "reason", "", "why, in one line (required): downloaders read it")
	yank.MarkFlagRequired("reason")
	show := func(verb string, do func(*client.Client, *cobra.Command, []string) (*domain.Release, error)) func(*cobra.Command, *client.Client, []string) error {
		return func(c *cobra.Command, cl *client.Client, a []string) error {
			r, err := do(cl, c, a)
			if err != nil {
				return err
			}
			return e.out(r, func() { fmt.Fprintf(e.stdout, "%s %s is %s; its files are at %s\n", a[0], a[1], verb, r.FilesPath()) })
		}
	}
	unyank := &cobra.Command{
		Use: "unyank PROJECT VERSION", Short: "Lift a release's yank (release managers)", Args: args(cobra.ExactArgs(2)),
		RunE: run(show("no longer yanked", func(cl *client.Client, c *cobra.Command, a []string) (*domain.Release, error) {
			return cl.Unyank(c.Context(), a[0], a[1])
		})),
	}
	archive := &cobra.Command{
		Use:   "archive PROJECT VERSION",
		Short: "Move a published release's files from /downloads/ to /archive/ (release managers); its page and manifest stay",
		Args:  args(cobra.ExactArgs(2)),
		RunE: run(show("archived", func(cl *client.Client, c *cobra.Command, a []string) (*domain.Release, error) {
			return cl.Archive(c.Context(), a[0], a[1])
		})),
	}
	feed := &cobra.Command{
		Use: "feed PROJECT", Short: "The project's published releases with their state (released, yanked, archived)", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			f, err := cl.Feed(c.Context(), a[0])
			if err != nil {
				return err
			}
			return e.out(f, func() {
				var rows [][]string
				for _, r := range f.Releases {
					pub := ""
					if r.PublishedAt != nil {
						pub = when(*r.PublishedAt)
					}
					rows = append(rows, []string{r.Version, r.State, pub, r.FilesURL, domain.SafeText(r.YankReason)})
				}
				if len(rows) == 0 {
					fmt.Fprintf(e.stdout, "%s has no published release yet.\n", a[0])
					return
				}
				e.table([]string{"VERSION", "STATE", "PUBLISHED", "FILES", "YANKED BECAUSE"}, rows)
			})
		}),
	}
	var preview string
	mailLog := &cobra.Command{
		Use:   "mail PROJECT VERSION [--preview vote|result|announce]",
		Short: "The release's mail with Message-IDs and delivery state, or a preview (committee participants)",
		Args:  args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if preview != "" {
				return printPreview(e, cl, c, a[0], a[1], preview)
			}
			ds, err := cl.ReleaseMail(c.Context(), a[0], a[1])
			if err != nil {
				return err
			}
			return e.out(ds, func() {
				if len(ds) == 0 {
					fmt.Fprintln(e.stdout, "No mail was sent about this release.")
					return
				}
				var rows [][]string
				for _, d := range ds {
					state := d.State
					if d.Refused != "" {
						state += " (refused: " + d.Refused + ")"
					}
					if d.State == domain.DeliveryFailed || d.State == domain.DeliveryPending && d.LastError != "" {
						state += ": " + d.LastError
					}
					rows = append(rows, []string{d.Topic, d.MessageID, strings.Join(d.Recipients, ", "), strconv.Itoa(d.Attempts), state})
				}
				e.table([]string{"MAIL", "MESSAGE-ID", "TO", "ATTEMPTS", "STATE"}, rows)
			})
		}),
	}
	mailLog.Flags().StringVar(&preview, "preview", "", "show the vote, result or announce mail as it would be sent now")
	return []*cobra.Command{yank, unyank, archive, feed, mailLog}
}

// printPreview prints a mail preview (`trel vote start --preview`).
func printPreview(e *env, cl *client.Client, c *cobra.Command, project, version, topic string) error {
	p, err := cl.PreviewMail(c.Context(), project, version, topic)
	if err != nil {
		return err
	}
	return e.out(p, func() {
		if p.Problem != "" {
			fmt.Fprintf(e.stdout, "Not sent: %s\n\n", p.Problem)
		}
		fmt.Fprintf(e.stdout, "From: %s\nTo: %s\n", p.From, strings.Join(p.To, ", "))
		if len(p.Cc) > 0 {
			fmt.Fprintf(e.stdout, "Cc: %s\n", strings.Join(p.Cc, ", "))
		}
		fmt.Fprintf(e.stdout, "Subject: %s\n\n%s", p.Subject, p.Body)
	})
}

// webhookCmd is `trel webhook add|list|remove|deliveries`.
func webhookCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "webhook", Short: "A project's webhooks: signed JSON events for CI and mirrors (committee members)"}
	var secretFile string
	var events []string
	add := &cobra.Command{
		Use:   "add PROJECT URL [--secret-file FILE] [--event E]...",
		Short: "Add a webhook; trel makes a secret unless --secret-file gives one, and prints it once",
		Long: `Add a webhook: trel POSTs a JSON body for each event (` + strings.Join(domain.WebhookEvents, ", ") + `)
with the headers X-Trel-Event, X-Trel-Delivery and X-Trel-Signature-256: sha256=HEX,
the HMAC-SHA256 of the body under the secret. Failed calls (network, 408, 429, 5xx)
are retried with a growing delay. The server calls public addresses only unless its
operator started it with --webhook-allow-private.`,
		Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			req := core.NewWebhook{URL: a[1], Events: events}
			if secretFile != "" {
				b, err := os.ReadFile(secretFile)
				if err != nil {
					return err
				}
				req.Secret = strings.TrimSpace(string(b))
			}
			w, err := cl.AddWebhook(c.Context(), a[0], req)
			if err != nil {
				return err
			}
			return e.out(w, func() {
				fmt.Fprintf(e.stdout, "Webhook %d calls %s.\n", w.Webhook.ID, w.Webhook.URL)
				if secretFile == "" {
					fmt.Fprintf(e.stdout, "Its secret (shown once; verify X-Trel-Signature-256 with it):\n%s\n", w.Secret)
				}
			})
		}),
	}
	add.Flags().StringVar(&secretFile, "secret-file", "", "file holding the secret the receiver verifies (16 to 256 characters)")
	add.Flags().StringSliceVar(&events, "event", nil, "events to send (repeatable; default every event)")
	list := &cobra.Command{
		Use: "list PROJECT", Short: "List a project's webhooks", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			ws, err := cl.Webhooks(c.Context(), a[0])
			if err != nil {
				return err
			}
			return e.out(ws, func() {
				var rows [][]string
				for _, w := range ws {
					ev := "all"
					if len(w.Events) > 0 {
						ev = strings.Join(w.Events, ",")
					}
					rows = append(rows, []string{strconv.FormatInt(w.ID, 10), w.URL, ev, w.CreatedBy, when(w.CreatedAt)})
				}
				e.table([]string{"ID", "URL", "EVENTS", "BY", "CREATED"}, rows)
			})
		}),
	}
	remove := &cobra.Command{
		Use: "remove PROJECT ID", Short: "Remove a webhook (its delivery log stays)", Args: args(cobra.ExactArgs(2)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			id, err := strconv.ParseInt(a[1], 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("%q is not a webhook id (see `trel webhook list %s`)", a[1], a[0])}
			}
			if err := cl.RemoveWebhook(c.Context(), a[0], id); err != nil {
				return err
			}
			return e.out(map[string]int64{"removed": id}, func() { fmt.Fprintf(e.stdout, "Webhook %d removed.\n", id) })
		}),
	}
	deliveries := &cobra.Command{
		Use: "deliveries PROJECT", Short: "The delivery log of a project's webhooks, newest first", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			ds, err := cl.WebhookDeliveries(c.Context(), a[0])
			if err != nil {
				return err
			}
			return e.out(ds, func() {
				var rows [][]string
				for _, d := range ds {
					code := ""
					if d.StatusCode != 0 {
						code = strconv.Itoa(d.StatusCode)
					}
					rows = append(rows, []string{strconv.FormatInt(d.ID, 10), d.Topic, d.ReleaseName, d.State, strconv.Itoa(d.Attempts), code, d.LastError})
				}
				e.table([]string{"ID", "EVENT", "RELEASE", "STATE", "ATTEMPTS", "STATUS", "LAST ERROR"}, rows)
			})
		}),
	}
	c.AddCommand(add, list, remove, deliveries)
	return c
}
