package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/mail"
)

// Notifications (the bell), project webhooks, mail previews, and a
// release's life after publication (yank, un-yank, archive). The pages
// that change something re-render themselves with the typed values and
// the error next to the field; destructive actions ask for a ticked box.

func (w *Web) notifyRoutes(mux *http.ServeMux) {
	rel := "/projects/{project}/releases/{version}"
	mux.HandleFunc("GET /notices", w.requireUser(w.noticesPage))
	mux.HandleFunc("POST /notices/dismiss-all", w.requireUser(w.dismissAllNotices))
	mux.HandleFunc("GET /projects/{project}/webhooks", w.requireUser(w.webhooksPage))
	mux.HandleFunc("POST /projects/{project}/webhooks", w.requireUser(w.addWebhook))
	mux.HandleFunc("POST /projects/{project}/webhooks/{id}/remove", w.requireUser(w.removeWebhook))
	mux.HandleFunc("GET "+rel+"/mail/{topic}", w.requireUser(w.mailPreview))
	mux.HandleFunc("GET "+rel+"/yank", w.requireUser(w.actionPage("yank")))
	mux.HandleFunc("POST "+rel+"/yank", w.requireUser(w.yank))
	mux.HandleFunc("POST "+rel+"/unyank", w.requireUser(w.unyank))
	mux.HandleFunc("GET "+rel+"/archive", w.requireUser(w.actionPage("archive")))
	mux.HandleFunc("POST "+rel+"/archive", w.requireUser(w.archive))
}

// splitNotices returns the account notices (shown on every page until
// dismissed) and the number of unread notifications (the bell).
func splitNotices(ns []domain.Notice) (account []domain.Notice, unread int) {
	for _, n := range ns {
		if n.Kind == domain.NoticeAccount || n.Kind == "" {
			account = append(account, n)
		}
	}
	return account, len(ns)
}

type noticesView struct {
	Notices []domain.Notice
	Unread  int
}

func (w *Web) noticesPage(rw http.ResponseWriter, r *http.Request) {
	ns, err := w.svc.Notifications(r.Context(), actor(r), true)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	d := noticesView{Notices: ns}
	for _, n := range ns {
		if n.DismissedAt == nil {
			d.Unread++
		}
	}
	w.render(rw, r, http.StatusOK, "notices", view{Title: "Notifications", D: d})
}

func (w *Web) dismissAllNotices(rw http.ResponseWriter, r *http.Request) {
	n, err := w.svc.DismissAllNotices(r.Context(), actor(r))
	if err != nil {
		w.fail(rw, r, "/notices", err)
		return
	}
	w.redirect(rw, r, "/notices", flash{Notice: fmt.Sprintf("%d notification(s) marked read.", n)})
}

// ---- webhooks

type webhooksView struct {
	P          *domain.Project
	Hooks      []domain.Webhook
	Deliveries []domain.Delivery
	Events     []string
	Private    bool // the server calls private addresses
	// The secret of a webhook just added (shown once).
	Created *core.CreatedWebhook
}

func (w *Web) renderWebhooks(rw http.ResponseWriter, r *http.Request, status int, d webhooksView) {
	act, ctx, key := actor(r), r.Context(), r.PathValue("project")
	p, err := w.svc.Project(ctx, act, key)
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	if d.Hooks, err = w.svc.Webhooks(ctx, act, key); err != nil {
		w.pageError(rw, r, err)
		return
	}
	if d.Deliveries, err = w.svc.WebhookDeliveries(ctx, act, key); err != nil {
		w.pageError(rw, r, err)
		return
	}
	d.P, d.Events = p, domain.WebhookEvents
	w.render(rw, r, status, "webhooks", view{Title: "Webhooks of " + p.Name, D: d})
}

func (w *Web) webhooksPage(rw http.ResponseWriter, r *http.Request) {
	w.renderWebhooks(rw, r, http.StatusOK, webhooksView{})
}

func (w *Web) addWebhook(rw http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	req := core.NewWebhook{URL: strings.TrimSpace(r.FormValue("url")), Secret: strings.TrimSpace(r.FormValue("secret")), Events: r.Form["event"]}
	created, err := w.svc.AddWebhook(r.Context(), actor(r), r.PathValue("project"), req)
	if err != nil {
		field := "url"
		if strings.Contains(domain.PublicMessage(err), "secret") {
			field = "secret"
		} else if strings.Contains(domain.PublicMessage(err), "event") {
			field = "event"
		}
		w.refill(rw, r, "wh", field, err, w.webhooksPage)
		return
	}
	// The secret is shown in this response only, never in a redirect.
	w.renderWebhooks(rw, r, http.StatusOK, webhooksView{Created: created})
}

func (w *Web) removeWebhook(rw http.ResponseWriter, r *http.Request) {
	key := r.PathValue("project")
	back := "/projects/" + url.PathEscape(key) + "/webhooks"
	if err := confirmed(r, "remove the webhook"); err != nil {
		w.fail(rw, r, back, err)
		return
	}
	id, err := formID(r)
	if err == nil {
		err = w.svc.RemoveWebhook(r.Context(), actor(r), key, id)
	}
	if err != nil {
		w.fail(rw, r, back, err)
		return
	}
	w.redirect(rw, r, back, flash{Notice: "The webhook was removed; its delivery log stays below."})
}

// ---- mail

type mailPreviewView struct {
	R            *domain.Release
	P            *core.MailPreview
	Placeholders []mail.Placeholder
}

func (w *Web) mailPreview(rw http.ResponseWriter, r *http.Request) {
	act, ctx := actor(r), r.Context()
	rl, err := w.svc.Release(ctx, act, r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	p, err := w.svc.PreviewMail(ctx, act, rl.ProjectKey, rl.Version, r.PathValue("topic"))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	w.render(rw, r, http.StatusOK, "mail_preview", view{Title: "Mail preview", D: mailPreviewView{R: rl, P: p, Placeholders: mail.Placeholders}})
}

// afterlifeView is what the release page shows of mail and of the
// release's life after publication.
type afterlifeView struct {
	Mail       core.MailStatus
	Deliveries []domain.Delivery // nil when the viewer may not see them
	CanManage  bool              // a release manager (forms are shown)
	Failed     int               // deliveries that failed or had refused recipients
}

// afterlife loads the release page's mail and state blocks. A failure
// hides the mail log only.
func (w *Web) afterlife(r *http.Request, rl *domain.Release) *afterlifeView {
	act := actor(r)
	v := &afterlifeView{Mail: w.svc.MailStatus()}
	if act.User == nil {
		return v
	}
	if ds, err := w.svc.ReleaseMail(r.Context(), act, rl.ProjectKey, rl.Version); err == nil {
		v.Deliveries = ds
		for _, d := range ds {
			if d.State == domain.DeliveryFailed || d.Refused != "" {
				v.Failed++
			}
		}
	}
	if rms, err := w.svc.ReleaseManagers(r.Context(), act, rl.ProjectKey, rl.Version); err == nil {
		for _, m := range rms {
			v.CanManage = v.CanManage || m == act.User.Username
		}
	}
	v.CanManage = v.CanManage || act.User.Admin
	return v
}

// ---- yank, un-yank, archive

type actionView struct {
	R      *domain.Release
	Action string // yank or archive (also the form's id)
}

// actionPage asks for the reason and the confirmation of a yank or an
// archiving.
func (w *Web) actionPage(action string) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		rl, err := w.svc.Release(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
		if err != nil {
			w.pageError(rw, r, err)
			return
		}
		title := map[string]string{"yank": "Yank ", "archive": "Archive "}[action] + rl.ProjectKey + " " + rl.Version
		w.render(rw, r, http.StatusOK, "release_action", view{Title: title, D: actionView{R: rl, Action: action}})
	}
}

// confirmed runs a yank or an archiving once the box is ticked, or shows
// the form again with the error next to its field.
func (w *Web) confirmed(rw http.ResponseWriter, r *http.Request, action string, do func() (*domain.Release, error), done func(*domain.Release) string) {
	page := w.actionPage(action)
	if err := confirmed(r, action+" the release"); err != nil {
		w.refill(rw, r, action, "confirm", err, page)
		return
	}
	rl, err := do()
	if err != nil {
		field := "reason"
		if action == "archive" {
			field = "confirm"
		}
		w.refill(rw, r, action, field, err, page)
		return
	}
	w.redirect(rw, r, relBack(r), flash{Notice: done(rl)})
}

func (w *Web) yank(rw http.ResponseWriter, r *http.Request) {
	w.confirmed(rw, r, "yank", func() (*domain.Release, error) {
		return w.svc.YankRelease(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), r.FormValue("reason"))
	}, func(rl *domain.Release) string {
		return "The release is yanked. It stays downloadable at " + rl.FilesPath() + ", marked yanked everywhere."
	})
}

func (w *Web) archive(rw http.ResponseWriter, r *http.Request) {
	w.confirmed(rw, r, "archive", func() (*domain.Release, error) {
		return w.svc.ArchiveRelease(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	}, func(rl *domain.Release) string {
		return "The release is archived: its files are now at " + rl.FilesPath() + "."
	})
}

func (w *Web) unyank(rw http.ResponseWriter, r *http.Request) {
	if r.FormValue("confirm") != "yes" {
		w.fail(rw, r, relBack(r), domain.Errorf(domain.KindInvalid, "tick the box to lift the yank"))
		return
	}
	if _, err := w.svc.UnyankRelease(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version")); err != nil {
		w.fail(rw, r, relBack(r), err)
		return
	}
	w.redirect(rw, r, relBack(r), flash{Notice: "The yank is lifted."})
}

// mailPolicyForm reads the mail group of the policy form.
func mailPolicyForm(r *http.Request) (domain.MailPolicy, string) {
	list := func(name string) []string {
		out := []string{}
		for _, f := range strings.FieldsFunc(r.FormValue(name), func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\r' }) {
			out = append(out, strings.TrimSpace(f))
		}
		return out
	}
	// A template left as trel's default is stored as "" (the default), so
	// that the project follows later improvements of the default.
	text := func(name, topic string) string {
		t := strings.ReplaceAll(r.FormValue(name), "\r\n", "\n")
		if strings.TrimSpace(t) == strings.TrimSpace(templateOrDefault("", topic)) {
			return ""
		}
		return t
	}
	return domain.MailPolicy{VoteTo: list("vote_to"), AnnounceTo: list("announce_to"), PrivateTo: list("private_to"), Cc: list("cc"),
		VoteTemplate: text("vote_template", "vote"), ResultTemplate: text("result_template", "result"), AnnounceTemplate: text("announce_template", "announce")}, r.FormValue("archive_previous")
}

// templateOrDefault shows the default template in the policy form when
// the project has none of its own.
func templateOrDefault(t, topic string) string {
	if t != "" {
		return t
	}
	return map[string]string{"vote": mail.DefaultVote, "result": mail.DefaultResult, "announce": mail.DefaultAnnounce}[topic]
}

func init() {
	funcs["mailTemplate"] = templateOrDefault
	funcs["placeholders"] = func() []mail.Placeholder { return mail.Placeholders }
}
