package domain

import "time"

// User is a person (or an automation account) known to trel.
type User struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	Name      string    `json:"name,omitempty"`
	Admin     bool      `json:"admin"`
	CreatedAt time.Time `json:"created_at"`
	// SuspendedAt is set while an administrator has suspended the user:
	// every token, session, enrollment link and server-side signing of
	// theirs is refused, and what they made stays attributed to them.
	SuspendedAt *time.Time `json:"suspended_at,omitempty"`
}

// Token is an API token. The secret itself is never stored: only its hash.
type Token struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	Label      string     `json:"label"`
	Prefix     string     `json:"prefix"` // first characters of the secret, to recognise it
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	Hash       []byte     `json:"-"`
}

// Active reports whether the token may be used at time now.
func (t *Token) Active(now time.Time) bool {
	if t.RevokedAt != nil {
		return false
	}
	return t.ExpiresAt == nil || now.Before(*t.ExpiresAt)
}

// Role is a user's role in one committee.
type Role string

// Committee roles, weakest first.
const (
	RoleCommitter Role = "committer" // a participant: may upload to the committee's drafts
	RoleMember    Role = "member"    // a committee member: creates releases, manages the committee
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case RoleCommitter, RoleMember:
		return Role(s), nil
	}
	return "", Errorf(KindInvalid, "unknown role %q: use member or committer", s)
}

// Committee is a group (a PMC) that owns projects and keys.
type Committee struct {
	ID        int64     `json:"id"`
	Key       string    `json:"key"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Membership links a user to a committee with a role.
type Membership struct {
	CommitteeKey string    `json:"committee"`
	Username     string    `json:"username"`
	UserID       int64     `json:"user_id"`
	Role         Role      `json:"role"`
	Since        time.Time `json:"since"`
}

// Project belongs to one committee and has releases.
type Project struct {
	ID           int64     `json:"id"`
	Key          string    `json:"key"`
	Name         string    `json:"name"`
	CommitteeID  int64     `json:"-"`
	CommitteeKey string    `json:"committee"`
	CreatedAt    time.Time `json:"created_at"`
}

// Phase is where a release is in its lifecycle.
type Phase string

// Release phases.
const (
	PhaseDraft Phase = "draft"
)

// Release is one version of a project.
type Release struct {
	ID             int64     `json:"id"`
	ProjectID      int64     `json:"-"`
	ProjectKey     string    `json:"project"`
	CommitteeID    int64     `json:"-"`
	CommitteeKey   string    `json:"committee"`
	Version        string    `json:"version"`
	Phase          Phase     `json:"phase"`
	CreatedBy      string    `json:"created_by"`
	CreatedAt      time.Time `json:"created_at"`
	LatestRevision int       `json:"latest_revision"` // 0 when nothing was uploaded yet
	ReleaseStatus
}

// Blob describes stored content, addressed by its SHA-256. The hash states
// are the marshalled SHA-256/SHA-512 states after the last byte, so that a
// signature check can finish a hash without reading the content again.
type Blob struct {
	SHA256      string `json:"sha256"`
	SHA512      string `json:"sha512"`
	Size        int64  `json:"size"`
	SHA256State []byte `json:"-"`
	SHA512State []byte `json:"-"`
}

// File is one entry of a revision's manifest.
type File struct {
	Path string `json:"path"`
	Blob
}

// Revision is an immutable snapshot of a release's files.
type Revision struct {
	ID          int64     `json:"-"`
	ReleaseID   int64     `json:"-"`
	Number      int       `json:"number"`
	Parent      int       `json:"parent,omitempty"` // 0 for the first revision
	Author      string    `json:"author"`
	AuthorID    int64     `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
	Description string    `json:"description"`
	Files       []File    `json:"files,omitempty"`
	// Workflow is the CI workflow run that made the revision with a
	// trusted publisher's credential (nil when a person made it).
	Workflow *WorkflowRun `json:"workflow,omitempty"`
}

// AuditEvent records who did what, when. It is written in the same
// transaction as the change it describes.
type AuditEvent struct {
	ID       int64          `json:"id"`
	Time     time.Time      `json:"time"`
	ActorID  int64          `json:"actor_id,omitempty"`
	Actor    string         `json:"actor"`
	Action   string         `json:"action"`
	Target   string         `json:"target"`
	Details  map[string]any `json:"details,omitempty"`
	ClientIP string         `json:"client_ip,omitempty"`
}
