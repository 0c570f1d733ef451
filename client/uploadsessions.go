package client

import (
	"context"
	"io"
	"strconv"

	"trel/internal/core"
	"trel/internal/domain"
)

// Resumable uploads (upload sessions).

func sessionPath(project, version, id string) string {
	p := relPath(project, version) + "/upload-sessions"
	if id != "" {
		p += "/" + esc(id)
	}
	return p
}

// StartUploadSession declares a resumable upload.
func (c *Client) StartUploadSession(ctx context.Context, project, version string, req core.NewUploadSession) (*domain.UploadSession, error) {
	var out domain.UploadSession
	return &out, c.call(ctx, "POST", sessionPath(project, version, ""), req, &out)
}

// UploadSession returns a session's state (its received bytes).
func (c *Client) UploadSession(ctx context.Context, project, version, id string) (*domain.UploadSession, error) {
	var out domain.UploadSession
	return &out, c.call(ctx, "GET", sessionPath(project, version, id), nil, &out)
}

// PutChunk sends size bytes of r as the chunk at offset. A chunk refused
// for its offset returns an *Error whose Offset is the server's.
func (c *Client) PutChunk(ctx context.Context, project, version, id string, offset int64, r io.Reader, size int64) (*domain.UploadSession, error) {
	req, err := c.newRequest(ctx, "PUT", sessionPath(project, version, id)+"?offset="+strconv.FormatInt(offset, 10), r)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	var out domain.UploadSession
	return &out, c.do(req, &out)
}

// CompleteUploadSession completes a session that received all its bytes.
func (c *Client) CompleteUploadSession(ctx context.Context, project, version, id string, req core.CompleteUploadSession) (*core.UploadSessionResult, error) {
	var out core.UploadSessionResult
	return &out, c.call(ctx, "POST", sessionPath(project, version, id)+"/complete", req, &out)
}

// AbortUploadSession ends a session and deletes what it received.
func (c *Client) AbortUploadSession(ctx context.Context, project, version, id string) error {
	return c.call(ctx, "DELETE", sessionPath(project, version, id), nil, nil)
}

// UploadSessions lists your sessions that have not expired: of one
// release, or of all when project is "".
func (c *Client) UploadSessions(ctx context.Context, project, version string) ([]domain.UploadSession, error) {
	p := "/api/v1/me/upload-sessions"
	if project != "" {
		p = sessionPath(project, version, "")
	}
	var out struct{ Sessions []domain.UploadSession }
	return out.Sessions, c.call(ctx, "GET", p, nil, &out)
}
