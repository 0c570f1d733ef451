// Package store defines the Store interface through which the core reads and
// writes trel's metadata. The implementation for SQLite (the embedded
// default) lives in package sqlstore and is written in SQL that PostgreSQL
// also accepts; package storetest holds the suite every implementation runs.
package store

import (
	"context"
	"time"

	"trel/internal/domain"
)

// Store is the database. Reads may run anywhere; writes run inside Tx so
// that each change and its audit event commit together.
type Store interface {
	Reader
	// Tx runs fn in one serialisable write transaction: it commits when fn
	// returns nil and rolls back otherwise.
	Tx(ctx context.Context, fn func(Tx) error) error
	// TouchToken records a token's last use outside any transaction.
	TouchToken(ctx context.Context, id int64, at time.Time) error
	Close() error
}

// Reader holds the queries. Lookups of a missing row return a
// domain.KindNotFound error.
type Reader interface {
	AuthorityReader
	RevisionReads

	ContentReader
	IncidentReader
	HeldSigstoreReader
	IncubationReader
	UXReader
	PublisherReader
	NotifyReader
	UploadSessionReader
	UserByUsername(ctx context.Context, username string) (*domain.User, error)
	UserByID(ctx context.Context, id int64) (*domain.User, error)
	ListUsers(ctx context.Context) ([]domain.User, error)
	CountUsers(ctx context.Context) (int, error)

	// TokenByHash returns a token and its owner (one query: every API
	// request asks).
	TokenByHash(ctx context.Context, hash []byte) (*domain.Token, *domain.User, error)
	ListTokens(ctx context.Context, userID int64) ([]domain.Token, error)

	CommitteeByKey(ctx context.Context, key string) (*domain.Committee, error)
	ListCommittees(ctx context.Context) ([]domain.Committee, error)
	Members(ctx context.Context, committeeID int64) ([]domain.Membership, error)
	// Roles returns the user's role in each committee, by committee ID.
	Roles(ctx context.Context, userID int64) (map[int64]domain.Role, error)

	ProjectByKey(ctx context.Context, key string) (*domain.Project, error)
	// ListProjects lists all projects, or one committee's when committeeID > 0.
	ListProjects(ctx context.Context, committeeID int64) ([]domain.Project, error)

	ReleaseByVersion(ctx context.Context, projectID int64, version string) (*domain.Release, error)
	ListReleases(ctx context.Context, projectID int64) ([]domain.Release, error)

	// Revision returns one revision with its files, sorted by path.
	Revision(ctx context.Context, releaseID int64, number int) (*domain.Revision, error)
	// ListRevisions returns a release's revisions without files, oldest first.
	ListRevisions(ctx context.Context, releaseID int64) ([]domain.Revision, error)

	Blob(ctx context.Context, sha256 string) (*domain.Blob, error)
	// UploadedTo reports whether the blob was uploaded to this release (a
	// revision may only reference content its writers actually sent).
	UploadedTo(ctx context.Context, releaseID int64, sha256 string) (bool, error)

	ListAudit(ctx context.Context, limit int) ([]domain.AuditEvent, error)

	// Key returns a key (also a soft-deleted one) with its subkeys and
	// committee links.
	Key(ctx context.Context, fingerprint string) (*domain.Key, error)
	// KeysByKeyID finds non-deleted keys whose primary key or a subkey has
	// the given 16-hex-digit key ID.
	KeysByKeyID(ctx context.Context, keyID string) ([]domain.Key, error)
	// CommitteeKeys lists the keys linked to a committee (deleted ones only
	// when includeDeleted), sorted by fingerprint.
	CommitteeKeys(ctx context.Context, committeeID int64, includeDeleted bool) ([]domain.Key, error)
	// UserKeys lists the keys a user owns or uploaded, not deleted.
	UserKeys(ctx context.Context, userID int64) ([]domain.Key, error)
	// OpenChallenge returns the newest unused challenge of the user for the key.
	OpenChallenge(ctx context.Context, userID int64, fingerprint string) (*domain.Challenge, error)

	CheckRun(ctx context.Context, revisionID int64) (*domain.CheckRun, error)
	// QueuedRuns lists revisions whose checks are queued or were running
	// (for re-enqueueing after a restart).
	QueuedRuns(ctx context.Context) ([]int64, error)
	CheckResults(ctx context.Context, revisionID int64) ([]domain.CheckResult, error)
	// ReusableResults returns earlier results with identical inputs, in idx order.
	ReusableResults(ctx context.Context, checker string, version int, inputsHash string) ([]domain.CheckResult, error)
	// RevisionByID returns a revision with its files.
	RevisionByID(ctx context.Context, id int64) (*domain.Revision, error)
	// ReleaseByID returns a release.
	ReleaseByID(ctx context.Context, id int64) (*domain.Release, error)
	// UploadTimes maps each content digest uploaded to the release to the
	// time it was first uploaded there.
	UploadTimes(ctx context.Context, releaseID int64) (map[string]time.Time, error)
	// SigstoreIdentities lists a project's trusted identities.
	SigstoreIdentities(ctx context.Context, projectID int64) ([]domain.SigstoreIdentity, error)
	// PersonalIdentities lists the personal identities of the given users
	// (all users when userIDs is nil).
	PersonalIdentities(ctx context.Context, userIDs []int64) ([]domain.SigstoreIdentity, error)
	SigstoreKeys(ctx context.Context, projectID int64) ([]domain.SigstoreKey, error)

	// Policy returns a project's newest policy, or the default (version 0).
	Policy(ctx context.Context, projectID int64) (*domain.Policy, error)
	// PolicyHistory lists every version of a project's policy, newest first.
	PolicyHistory(ctx context.Context, projectID int64) ([]domain.Policy, error)
	// ReleaseManagers maps user id to username for a release's managers.
	ReleaseManagers(ctx context.Context, releaseID int64) (map[int64]string, error)
	Acks(ctx context.Context, revisionID int64) ([]domain.Ack, error)
	// CurrentVote returns the newest vote round of a release.
	CurrentVote(ctx context.Context, releaseID int64) (*domain.VoteRound, error)
	Votes(ctx context.Context, releaseID int64, round int) ([]domain.Vote, error)

	// ServerKey returns a server-held signing key.
	ServerKey(ctx context.Context, fingerprint string) (*domain.ServerKey, error)
	// ServerKeys lists a user's server-held keys (all users' when userID is 0).
	ServerKeys(ctx context.Context, userID int64) ([]domain.ServerKey, error)
	SigningRequest(ctx context.Context, id int64) (*domain.SigningRequest, error)
	// SigningEvents lists the signing attempts made with a key, newest first.
	SigningEvents(ctx context.Context, fingerprint string) ([]domain.SigningEvent, error)

	// OpenDraftRevisions returns the latest revision id of every open
	// release (draft, candidate or preview) of a committee (0 = all
	// committees): what a change of keys, members or identities re-checks.
	OpenDraftRevisions(ctx context.Context, committeeID int64) ([]int64, error)
}

// Tx is a write transaction.
type Tx interface {
	Reader
	AuthorityWriter
	RateCounter
	ContentTx
	IncidentTx
	HeldSigstoreWriter
	IncubationWriter
	UploadLeases
	UXTx
	PublisherWriter
	TokenLineageTx
	PublisherPinTx
	NotifyTx
	UploadSessionTx
	CreateUser(ctx context.Context, u *domain.User) error
	CreateToken(ctx context.Context, t *domain.Token) error
	RevokeToken(ctx context.Context, userID, tokenID int64, at time.Time) error

	CreateCommittee(ctx context.Context, c *domain.Committee) error
	PutMembership(ctx context.Context, committeeID, userID int64, role domain.Role, since time.Time) error
	DeleteMembership(ctx context.Context, committeeID, userID int64) error

	CreateProject(ctx context.Context, p *domain.Project) error
	CreateRelease(ctx context.Context, r *domain.Release) error
	// LockRelease serialises writers of one release until the transaction ends.
	LockRelease(ctx context.Context, releaseID int64) error
	// CreateRevision stores rev (with its full manifest) and sets rev.ID.
	// The caller has chosen rev.Number while holding LockRelease.
	CreateRevision(ctx context.Context, rev *domain.Revision) error

	PutBlob(ctx context.Context, b domain.Blob) error
	RecordUpload(ctx context.Context, releaseID int64, sha256 string, userID int64, at time.Time) error

	// PutKey inserts or replaces a key's summary, armored text and
	// subkeys; ownership, links and deletion are kept.
	PutKey(ctx context.Context, k *domain.Key) error
	SetKeyOwner(ctx context.Context, fingerprint string, ownerID int64, proof string, at time.Time) error
	SoftDeleteKey(ctx context.Context, fingerprint string, at time.Time) error
	MarkKeyHistoric(ctx context.Context, fingerprint string) error
	LinkKey(ctx context.Context, link domain.CommitteeKey, byUserID int64) error
	UnlinkKey(ctx context.Context, committeeID int64, fingerprint string) error
	CreateChallenge(ctx context.Context, c *domain.Challenge) error
	UseChallenge(ctx context.Context, id int64, at time.Time) error

	// QueueCheckRun marks a revision's checks as queued (a new generation).
	QueueCheckRun(ctx context.Context, revisionID int64, at time.Time) (*domain.CheckRun, error)
	// StartCheckRun marks the run running if it is still at generation gen.
	StartCheckRun(ctx context.Context, revisionID int64, gen int, at time.Time) (bool, error)
	// FinishCheckRun replaces the revision's results and marks the run
	// done, unless a newer generation was queued meanwhile (then it reports false).
	FinishCheckRun(ctx context.Context, revisionID int64, gen int, results []domain.CheckResult, at time.Time) (bool, error)

	// AddSigstoreIdentity stores id for the project (projectID > 0) or as
	// the personal identity of id.UserID.
	AddSigstoreIdentity(ctx context.Context, projectID int64, id *domain.SigstoreIdentity, by int64, at time.Time) error
	// RemoveSigstoreIdentity removes a project's (projectID > 0) or a
	// user's (userID > 0) identity.
	RemoveSigstoreIdentity(ctx context.Context, projectID, userID, id int64) error
	AddSigstoreKey(ctx context.Context, projectID int64, k *domain.SigstoreKey, by int64, at time.Time) error
	RemoveSigstoreKey(ctx context.Context, projectID, id int64) error
	// OpenProjectRevisions returns the latest revision id of every open
	// release (draft, candidate or preview) of a project.
	OpenProjectRevisions(ctx context.Context, projectID int64) ([]int64, error)

	// PutPolicy stores a new version of a project's policy and sets p.Version.
	PutPolicy(ctx context.Context, projectID int64, p *domain.Policy, by int64, at time.Time) error
	AddReleaseManager(ctx context.Context, releaseID, userID int64, at time.Time) error
	PutAck(ctx context.Context, revisionID int64, a domain.Ack, userID int64) error
	StartVote(ctx context.Context, releaseID int64, v domain.VoteRound, by int64) error
	PutVote(ctx context.Context, releaseID int64, round int, userID int64, v domain.Vote) error
	ResolveVote(ctx context.Context, releaseID int64, round int, passed bool, by int64, at time.Time) error
	SetPhase(ctx context.Context, releaseID int64, phase domain.Phase, at time.Time) error

	PutServerKey(ctx context.Context, k *domain.ServerKey) error
	// UpdateServerKey stores the mutable fields: sealed blob, revocation
	// and retirement (the password counters have their own statements).
	UpdateServerKey(ctx context.Context, k *domain.ServerKey) error
	CreateSigningRequest(ctx context.Context, r *domain.SigningRequest) error
	// UseSigningRequest marks a request used; a second use is a conflict.
	UseSigningRequest(ctx context.Context, id int64, at time.Time) error
	AddSigningEvent(ctx context.Context, ev *domain.SigningEvent) error

	Audit(ctx context.Context, ev domain.AuditEvent) error
}
