package client

import (
	"context"
	"strconv"

	"trel/internal/api"
	"trel/internal/domain"
)

func sigPath(project string) string { return "/api/v1/projects/" + esc(project) + "/sigstore" }

// SigstoreIdentities lists a project's trusted identities, or your personal
// ones when project is "".
func (c *Client) SigstoreIdentities(ctx context.Context, project string) ([]domain.SigstoreIdentity, error) {
	var out struct{ Identities []domain.SigstoreIdentity }
	path := "/api/v1/me/sigstore/identities"
	if project != "" {
		path = sigPath(project) + "/identities"
	}
	return out.Identities, c.call(ctx, "GET", path, nil, &out)
}

// AddSigstoreIdentity trusts an identity for a project.
func (c *Client) AddSigstoreIdentity(ctx context.Context, project string, id domain.SigstoreIdentity) (*domain.SigstoreIdentity, error) {
	var out domain.SigstoreIdentity
	return &out, c.call(ctx, "POST", sigPath(project)+"/identities", id, &out)
}

// AddPersonalIdentity registers your personal identity.
func (c *Client) AddPersonalIdentity(ctx context.Context, issuer, email string) (*domain.SigstoreIdentity, error) {
	var out domain.SigstoreIdentity
	return &out, c.call(ctx, "POST", "/api/v1/me/sigstore/identities", api.PersonalIdentityRequest{Issuer: issuer, Email: email}, &out)
}

// RemoveSigstoreIdentity removes a project's identity (or a personal one
// when project is "").
func (c *Client) RemoveSigstoreIdentity(ctx context.Context, project string, id int64) error {
	path := "/api/v1/me/sigstore/identities/"
	if project != "" {
		path = sigPath(project) + "/identities/"
	}
	return c.call(ctx, "DELETE", path+strconv.FormatInt(id, 10), nil, nil)
}

// SigstoreKeys lists a project's keys for key-based bundles.
func (c *Client) SigstoreKeys(ctx context.Context, project string) ([]domain.SigstoreKey, error) {
	var out struct{ Keys []domain.SigstoreKey }
	return out.Keys, c.call(ctx, "GET", sigPath(project)+"/keys", nil, &out)
}

// AddSigstoreKey registers a PEM public key.
func (c *Client) AddSigstoreKey(ctx context.Context, project, name string, pem []byte) (*domain.SigstoreKey, error) {
	var out domain.SigstoreKey
	return &out, c.call(ctx, "POST", sigPath(project)+"/keys", api.NewSigstoreKeyRequest{Name: name, PEM: string(pem)}, &out)
}

// RemoveSigstoreKey unregisters a key.
func (c *Client) RemoveSigstoreKey(ctx context.Context, project string, id int64) error {
	return c.call(ctx, "DELETE", sigPath(project)+"/keys/"+strconv.FormatInt(id, 10), nil, nil)
}
