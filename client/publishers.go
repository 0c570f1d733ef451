package client

import (
	"context"
	"net/url"
	"strconv"

	"trel/internal/api"
	"trel/internal/core"
	"trel/internal/domain"
)

// Audience is what GET /api/v1/oidc/audience answers.
type Audience struct {
	Audience string              `json:"audience"`
	Issuers  []domain.OIDCIssuer `json:"issuers"`
}

// Audience asks the server which audience ID tokens must be issued for.
func (c *Client) Audience(ctx context.Context) (*Audience, error) {
	var out Audience
	return &out, c.call(ctx, "GET", "/api/v1/oidc/audience", nil, &out)
}

// Exchange trades a CI job's ID token for a credential (project may be ""
// unless the token matches publishers of several projects).
func (c *Client) Exchange(ctx context.Context, idToken, project string) (*core.Exchanged, error) {
	var out core.Exchanged
	return &out, c.call(ctx, "POST", "/api/v1/oidc/exchange", api.ExchangeRequest{Token: idToken, Project: project}, &out)
}

// OIDCIssuers lists the issuers the server accepts.
func (c *Client) OIDCIssuers(ctx context.Context) ([]domain.OIDCIssuer, error) {
	var out struct{ Issuers []domain.OIDCIssuer }
	return out.Issuers, c.call(ctx, "GET", "/api/v1/oidc/issuers", nil, &out)
}

// AddOIDCIssuer makes the server accept an issuer's tokens.
func (c *Client) AddOIDCIssuer(ctx context.Context, is domain.OIDCIssuer) (*domain.OIDCIssuer, error) {
	var out domain.OIDCIssuer
	return &out, c.call(ctx, "POST", "/api/v1/oidc/issuers", is, &out)
}

// RemoveOIDCIssuer stops accepting an issuer.
func (c *Client) RemoveOIDCIssuer(ctx context.Context, issuer string) error {
	return c.call(ctx, "DELETE", "/api/v1/oidc/issuers?url="+url.QueryEscape(issuer), nil, nil)
}

func pubPath(project string) string { return "/api/v1/projects/" + esc(project) + "/publishers" }

// Publishers lists a project's trusted publishers.
func (c *Client) Publishers(ctx context.Context, project string) ([]domain.TrustedPublisher, error) {
	var out struct{ Publishers []domain.TrustedPublisher }
	return out.Publishers, c.call(ctx, "GET", pubPath(project), nil, &out)
}

// AddPublisher trusts a CI workflow for a project.
func (c *Client) AddPublisher(ctx context.Context, project string, p api.PublisherRequest) (*domain.TrustedPublisher, error) {
	var out domain.TrustedPublisher
	return &out, c.call(ctx, "POST", pubPath(project), p, &out)
}

// RemovePublisher stops trusting a publisher.
func (c *Client) RemovePublisher(ctx context.Context, project string, id int64) error {
	return c.call(ctx, "DELETE", pubPath(project)+"/"+strconv.FormatInt(id, 10), nil, nil)
}

// WorkflowActions lists what CI workflow runs did to a release.
func (c *Client) WorkflowActions(ctx context.Context, project, version string) ([]domain.WorkflowAction, error) {
	var out struct {
		Runs []domain.WorkflowAction `json:"workflow_runs"`
	}
	return out.Runs, c.call(ctx, "GET", relPath(project, version)+"/workflow-runs", nil, &out)
}
