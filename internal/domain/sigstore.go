package domain

import "time"

// SigstoreIdentity is a signer a project trusts for Sigstore bundles, or a
// user's personal identity. The matching rules live in package sigstore.
type SigstoreIdentity struct {
	ID      int64  `json:"id"`
	Project string `json:"project,omitempty"` // set for a project's identity
	User    string `json:"user,omitempty"`    // set for a personal identity
	UserID  int64  `json:"-"`

	Issuer                     string `json:"issuer"`
	Subject                    string `json:"subject,omitempty"`
	SubjectRegexp              string `json:"subject_regexp,omitempty"`
	SourceRepository           string `json:"source_repository,omitempty"`
	Ref                        string `json:"ref,omitempty"`
	RefRegexp                  string `json:"ref_regexp,omitempty"`
	Workflow                   string `json:"workflow,omitempty"`
	RunnerEnvironment          string `json:"runner_environment,omitempty"`
	ReusableWorkflowRepository string `json:"reusable_workflow_repository,omitempty"`

	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// Problem says why a stored identity no longer matches any signer
	// (its pattern is refused by today's rules); empty when it is sound.
	Problem string `json:"problem,omitempty"`
}

// SigstoreKey is a public key a project trusts for key-based bundles.
type SigstoreKey struct {
	ID          int64     `json:"id"`
	Project     string    `json:"project"`
	Name        string    `json:"name"`
	Fingerprint string    `json:"fingerprint"`
	PEM         string    `json:"pem"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
}
