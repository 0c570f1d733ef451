package api

import (
	"net/http"

	"trel/internal/core"
	"trel/internal/domain"
)

// notifyRoutes: mail, notifications, webhooks, and a release's life after
// publication (yank, archive, the feed).
func (a *API) notifyRoutes() []route {
	wh := "/api/v1/projects/{project}/webhooks"
	return []route{
		{"GET", "/api/v1/mail", "Whether this server sends mail, and through which relay", "public", "", "MailStatus", 200, a.mailStatus},
		{"POST", "/api/v1/notices/dismiss-all", "Mark every notification of yours read", "token", "", "Dismissed", 200, a.dismissAll},
		{"GET", rel + "/mail", "The release's mail with Message-IDs and delivery state (committee participants)", "token", "", "DeliveryList", 200, a.releaseMail},
		{"GET", rel + "/mail/{topic}", "Preview the release's vote, result or announce mail as it would be sent now (committee participants)", "token", "", "MailPreview", 200, a.previewMail},
		{"POST", rel + "/yank", "Yank a published release with a reason: still downloadable, marked yanked everywhere (release managers)", "token", "YankRequest", "Release", 200, a.yank},
		{"POST", rel + "/unyank", "Lift a release's yank (release managers)", "token", "", "Release", 200, a.unyank},
		{"POST", rel + "/archive", "Move a published release's files to the archive tree (release managers)", "token", "", "Release", 200, a.archive},
		{"GET", "/api/v1/projects/{project}/feed", "The project's published releases: version, state (released, yanked, archived), dates, manifest URL", "public", "", "Feed", 200, a.feed},
		{"GET", wh, "The project's webhooks (committee members; secrets are never shown again)", "token", "", "WebhookList", 200, a.webhooks},
		{"POST", wh, "Add a webhook (committee members); an empty secret makes trel choose one, returned once", "token", "NewWebhook", "CreatedWebhook", 201, a.addWebhook},
		{"DELETE", wh + "/{id}", "Remove a webhook; its delivery log stays (committee members)", "token", "", "", 204, a.removeWebhook},
		{"GET", wh + "/deliveries", "The delivery log of the project's webhooks, newest first (committee members)", "token", "", "DeliveryList", 200, a.webhookDeliveries},
	}
}

func (a *API) mailStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, a.svc.MailStatus())
}

func (a *API) dismissAll(w http.ResponseWriter, r *http.Request) {
	n, err := a.svc.DismissAllNotices(r.Context(), actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]int{"dismissed": n})
}

func (a *API) releaseMail(w http.ResponseWriter, r *http.Request) {
	ds, err := a.svc.ReleaseMail(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"deliveries": nonNil(ds)})
}

func (a *API) previewMail(w http.ResponseWriter, r *http.Request) {
	p, err := a.svc.PreviewMail(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), r.PathValue("topic"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, p)
}

// YankRequest says why a release is yanked.
type YankRequest struct {
	Reason string `json:"reason"`
}

// afterlife adapts a core action on a published release to a handler
// that answers with the release.
func (a *API) afterlife(w http.ResponseWriter, r *http.Request, do func() (*domain.Release, error)) {
	rl, err := do()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, rl)
}

func (a *API) yank(w http.ResponseWriter, r *http.Request) {
	var req YankRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	a.afterlife(w, r, func() (*domain.Release, error) {
		return a.svc.YankRelease(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), req.Reason)
	})
}

func (a *API) unyank(w http.ResponseWriter, r *http.Request) {
	a.afterlife(w, r, func() (*domain.Release, error) {
		return a.svc.UnyankRelease(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	})
}

func (a *API) archive(w http.ResponseWriter, r *http.Request) {
	a.afterlife(w, r, func() (*domain.Release, error) {
		return a.svc.ArchiveRelease(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	})
}

func (a *API) feed(w http.ResponseWriter, r *http.Request) {
	f, err := a.svc.ProjectFeed(r.Context(), r.PathValue("project"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, 200, f)
}

func (a *API) webhooks(w http.ResponseWriter, r *http.Request) {
	hs, err := a.svc.Webhooks(r.Context(), actor(r), r.PathValue("project"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"webhooks": nonNil(hs)})
}

func (a *API) addWebhook(w http.ResponseWriter, r *http.Request) {
	var req core.NewWebhook
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.svc.AddWebhook(r.Context(), actor(r), r.PathValue("project"), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, c)
}

func (a *API) removeWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.svc.RemoveWebhook(r.Context(), actor(r), r.PathValue("project"), int64(id)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}

func (a *API) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	ds, err := a.svc.WebhookDeliveries(r.Context(), actor(r), r.PathValue("project"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"deliveries": nonNil(ds)})
}

// The schemas of these routes, and the fields they add to existing ones.
func init() {
	strs := map[string]any{"type": "array", "items": str}
	schemas["MailStatus"] = obj([]string{"enabled"}, map[string]any{"enabled": boolean, "relay": str, "from": str})
	schemas["Dismissed"] = obj([]string{"dismissed"}, map[string]any{"dismissed": integer})
	schemas["Delivery"] = obj([]string{"id", "channel", "topic", "state"}, map[string]any{"id": integer,
		"channel": map[string]any{"type": "string", "enum": []any{"mail", "webhook"}}, "topic": str, "webhook_id": integer, "round": integer,
		"message_id": map[string]any{"type": "string", "description": "The mail's Message-ID, or the X-Trel-Delivery id of a webhook call"},
		"state":      map[string]any{"type": "string", "enum": []any{"pending", "sending", "sent", "failed", "skipped"}},
		"attempts":   integer, "not_before": datetime, "last_error": str, "refused": map[string]any{"type": "string", "description": "Recipients the relay refused"},
		"status_code": integer, "created_at": datetime, "finished_at": optTime, "recipients": strs, "subject": str, "webhook_url": str, "release": str})
	schemas["DeliveryList"] = list("deliveries", "Delivery")
	schemas["MailPreview"] = obj([]string{"topic", "to", "subject", "body"}, map[string]any{"topic": str, "mail_enabled": boolean, "from": str,
		"to": strs, "cc": strs, "subject": str, "body": str, "templated": boolean,
		"problem": map[string]any{"type": "string", "description": "Why the mail would not be sent"}})
	schemas["YankRequest"] = obj([]string{"reason"}, map[string]any{"reason": map[string]any{"type": "string", "description": "One line, shown wherever the release is listed"}})
	schemas["FeedEntry"] = obj([]string{"version", "state", "files_url", "manifest_url"}, map[string]any{"version": str,
		"state": map[string]any{"type": "string", "enum": []any{"released", "yanked", "archived"}}, "published_at": optTime, "yanked_at": optTime,
		"yank_reason": str, "archived_at": optTime, "embargo_lifted_at": optTime, "files_url": str, "manifest_url": str, "keys_url": str, "release_url": str})
	schemas["Feed"] = obj([]string{"project", "releases"}, map[string]any{"committee": str, "project": str, "name": str,
		"releases": map[string]any{"type": "array", "items": ref("FeedEntry")}})
	schemas["Webhook"] = obj([]string{"id", "url", "events"}, map[string]any{"id": integer, "url": str,
		"events":     map[string]any{"type": "array", "items": map[string]any{"type": "string", "enum": anySlice(domain.WebhookEvents)}, "description": "Empty: every event"},
		"created_by": str, "created_at": datetime})
	schemas["WebhookList"] = list("webhooks", "Webhook")
	schemas["NewWebhook"] = obj([]string{"url"}, map[string]any{"url": str, "secret": map[string]any{"type": "string", "description": "16 to 256 printable characters; empty: trel makes one"},
		"events": map[string]any{"type": "array", "items": str}})
	schemas["CreatedWebhook"] = obj([]string{"webhook", "secret"}, map[string]any{"webhook": ref("Webhook"),
		"secret": map[string]any{"type": "string", "description": "Shown once; each call carries X-Trel-Signature-256: sha256=HMAC-SHA256(secret, body)"}})
	schemas["MailPolicy"] = obj(nil, map[string]any{"vote_to": strs, "announce_to": strs, "private_to": strs, "cc": strs,
		"vote_template": str, "result_template": str, "announce_template": str})
	extend := func(name string, props map[string]any) {
		s := schemas[name].(map[string]any)["properties"].(map[string]any)
		for k, v := range props {
			s[k] = v
		}
	}
	extend("Release", map[string]any{"embargoed": boolean, "embargo_lifted_at": optTime, "published_at": optTime, "yanked_at": optTime,
		"yanked_by": str, "yank_reason": str, "archived_at": optTime, "archived_by": str})
	extend("NewRelease", map[string]any{"embargoed": map[string]any{"type": "boolean", "description": "A security release visible to the committee's participants only until published"}})
	extend("Policy", map[string]any{"mail": ref("MailPolicy"), "archive_previous": map[string]any{"type": "string", "enum": []any{"", "minor", "major"}}})
	extend("Notice", map[string]any{"kind": str, "link": str, "dismissed_at": optTime})
	extend("Manifest", map[string]any{"mail": obj(nil, map[string]any{"vote": str, "result": str, "announce": str})})
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
