package domain

import (
	"sort"
	"time"
)

// Key is an OpenPGP certificate registered in trel. The armored text is
// the source of truth; the other fields summarise it for listings.
type Key struct {
	Fingerprint string     `json:"fingerprint"`
	KeyID       string     `json:"key_id"`
	Algorithm   string     `json:"algorithm"`
	Bits        int        `json:"bits,omitempty"`
	Curve       string     `json:"curve,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	// RevocationReason is the revocation's reason text; Compromised says
	// whether the revocation invalidates every signature.
	RevocationReason string     `json:"revocation_reason,omitempty"`
	Compromised      bool       `json:"compromised,omitempty"`
	UserIDs          []string   `json:"user_ids"`
	Emails           []string   `json:"emails"`
	Subkeys          []Subkey   `json:"subkeys"`
	Armored          string     `json:"armored,omitempty"`
	OwnerID          int64      `json:"-"`
	Owner            string     `json:"owner,omitempty"` // username, empty when nobody proved ownership
	Proof            string     `json:"proof,omitempty"` // how ownership was proven: "challenge" or "generated"
	ProvenAt         *time.Time `json:"proven_at,omitempty"`
	UploadedBy       string     `json:"uploaded_by"`
	UploadedByID     int64      `json:"-"`
	UploadedAt       time.Time  `json:"uploaded_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	DeletedAt        *time.Time `json:"deleted_at,omitempty"`
	// Historic keys signed something that trel accepted: they stay in
	// KEYS files after deletion so that old signatures can be checked.
	Historic   bool           `json:"historic,omitempty"`
	Committees []CommitteeKey `json:"committees,omitempty"`
}

// HeldByTrel reports whether trel generated the key and holds its secret
// part (it signs only after its owner's passkey approval).
func (k Key) HeldByTrel() bool { return k.Proof == "generated" }

// Subkey is one subkey of a Key.
type Subkey struct {
	Fingerprint string     `json:"fingerprint"`
	KeyID       string     `json:"key_id"`
	Algorithm   string     `json:"algorithm"`
	Bits        int        `json:"bits,omitempty"`
	Curve       string     `json:"curve,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	CanSign     bool       `json:"can_sign"`
}

// CommitteeKey links a key to a committee. Automation keys (a committee's
// CI signing key) are registered as such explicitly, never guessed from
// user-ID text.
type CommitteeKey struct {
	CommitteeID  int64     `json:"-"`
	CommitteeKey string    `json:"committee"`
	Fingerprint  string    `json:"fingerprint"`
	Automation   bool      `json:"automation,omitempty"`
	AddedBy      string    `json:"added_by"`
	AddedAt      time.Time `json:"added_at"`
}

// Challenge is a one-time text a user signs to prove they hold a key.
type Challenge struct {
	ID          int64
	Fingerprint string
	UserID      int64
	Text        string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsedAt      *time.Time
}

// CheckStatus is the outcome of one check, most severe first.
type CheckStatus string

// Check statuses. Exception means the checker itself failed; it is never a
// verdict on the artifact.
const (
	StatusBlocker    CheckStatus = "blocker"
	StatusConcern    CheckStatus = "concern"
	StatusSuggestion CheckStatus = "suggestion"
	StatusNote       CheckStatus = "note"
	StatusException  CheckStatus = "exception"
)

// Severity orders statuses: higher is worse. Exceptions rank just below
// blockers: they must be looked at, but say nothing about the artifact.
func (s CheckStatus) Severity() int {
	switch s {
	case StatusBlocker:
		return 5
	case StatusException:
		return 4
	case StatusConcern:
		return 3
	case StatusSuggestion:
		return 2
	case StatusNote:
		return 1
	}
	return 0
}

// CheckResult is one result of one checker on one path of a revision.
type CheckResult struct {
	Checker        string         `json:"checker"`
	CheckerVersion int            `json:"checker_version"`
	Path           string         `json:"path"`
	InputsHash     string         `json:"inputs_hash"`
	Status         CheckStatus    `json:"status"`
	Message        string         `json:"message"`
	Details        map[string]any `json:"details,omitempty"`
	CreatedAt      time.Time      `json:"created_at"`
	Reused         bool           `json:"reused,omitempty"`
	// Ignored holds the reason of the policy's ignore rule that hides this
	// result; Ack a release manager's acknowledgement of this concern.
	// Neither is stored with the result: both are computed when shown.
	Ignored string `json:"ignored,omitempty"`
	Ack     *Ack   `json:"ack,omitempty"`
}

// CheckRun is the state of the checks of one revision.
type CheckRun struct {
	RevisionID int64      `json:"-"`
	State      string     `json:"state"` // "queued", "running" or "done"
	Generation int        `json:"generation"`
	QueuedAt   time.Time  `json:"queued_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// Check run states.
const (
	RunQueued  = "queued"
	RunRunning = "running"
	RunDone    = "done"
)

// SortCheckResults orders results by severity, then path.
func SortCheckResults(rs []CheckResult) {
	sort.SliceStable(rs, func(i, j int) bool {
		if a, b := rs[i].Status.Severity(), rs[j].Status.Severity(); a != b {
			return a > b
		}
		return rs[i].Path < rs[j].Path
	})
}
