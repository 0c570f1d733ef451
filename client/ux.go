package client

import (
	"context"
	"net/url"
	"strconv"

	"trel/internal/api"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/store"
)

// StartVoteWith opens the vote, recording the caller's own +1 when asked.
func (c *Client) StartVoteWith(ctx context.Context, project, version string, req api.StartVoteRequest) (*domain.VoteRound, error) {
	var out domain.VoteRound
	return &out, c.call(ctx, "POST", relPath(project, version)+"/vote", req, &out)
}

// Abandon deletes a draft release.
func (c *Client) Abandon(ctx context.Context, project, version, reason string) error {
	return c.call(ctx, "POST", relPath(project, version)+"/abandon", api.AbandonRequest{Reason: reason}, nil)
}

// Restore makes a new revision with the files of revision n.
func (c *Client) Restore(ctx context.Context, project, version string, n int, expect *int) (*core.RevisionResult, error) {
	var out core.RevisionResult
	return &out, c.call(ctx, "POST", relPath(project, version)+"/revisions/"+strconv.Itoa(n)+"/restore", api.RestoreRequest{ExpectRevision: expect}, &out)
}

// VoteHistory lists every vote round of a release, newest first, with its
// ballots.
func (c *Client) VoteHistory(ctx context.Context, project, version string) ([]core.VoteRecord, error) {
	var out struct {
		Rounds []core.VoteRecord `json:"rounds"`
	}
	return out.Rounds, c.call(ctx, "GET", relPath(project, version)+"/vote/history", nil, &out)
}

// Summary returns the public summary of a candidate or published release.
func (c *Client) Summary(ctx context.Context, project, version string) (*core.ReleaseSummary, error) {
	var out core.ReleaseSummary
	return &out, c.call(ctx, "GET", relPath(project, version)+"/summary", nil, &out)
}

// PublicReleases lists the releases everyone may see.
func (c *Client) PublicReleases(ctx context.Context, committee string, phase domain.Phase, limit int) ([]domain.Release, error) {
	q := url.Values{}
	if committee != "" {
		q.Set("committee", committee)
	}
	if phase != "" {
		q.Set("phase", string(phase))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Releases []domain.Release `json:"releases"`
	}
	return out.Releases, c.call(ctx, "GET", "/api/v1/releases?"+q.Encode(), nil, &out)
}

// MySessions lists the caller's browser sessions.
func (c *Client) MySessions(ctx context.Context) ([]domain.Session, error) {
	var out struct {
		Sessions []domain.Session `json:"sessions"`
	}
	return out.Sessions, c.call(ctx, "GET", "/api/v1/me/sessions", nil, &out)
}

// EndMySession ends one of the caller's browser sessions.
func (c *Client) EndMySession(ctx context.Context, id int64) error {
	return c.call(ctx, "DELETE", "/api/v1/me/sessions/"+strconv.FormatInt(id, 10), nil, nil)
}

// MyPasskeys lists the caller's passkeys.
func (c *Client) MyPasskeys(ctx context.Context) ([]store.Passkey, error) {
	var out struct {
		Passkeys []store.Passkey `json:"passkeys"`
	}
	return out.Passkeys, c.call(ctx, "GET", "/api/v1/me/passkeys", nil, &out)
}

// RenamePasskey renames one of the caller's passkeys.
func (c *Client) RenamePasskey(ctx context.Context, id int64, name string) error {
	return c.call(ctx, "PUT", "/api/v1/me/passkeys/"+strconv.FormatInt(id, 10)+"/name", api.PasskeyNameRequest{Name: name}, nil)
}

// AuditPage returns one page of the audit log (administrators).
func (c *Client) AuditPage(ctx context.Context, f store.AuditFilter, offset, limit int) ([]domain.AuditEvent, bool, error) {
	q := url.Values{}
	for k, v := range map[string]string{"actor": f.Actor, "action": f.Action, "target": f.Target} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Events []domain.AuditEvent `json:"events"`
		More   bool                `json:"more"`
	}
	return out.Events, out.More, c.call(ctx, "GET", "/api/v1/audit?"+q.Encode(), nil, &out)
}

// CheckServerKeyPassword checks a held key's password.
func (c *Client) CheckServerKeyPassword(ctx context.Context, fpr, password string) error {
	return c.call(ctx, "POST", skPath(fpr)+"/check-password", api.PasswordCheckRequest{Password: password}, nil)
}
