package store

import (
	"context"
	"time"

	"trel/internal/domain"
)

// UXReader holds the lists the browsing pages need: public releases
// across committees, and the audit log page by page with filters.
type UXReader interface {
	// PublicReleases lists releases that are neither drafts nor under
	// embargo, in phase when
	// phase is not "", of one committee (all when committeeID is 0),
	// newest first (published ones by publication time), at most limit.
	PublicReleases(ctx context.Context, committeeID int64, phase domain.Phase, limit int) ([]domain.Release, error)
	// AuditPage returns at most limit audit events matching f, newest
	// first, skipping the first offset.
	AuditPage(ctx context.Context, f AuditFilter, offset, limit int) ([]domain.AuditEvent, error)
	// Setting returns a server setting ("" when it was never set).
	Setting(ctx context.Context, name string) (string, error)
	// VoteRounds lists every vote round of a release, oldest first.
	VoteRounds(ctx context.Context, releaseID int64) ([]domain.VoteRound, error)
}

// UXTx holds the writes of issue 16.
type UXTx interface {
	// DeleteRelease removes a release and everything that hangs off it:
	// revisions and their files, check runs, results and acknowledgements,
	// release managers, vote rounds and votes, signing requests, the
	// upload records and the release's storage usage. The content itself
	// stays for the storage sweep. A table added later that references
	// releases or revisions must be cleared here too (its foreign key
	// otherwise refuses the deletion).
	DeleteRelease(ctx context.Context, releaseID int64) error
	// CancelVoteRound records why a round was cancelled.
	CancelVoteRound(ctx context.Context, releaseID int64, round int, reason string) error
	// SetSetting stores a server setting.
	SetSetting(ctx context.Context, name, value string, at time.Time) error
	// RenamePasskey renames one of the user's passkeys (not found when it
	// is not theirs).
	RenamePasskey(ctx context.Context, userID, passkeyID int64, name string) error
}

// SettingPublicURL is the setting holding the public URL of the server.
const SettingPublicURL = "public_url"

// AuditFilter narrows the audit log; empty fields match everything. Actor
// is an exact username, Action a prefix ("release." for every release
// event), Target a substring.
type AuditFilter struct {
	Actor, Action, Target string
}
