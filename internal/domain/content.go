package domain

import (
	"fmt"
	"time"
)

// Quota limits the bytes stored for a release and for a user; 0 means no
// limit. Usage counts every distinct content uploaded to a release (once per
// release), and for a user the content they first uploaded to each release.
type Quota struct {
	Release int64
	User    int64
}

// StorageUsage is what a release and a user use, in bytes.
type StorageUsage struct {
	Release int64 `json:"release"`
	User    int64 `json:"user"`
}

// Publication states.
const (
	PublicationPublishing = "publishing" // recorded, the tree may be half written
	PublicationPublished  = "published"
)

// Publication is a release's way into the downloads tree. It is recorded
// before the tree is written, so that an interrupted publication can be
// finished: Manifest is the manifest as logged (before its log_index was
// filled in), LogFrom the log's next index when it started (a crash after
// the append is found from there), LogIndex the entry once known.
type Publication struct {
	ReleaseID    int64
	State        string
	Revision     int
	Manifest     []byte
	LogFrom      uint64
	LogIndex     *uint64
	StartedByID  int64
	StartedAt    time.Time
	ClaimedUntil time.Time
	FinishedAt   *time.Time
}

// QuotaExceeded is the cause of the KindTooLarge error of an upload that
// would pass a storage quota.
type QuotaExceeded struct {
	Scope string // "release" or "user"
	Limit int64  // the quota
	Used  int64  // what is used already
	Size  int64  // the upload
}

func (q *QuotaExceeded) Error() string {
	who := "the release"
	if q.Scope == "user" {
		who = "your uploads"
	}
	return fmt.Sprintf("this upload (%s) would bring %s to %s, over the storage quota of %s (%s used now)",
		HumanSize(q.Size), who, HumanSize(q.Used+q.Size), HumanSize(q.Limit), HumanSize(q.Used))
}
