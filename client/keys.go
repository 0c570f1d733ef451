package client

import (
	"context"
	"io"
	"net/url"

	"trel/internal/api"
	"trel/internal/core"
	"trel/internal/domain"
)

// AddKeys uploads public keys (one key or a KEYS file).
func (c *Client) AddKeys(ctx context.Context, keys []byte, committees []string, automation bool) (*core.KeyReport, error) {
	var out core.KeyReport
	return &out, c.call(ctx, "POST", "/api/v1/keys", api.AddKeysRequest{KeysData: keys, Committees: committees, Automation: automation}, &out)
}

// ImportKEYS imports a committee's KEYS file.
func (c *Client) ImportKEYS(ctx context.Context, committee string, keys []byte) (*core.KeyReport, error) {
	var out core.KeyReport
	return &out, c.call(ctx, "POST", "/api/v1/committees/"+esc(committee)+"/keys", api.KeysTextRequest{KeysData: keys}, &out)
}

// ImportReleaseKEYS imports a KEYS file uploaded into a draft.
func (c *Client) ImportReleaseKEYS(ctx context.Context, project, version, path string, revision int) (*core.KeyReport, error) {
	var out core.KeyReport
	return &out, c.call(ctx, "POST", relPath(project, version)+"/keys-import", api.ReleaseKeysImportRequest{Path: path, Revision: revision}, &out)
}

// ListKeys lists a committee's keys, or the caller's own when committee is "".
func (c *Client) ListKeys(ctx context.Context, committee string) ([]domain.Key, error) {
	var out struct{ Keys []domain.Key }
	q := ""
	if committee != "" {
		q = "?committee=" + url.QueryEscape(committee)
	}
	return out.Keys, c.call(ctx, "GET", "/api/v1/keys"+q, nil, &out)
}

// DeletedKeys lists the caller's deleted keys (to restore them).
func (c *Client) DeletedKeys(ctx context.Context) ([]domain.Key, error) {
	var out struct{ Keys []domain.Key }
	return out.Keys, c.call(ctx, "GET", "/api/v1/keys?deleted=true", nil, &out)
}

// RestoreKey restores a deleted key (administrators).
func (c *Client) RestoreKey(ctx context.Context, fpr string) (*domain.Key, error) {
	var out domain.Key
	return &out, c.call(ctx, "POST", "/api/v1/keys/"+esc(fpr)+"/restore", nil, &out)
}

// Key returns one key.
func (c *Client) Key(ctx context.Context, fpr string) (*domain.Key, error) {
	var out domain.Key
	return &out, c.call(ctx, "GET", "/api/v1/keys/"+esc(fpr), nil, &out)
}

// DeleteKey soft-deletes a key.
func (c *Client) DeleteKey(ctx context.Context, fpr string) error {
	return c.call(ctx, "DELETE", "/api/v1/keys/"+esc(fpr), nil, nil)
}

// KeyChallenge returns the exact text to sign to prove ownership of a key.
func (c *Client) KeyChallenge(ctx context.Context, fpr string) (string, error) {
	var out api.ChallengeResponse
	return out.Challenge, c.call(ctx, "POST", "/api/v1/keys/"+esc(fpr)+"/challenge", nil, &out)
}

// ProveKey submits a detached signature of the challenge.
func (c *Client) ProveKey(ctx context.Context, fpr string, signature []byte) (*domain.Key, error) {
	var out domain.Key
	return &out, c.call(ctx, "POST", "/api/v1/keys/"+esc(fpr)+"/proof", api.KeyProofRequest{Signature: string(signature)}, &out)
}

// KEYSFile downloads a committee's KEYS file.
func (c *Client) KEYSFile(ctx context.Context, committee string) ([]byte, error) {
	req, err := c.newRequest(ctx, "GET", "/api/v1/committees/"+esc(committee)+"/KEYS", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, decodeResponse(resp, nil)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
}

// Checks returns the check results of a revision (n <= 0: the latest).
func (c *Client) Checks(ctx context.Context, project, version string, n int) (*core.ChecksReport, error) {
	var out core.ChecksReport
	return &out, c.call(ctx, "GET", relPath(project, version)+"/revisions/"+revSeg(n)+"/checks", nil, &out)
}

// RerunChecks queues a revision's checks again.
func (c *Client) RerunChecks(ctx context.Context, project, version string, n int) (*domain.CheckRun, error) {
	var out domain.CheckRun
	return &out, c.call(ctx, "POST", relPath(project, version)+"/revisions/"+revSeg(n)+"/checks", nil, &out)
}
