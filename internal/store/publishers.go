package store

import (
	"context"
	"time"

	"trel/internal/domain"
)

// PublisherReader reads what trusted publishing keeps beside the project
// policies (which hold the publishers themselves).
type PublisherReader interface {
	// OIDCIssuers lists the issuers trel accepts, by URL.
	OIDCIssuers(ctx context.Context) ([]domain.OIDCIssuer, error)
	// OIDCIssuer returns one issuer (not found: KindNotFound).
	OIDCIssuer(ctx context.Context, url string) (*domain.OIDCIssuer, error)
	// PublisherProjects lists the projects whose policy has a publisher
	// for this repository at this issuer.
	PublisherProjects(ctx context.Context, issuer, repository string) ([]domain.Project, error)
	// PublisherCredential returns an unexpired or expired credential by
	// the hash of its secret, with its workflow run.
	PublisherCredential(ctx context.Context, hash []byte) (*domain.PublisherCredential, error)
	// WorkflowActions lists what workflow runs did to a release, oldest
	// first.
	WorkflowActions(ctx context.Context, releaseID int64) ([]domain.WorkflowAction, error)
}

// PublisherWriter writes it, inside a transaction.
type PublisherWriter interface {
	// AddOIDCIssuer stores a new issuer (an existing URL: KindConflict).
	AddOIDCIssuer(ctx context.Context, is domain.OIDCIssuer) error
	// RemoveOIDCIssuer deletes one (missing: KindNotFound).
	RemoveOIDCIssuer(ctx context.Context, url string) error
	// SetTrustedPublishers replaces the lookup rows of a project by those
	// of its policy's publishers.
	SetTrustedPublishers(ctx context.Context, projectID int64, ps []domain.TrustedPublisher) error
	// UseTokenID records that the token jti of issuer was exchanged and
	// is remembered until expires; false when it was already (a replay).
	// One conditional insert, so two replicas racing with the same token
	// cannot both succeed. Entries expired at now are forgotten first.
	UseTokenID(ctx context.Context, issuer, jti string, expires, now time.Time) (bool, error)
	// CreateWorkflowRun records a run and returns its id.
	CreateWorkflowRun(ctx context.Context, projectID, publisherID int64, run domain.WorkflowRun, at time.Time) (int64, error)
	// CreatePublisherCredential stores a credential (c.ID is set) and
	// deletes credentials that expired before now.
	CreatePublisherCredential(ctx context.Context, c *domain.PublisherCredential, now time.Time) error
	// RecordWorkflowAction notes that run runID did action to a release;
	// the same action and number again changes nothing.
	RecordWorkflowAction(ctx context.Context, releaseID int64, action string, number int, runID int64, at time.Time) error
}
