package client

import (
	"context"
	"strconv"

	"trel/internal/api"
	"trel/internal/core"
	"trel/internal/domain"
)

func skPath(fpr string) string { return "/api/v1/signing-keys/" + esc(fpr) }

// CreateServerKey creates a key held by trel.
func (c *Client) CreateServerKey(ctx context.Context, req core.NewServerKey) (*domain.Key, error) {
	var out domain.Key
	return &out, c.call(ctx, "POST", "/api/v1/signing-keys", req, &out)
}

// ServerKeys lists the caller's keys held by trel.
func (c *Client) ServerKeys(ctx context.Context) ([]domain.ServerKey, error) {
	var out struct{ Keys []domain.ServerKey }
	return out.Keys, c.call(ctx, "GET", "/api/v1/signing-keys", nil, &out)
}

// HeldSigstoreKeys lists the Sigstore public keys of the caller's held keys.
func (c *Client) HeldSigstoreKeys(ctx context.Context) ([]domain.HeldSigstoreKey, error) {
	var out struct{ Keys []domain.HeldSigstoreKey }
	return out.Keys, c.call(ctx, "GET", "/api/v1/signing-keys/sigstore", nil, &out)
}

// ChangeServerKeyPassword re-wraps a held key under a new password.
func (c *Client) ChangeServerKeyPassword(ctx context.Context, fpr, oldPassword, newPassword string) error {
	return c.call(ctx, "POST", skPath(fpr)+"/password", api.PasswordChange{Old: oldPassword, New: newPassword}, nil)
}

// RevokeServerKey revokes a held key.
func (c *Client) RevokeServerKey(ctx context.Context, fpr, password, reason string) error {
	return c.call(ctx, "POST", skPath(fpr)+"/revoke", api.RevokeRequest{Password: password, Reason: reason}, nil)
}

// RetireServerKey retires a held key.
func (c *Client) RetireServerKey(ctx context.Context, fpr string) error {
	return c.call(ctx, "POST", skPath(fpr)+"/retire", nil, nil)
}

// SigningEvents lists every signing attempt with a held key.
func (c *Client) SigningEvents(ctx context.Context, fpr string) ([]domain.SigningEvent, error) {
	var out struct{ Events []domain.SigningEvent }
	return out.Events, c.call(ctx, "GET", skPath(fpr)+"/events", nil, &out)
}

// BeginSigning asks for a signing transaction and its passkey challenge.
func (c *Client) BeginSigning(ctx context.Context, req api.SignRequest) (*api.SignPlan, error) {
	var out api.SignPlan
	return &out, c.call(ctx, "POST", "/api/v1/signing/requests", req, &out)
}

// CompleteSigning finishes a signing request with the assertion and password.
func (c *Client) CompleteSigning(ctx context.Context, id int64, req api.SignCompletion) (*core.SigningResult, error) {
	var out core.SigningResult
	return &out, c.call(ctx, "POST", "/api/v1/signing/requests/"+strconv.FormatInt(id, 10)+"/complete", req, &out)
}

// CreateEnrollment makes a one-time passkey enrollment link (administrators).
func (c *Client) CreateEnrollment(ctx context.Context, username string) (*api.Enrollment, error) {
	var out api.Enrollment
	return &out, c.call(ctx, "POST", "/api/v1/users/"+esc(username)+"/enrollment", nil, &out)
}
