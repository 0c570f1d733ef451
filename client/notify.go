package client

import (
	"context"
	"strconv"

	"trel/internal/api"
	"trel/internal/core"
	"trel/internal/domain"
)

// StartReleaseWith starts a draft release, embargoed if asked.
func (c *Client) StartReleaseWith(ctx context.Context, project, version string, opt core.StartReleaseOptions) (*domain.Release, error) {
	var out domain.Release
	return &out, c.call(ctx, "POST", "/api/v1/projects/"+esc(project)+"/releases", api.NewReleaseRequest{Version: version, Embargoed: opt.Embargoed}, &out)
}

// AllNotices lists the signed-in user's notifications, read ones too.
func (c *Client) AllNotices(ctx context.Context) ([]domain.Notice, error) {
	var out struct{ Notices []domain.Notice }
	err := c.call(ctx, "GET", "/api/v1/notices?all=true", nil, &out)
	return out.Notices, err
}

// DismissAllNotices marks every notification read.
func (c *Client) DismissAllNotices(ctx context.Context) (int, error) {
	var out struct{ Dismissed int }
	return out.Dismissed, c.call(ctx, "POST", "/api/v1/notices/dismiss-all", nil, &out)
}

// MailStatus says whether the server sends mail.
func (c *Client) MailStatus(ctx context.Context) (*core.MailStatus, error) {
	var out core.MailStatus
	return &out, c.call(ctx, "GET", "/api/v1/mail", nil, &out)
}

// PreviewMail renders a release's vote, result or announce mail.
func (c *Client) PreviewMail(ctx context.Context, project, version, topic string) (*core.MailPreview, error) {
	var out core.MailPreview
	return &out, c.call(ctx, "GET", relPath(project, version)+"/mail/"+esc(topic), nil, &out)
}

// ReleaseMail lists a release's mail with Message-IDs and states.
func (c *Client) ReleaseMail(ctx context.Context, project, version string) ([]domain.Delivery, error) {
	var out struct{ Deliveries []domain.Delivery }
	return out.Deliveries, c.call(ctx, "GET", relPath(project, version)+"/mail", nil, &out)
}

// Yank marks a published release yanked with a reason.
func (c *Client) Yank(ctx context.Context, project, version, reason string) (*domain.Release, error) {
	var out domain.Release
	return &out, c.call(ctx, "POST", relPath(project, version)+"/yank", api.YankRequest{Reason: reason}, &out)
}

// Unyank lifts a release's yank.
func (c *Client) Unyank(ctx context.Context, project, version string) (*domain.Release, error) {
	var out domain.Release
	return &out, c.call(ctx, "POST", relPath(project, version)+"/unyank", nil, &out)
}

// Archive moves a published release's files to the archive tree.
func (c *Client) Archive(ctx context.Context, project, version string) (*domain.Release, error) {
	var out domain.Release
	return &out, c.call(ctx, "POST", relPath(project, version)+"/archive", nil, &out)
}

// Feed returns a project's published releases.
func (c *Client) Feed(ctx context.Context, project string) (*core.Feed, error) {
	var out core.Feed
	return &out, c.call(ctx, "GET", "/api/v1/projects/"+esc(project)+"/feed", nil, &out)
}

// Webhooks lists a project's webhooks.
func (c *Client) Webhooks(ctx context.Context, project string) ([]domain.Webhook, error) {
	var out struct{ Webhooks []domain.Webhook }
	return out.Webhooks, c.call(ctx, "GET", "/api/v1/projects/"+esc(project)+"/webhooks", nil, &out)
}

// AddWebhook registers a webhook; the secret is in the answer, once.
func (c *Client) AddWebhook(ctx context.Context, project string, req core.NewWebhook) (*core.CreatedWebhook, error) {
	var out core.CreatedWebhook
	return &out, c.call(ctx, "POST", "/api/v1/projects/"+esc(project)+"/webhooks", req, &out)
}

// RemoveWebhook removes a webhook.
func (c *Client) RemoveWebhook(ctx context.Context, project string, id int64) error {
	return c.call(ctx, "DELETE", "/api/v1/projects/"+esc(project)+"/webhooks/"+strconv.FormatInt(id, 10), nil, nil)
}

// WebhookDeliveries lists the calls of a project's webhooks.
func (c *Client) WebhookDeliveries(ctx context.Context, project string) ([]domain.Delivery, error) {
	var out struct{ Deliveries []domain.Delivery }
	return out.Deliveries, c.call(ctx, "GET", "/api/v1/projects/"+esc(project)+"/webhooks/deliveries", nil, &out)
}
