package server

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"trel/internal/api"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/downloads"
	"trel/internal/mail"
	"trel/internal/webhook"
)

// NotifyConfig is what `trel serve` knows about mail and webhooks.
type NotifyConfig struct {
	// SMTP is smtp://[USER@]HOST:PORT or smtps://...; empty: mail is off.
	SMTP     string
	MailFrom string
	// SMTPPassword comes from TREL_SMTP_PASSWORD, never from a flag.
	SMTPPassword string
	// SMTPRootCAs, if set, verifies the relay's certificate (tests; the
	// system's roots otherwise).
	SMTPRootCAs *x509.CertPool
	// WebhookAllowPrivate lets webhooks reach loopback and private
	// addresses (an internal CI; the tests).
	WebhookAllowPrivate bool
	// RetryBase is the first retry's delay (default core.DefaultRetryBase);
	// Sweep how often the outbox is read without being woken (default 5 s).
	RetryBase time.Duration
	Sweep     time.Duration
}

// configureNotify connects mail and webhooks to the core.
func configureNotify(app *App, cfg NotifyConfig, log *slog.Logger) error {
	nc := core.NotifyConfig{PublicURL: app.publicURL(), Webhooks: webhook.New(cfg.WebhookAllowPrivate, 0),
		AllowPrivateWebhooks: cfg.WebhookAllowPrivate, RetryBase: cfg.RetryBase}
	switch {
	case cfg.SMTP == "" && cfg.MailFrom != "":
		return fmt.Errorf("--mail-from needs --smtp (or TREL_SMTP): where should mail go?")
	case cfg.SMTP != "":
		if cfg.MailFrom == "" {
			return fmt.Errorf("--smtp needs --mail-from (or TREL_MAIL_FROM), the sender address of trel's mail")
		}
		mc, err := mail.ParseURL(cfg.SMTP, cfg.MailFrom)
		if err != nil {
			return err
		}
		mc.Password = cfg.SMTPPassword
		if mc.Username != "" && mc.Password == "" {
			return fmt.Errorf("--smtp names user %q but TREL_SMTP_PASSWORD is empty", mc.Username)
		}
		mc.RootCAs = cfg.SMTPRootCAs
		sender := mail.NewSender(mc)
		sender.Hello = mail.HelloName(app.publicURL())
		nc.Mailer, nc.MailRelay = sender, mc.Describe()
		log.Info("mail is on", "relay", mc.Describe(), "from", mc.From, "authenticated", mc.Username != "")
	default:
		log.Info("mail is off: start with --smtp and --mail-from to send the vote, result and announcement mail")
	}
	if cfg.WebhookAllowPrivate {
		log.Warn("webhooks may call loopback and private addresses (--webhook-allow-private)")
	}
	app.Core.SetNotify(nc)
	return nil
}

func (a *App) publicURL() string {
	if a.PublicURL == "" {
		return DefaultPublicURL
	}
	return a.PublicURL
}

// EnvSMTPPassword is the variable the relay's password is read from.
const EnvSMTPPassword = "TREL_SMTP_PASSWORD"

// SMTPPasswordFromEnv reads the relay's password, never a flag (it would
// show in process listings).
func SMTPPasswordFromEnv() string { return os.Getenv(EnvSMTPPassword) }

// releaseStatus serves trel-release-status.json next to a published
// release's manifest: its feed entry (state released, yanked or archived,
// dates, where its files are), which `trel verify --release` can read.
func releaseStatus(app *App) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e, err := app.Core.ReleaseFeedEntry(r.Context(), r.PathValue("committee"), r.PathValue("project"), r.PathValue("version"))
		if err != nil {
			http.Error(w, domain.PublicMessage(err), api.StatusOf(domain.KindOf(err)))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		json.NewEncoder(w).Encode(e)
	}
}

// yankNotes marks yanked releases in the tree's directory indexes, where
// downloaders browse: beside each yanked version in a project's index, and
// above the files of a yanked release.
func yankNotes(app *App, tree string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, dir := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"+tree+"/"), "/")
		parts := strings.Split(rest, "/")
		var notes downloads.ListingNotes
		switch {
		case !dir:
		case len(parts) == 2:
			if f, err := app.Core.ProjectFeed(r.Context(), parts[1]); err == nil && f.Committee == parts[0] {
				for _, e := range f.Releases {
					if e.YankedAt != nil {
						if notes.Entries == nil {
							notes.Entries = map[string]string{}
						}
						notes.Entries[e.Version+"/"] = "yanked: " + e.YankReason
					}
				}
			}
		case len(parts) == 3:
			if e, err := app.Core.ReleaseFeedEntry(r.Context(), parts[0], parts[1], parts[2]); err == nil && e.YankedAt != nil {
				notes.Banner = fmt.Sprintf("This release was yanked on %s: %s. Its files stay here and verify, but do not use it.",
					e.YankedAt.UTC().Format("2006-01-02"), e.YankReason)
			}
		}
		h.ServeHTTP(w, r.WithContext(downloads.WithListingNotes(r.Context(), notes)))
	})
}
