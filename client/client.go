// Package client is the Go client for trel's JSON API. The CLI and the
// integration tests use it; it speaks only HTTP and JSON.
package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"trel/internal/api"
	"trel/internal/core"
	"trel/internal/domain"
)

// Client talks to one trel server.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client for the server at base (e.g. http://localhost:8080)
// authenticating with token ("" for anonymous access).
func New(base, token string) *Client {
	return &Client{
		base:  strings.TrimSuffix(base, "/"),
		token: token,
		// No overall timeout: uploads of large files take as long as they
		// take. Callers bound requests with their context.
		http: &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ResponseHeaderTimeout: 10 * time.Minute,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   8,
			// Large buffers: with the default 4 KiB, streaming a 1 GiB
			// upload costs a quarter of a million write system calls.
			WriteBufferSize: 256 << 10,
			ReadBufferSize:  256 << 10,
		}},
	}
}

// Error is an error answered by the server.
type Error struct {
	Status  int
	Code    string
	Message string
	// RetryAfter is the server's Retry-After hint (0 when it gave none).
	RetryAfter time.Duration
	// Offset is an upload session's received bytes, when the server
	// said (a chunk refused at the wrong offset): HasOffset is then true.
	Offset    int64
	HasOffset bool
}

func (e *Error) Error() string { return e.Message }

func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the trel server at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	return decodeResponse(resp, out)
}

func decodeResponse(resp *http.Response, out any) error {
	if resp.StatusCode >= 300 {
		var eb api.ErrorBody
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(data, &eb) != nil || eb.Error.Message == "" {
			e.Code, e.Message = "http", fmt.Sprintf("the server answered %s", resp.Status)
		} else {
			e.Code, e.Message = eb.Error.Code, eb.Error.Message
		}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
		if n, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64); err == nil && n >= 0 {
			e.Offset, e.HasOffset = n, true
		}
		return e
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("reading the server's answer: %w", err)
	}
	return nil
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding request: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := c.newRequest(ctx, method, path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.do(req, out)
}

func esc(s string) string { return url.PathEscape(s) }

// Base is the server URL the client talks to.
func (c *Client) Base() string { return c.base }

func relPath(project, version string) string {
	return "/api/v1/projects/" + esc(project) + "/releases/" + esc(version)
}

// Me returns the signed-in user.
func (c *Client) Me(ctx context.Context) (*domain.User, error) {
	var u domain.User
	return &u, c.call(ctx, "GET", "/api/v1/me", nil, &u)
}

// CreateUser creates a user (administrators only).
func (c *Client) CreateUser(ctx context.Context, req api.NewUserRequest) (*domain.User, error) {
	var u domain.User
	return &u, c.call(ctx, "POST", "/api/v1/users", req, &u)
}

// ListUsers lists users (administrators only).
func (c *Client) ListUsers(ctx context.Context) ([]domain.User, error) {
	var out struct{ Users []domain.User }
	return out.Users, c.call(ctx, "GET", "/api/v1/users", nil, &out)
}

// Audit returns the newest audit events (administrators only).
func (c *Client) Audit(ctx context.Context, limit int) ([]domain.AuditEvent, error) {
	var out struct{ Events []domain.AuditEvent }
	return out.Events, c.call(ctx, "GET", "/api/v1/audit?limit="+strconv.Itoa(limit), nil, &out)
}

// CreateToken creates a token for the signed-in user.
func (c *Client) CreateToken(ctx context.Context, label, expires string) (*api.CreatedToken, error) {
	var out api.CreatedToken
	return &out, c.call(ctx, "POST", "/api/v1/tokens", api.NewTokenRequest{Label: label, Expires: expires}, &out)
}

// ListTokens lists the signed-in user's tokens.
func (c *Client) ListTokens(ctx context.Context) ([]domain.Token, error) {
	var out struct{ Tokens []domain.Token }
	return out.Tokens, c.call(ctx, "GET", "/api/v1/tokens", nil, &out)
}

// RevokeToken revokes a token by id.
func (c *Client) RevokeToken(ctx context.Context, id int64) error {
	return c.call(ctx, "DELETE", "/api/v1/tokens/"+strconv.FormatInt(id, 10), nil, nil)
}

// CreateCommittee creates a committee.
func (c *Client) CreateCommittee(ctx context.Context, key, name string) (*domain.Committee, error) {
	var out domain.Committee
	return &out, c.call(ctx, "POST", "/api/v1/committees", api.NewCommitteeRequest{Key: key, Name: name}, &out)
}

// ListCommittees lists committees.
func (c *Client) ListCommittees(ctx context.Context) ([]domain.Committee, error) {
	var out struct{ Committees []domain.Committee }
	return out.Committees, c.call(ctx, "GET", "/api/v1/committees", nil, &out)
}

// Committee returns a committee with its members and projects.
func (c *Client) Committee(ctx context.Context, key string) (*core.CommitteeDetail, error) {
	var out core.CommitteeDetail
	return &out, c.call(ctx, "GET", "/api/v1/committees/"+esc(key), nil, &out)
}

// SetIncubating marks a committee as incubating, or not (administrators).
func (c *Client) SetIncubating(ctx context.Context, committee string, on bool) error {
	return c.call(ctx, "PUT", "/api/v1/committees/"+esc(committee)+"/incubating", api.IncubatingRequest{Incubating: on}, nil)
}

// AddMember adds a member to a committee (or changes their role).
func (c *Client) AddMember(ctx context.Context, committee, username string, role domain.Role) (*domain.Membership, error) {
	var out domain.Membership
	return &out, c.call(ctx, "PUT", "/api/v1/committees/"+esc(committee)+"/members/"+esc(username), api.MemberRoleRequest{Role: string(role)}, &out)
}

// RemoveMember removes a member from a committee.
func (c *Client) RemoveMember(ctx context.Context, committee, username string) error {
	return c.call(ctx, "DELETE", "/api/v1/committees/"+esc(committee)+"/members/"+esc(username), nil, nil)
}

// CreateProject creates a project in a committee.
func (c *Client) CreateProject(ctx context.Context, key, committee, name string) (*domain.Project, error) {
	var out domain.Project
	return &out, c.call(ctx, "POST", "/api/v1/projects", api.NewProjectRequest{Key: key, Committee: committee, Name: name}, &out)
}

// ListProjects lists projects, optionally of one committee.
func (c *Client) ListProjects(ctx context.Context, committee string) ([]domain.Project, error) {
	var out struct{ Projects []domain.Project }
	q := ""
	if committee != "" {
		q = "?committee=" + url.QueryEscape(committee)
	}
	return out.Projects, c.call(ctx, "GET", "/api/v1/projects"+q, nil, &out)
}

// Project returns one project.
func (c *Client) Project(ctx context.Context, key string) (*domain.Project, error) {
	var out domain.Project
	return &out, c.call(ctx, "GET", "/api/v1/projects/"+esc(key), nil, &out)
}

// StartRelease starts a draft release.
func (c *Client) StartRelease(ctx context.Context, project, version string) (*domain.Release, error) {
	var out domain.Release
	return &out, c.call(ctx, "POST", "/api/v1/projects/"+esc(project)+"/releases", api.NewReleaseRequest{Version: version}, &out)
}

// ListReleases lists a project's releases.
func (c *Client) ListReleases(ctx context.Context, project string) ([]domain.Release, error) {
	var out struct{ Releases []domain.Release }
	return out.Releases, c.call(ctx, "GET", "/api/v1/projects/"+esc(project)+"/releases", nil, &out)
}

// Release returns one release.
func (c *Client) Release(ctx context.Context, project, version string) (*domain.Release, error) {
	var out domain.Release
	return &out, c.call(ctx, "GET", relPath(project, version), nil, &out)
}

// UploadContent streams one file's content to a draft release. The
// content is not part of any revision until CreateRevision references it.
// size may be -1 when unknown.
func (c *Client) UploadContent(ctx context.Context, project, version string, r io.Reader, size int64) (*domain.Blob, error) {
	req, err := c.newRequest(ctx, "POST", relPath(project, version)+"/uploads", r)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	var out domain.Blob
	return &out, c.do(req, &out)
}

// CreateRevision creates a revision from changes to the latest one.
func (c *Client) CreateRevision(ctx context.Context, project, version string, req core.RevisionRequest) (*core.RevisionResult, error) {
	var out core.RevisionResult
	return &out, c.call(ctx, "POST", relPath(project, version)+"/revisions", req, &out)
}

// ListRevisions lists a release's revisions.
func (c *Client) ListRevisions(ctx context.Context, project, version string) ([]domain.Revision, error) {
	var out struct{ Revisions []domain.Revision }
	return out.Revisions, c.call(ctx, "GET", relPath(project, version)+"/revisions", nil, &out)
}

func revSeg(n int) string {
	if n <= 0 {
		return "latest"
	}
	return strconv.Itoa(n)
}

// Revision returns one revision with its files (n <= 0: the latest).
func (c *Client) Revision(ctx context.Context, project, version string, n int) (*domain.Revision, error) {
	var out domain.Revision
	return &out, c.call(ctx, "GET", relPath(project, version)+"/revisions/"+revSeg(n), nil, &out)
}

// Download writes a file of a revision (n <= 0: the latest) to w and
// checks its SHA-256 against the server's manifest while streaming.
func (c *Client) Download(ctx context.Context, project, version string, n int, path string, w io.Writer) (int64, error) {
	segs := strings.Split(path, "/")
	for i := range segs {
		segs[i] = esc(segs[i])
	}
	req, err := c.newRequest(ctx, "GET", relPath(project, version)+"/revisions/"+revSeg(n)+"/files/"+strings.Join(segs, "/"), nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach the trel server at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, decodeResponse(resp, nil)
	}
	h := sha256.New()
	written, err := io.Copy(io.MultiWriter(w, h), resp.Body)
	if err != nil {
		return written, fmt.Errorf("downloading %s: %w", path, err)
	}
	if want := resp.Header.Get("X-Content-SHA256"); want != "" && hex.EncodeToString(h.Sum(nil)) != want {
		return written, fmt.Errorf("downloaded %s does not match its SHA-256 %s: the transfer was corrupted, try again", path, want)
	}
	return written, nil
}

// Notices lists the signed-in user's notices.
func (c *Client) Notices(ctx context.Context) ([]domain.Notice, error) {
	var out struct{ Notices []domain.Notice }
	err := c.call(ctx, "GET", "/api/v1/notices", nil, &out)
	return out.Notices, err
}

// DismissNotice dismisses one of the signed-in user's notices.
func (c *Client) DismissNotice(ctx context.Context, id int64) error {
	return c.call(ctx, "POST", "/api/v1/notices/"+strconv.FormatInt(id, 10)+"/dismiss", nil, nil)
}
