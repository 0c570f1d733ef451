package client

import (
	"context"

	"trel/internal/api"
	"trel/internal/core"
	"trel/internal/domain"
)

func polPath(project string) string { return "/api/v1/projects/" + esc(project) + "/policy" }

// Policy returns a project's current policy.
func (c *Client) Policy(ctx context.Context, project string) (*domain.Policy, error) {
	var out domain.Policy
	return &out, c.call(ctx, "GET", polPath(project), nil, &out)
}

// SetPolicy replaces a project's policy (a new version).
func (c *Client) SetPolicy(ctx context.Context, project string, p domain.Policy) (*domain.Policy, error) {
	var out domain.Policy
	p.Version, p.UpdatedBy = 0, ""
	return &out, c.call(ctx, "PUT", polPath(project), p, &out)
}

// AddReleaseManager makes a user a release manager.
func (c *Client) AddReleaseManager(ctx context.Context, project, version, username string) error {
	return c.call(ctx, "POST", relPath(project, version)+"/managers", api.ReleaseManagerRequest{Username: username}, nil)
}

// ReleaseManagers lists a release's managers.
func (c *Client) ReleaseManagers(ctx context.Context, project, version string) ([]string, error) {
	var out api.ReleaseManagerList
	return out.Managers, c.call(ctx, "GET", relPath(project, version)+"/managers", nil, &out)
}

// RemoveReleaseManager ends a user's release-manager role.
func (c *Client) RemoveReleaseManager(ctx context.Context, project, version, username string) error {
	return c.call(ctx, "DELETE", relPath(project, version)+"/managers/"+esc(username), nil, nil)
}

// CancelVote cancels the vote (or withdraws a passed one): the release
// returns to draft.
func (c *Client) CancelVote(ctx context.Context, project, version, reason string) error {
	return c.call(ctx, "POST", relPath(project, version)+"/vote/cancel", api.CancelVoteRequest{Reason: reason}, nil)
}

// Ack acknowledges a concern of the latest revision.
func (c *Client) Ack(ctx context.Context, project, version, checker, path, comment string) (*domain.Ack, error) {
	var out domain.Ack
	return &out, c.call(ctx, "POST", relPath(project, version)+"/acks", api.AckRequest{Checker: checker, Path: path, Comment: comment}, &out)
}

// StartVote opens the vote on the latest revision.
func (c *Client) StartVote(ctx context.Context, project, version string) (*domain.VoteRound, error) {
	var out domain.VoteRound
	return &out, c.call(ctx, "POST", relPath(project, version)+"/vote", nil, &out)
}

// CastVote casts or changes the caller's vote.
func (c *Client) CastVote(ctx context.Context, project, version string, value int, comment string) (*domain.Tally, error) {
	var out domain.Tally
	return &out, c.call(ctx, "POST", relPath(project, version)+"/vote/votes", api.VoteRequest{Value: value, Comment: comment}, &out)
}

// Tally returns the live tally.
func (c *Client) Tally(ctx context.Context, project, version string) (*domain.Tally, error) {
	var out domain.Tally
	return &out, c.call(ctx, "GET", relPath(project, version)+"/vote", nil, &out)
}

// ResolveVote closes the vote.
func (c *Client) ResolveVote(ctx context.Context, project, version string) (*domain.Tally, error) {
	var out domain.Tally
	return &out, c.call(ctx, "POST", relPath(project, version)+"/vote/resolve", nil, &out)
}

// Publish publishes a release whose vote passed.
func (c *Client) Publish(ctx context.Context, project, version string) (*core.Manifest, error) {
	var out core.Manifest
	return &out, c.call(ctx, "POST", relPath(project, version)+"/publish", nil, &out)
}

// PolicyHistory lists every version of a project's policy, newest first.
func (c *Client) PolicyHistory(ctx context.Context, project string) ([]domain.Policy, error) {
	var out struct{ Policies []domain.Policy }
	return out.Policies, c.call(ctx, "GET", polPath(project)+"/history", nil, &out)
}
