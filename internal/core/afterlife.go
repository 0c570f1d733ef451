package core

import (
	"bytes"
	"context"
	"sort"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
	"trel/internal/translog"
)

// A release's life beside and after its phases: embargoed security
// releases, yanks, archiving, and the feed of a project's releases.
//
// Embargo: an embargoed release is visible to its committee's
// participants only (like a draft) in every phase until it is published:
// files, checks, vote and ballots; public listings, webhooks and public
// mailing lists do not hear of it (its vote mail goes to the policy's
// private list). Publication lifts the embargo in the transaction that
// makes the release public.
//
// Yank: a published release that turned out broken stays downloadable and
// verifiable at its URLs, but every listing marks it yanked with the
// reason. Archive: the files leave the downloads tree for the archive tree
// (/archive/...), byte for byte with the same manifest, so verification
// and the public log work against them as before.

// Archiver moves a published release's files from the downloads tree to
// the archive tree (downloads.Mover). Moving again is harmless.
type Archiver interface {
	Archive(ctx context.Context, committee, project, version string, files []domain.File, manifest []byte) error
}

// SetArchiver connects the archive tree.
func (s *Service) SetArchiver(a Archiver) { s.archiver = a }

// Release-manager operations after publication.
const (
	OpManageAfterlife Op = "yank or archive releases"
)

func init() { required[OpManageAfterlife] = levelParticipant }

// StartReleaseOptions are the choices of a new release.
type StartReleaseOptions struct {
	// Embargoed: a security release prepared out of sight until published.
	Embargoed bool `json:"embargoed,omitempty"`
}

// StartReleaseWith creates a draft release, embargoed if asked.
func (s *Service) StartReleaseWith(ctx context.Context, a *Actor, projectKey, version string, opt StartReleaseOptions) (*domain.Release, error) {
	if !opt.Embargoed {
		return s.StartRelease(ctx, a, projectKey, version)
	}
	if a.Workload != nil {
		return nil, domain.Errorf(domain.KindForbidden, "a CI credential may not start an embargoed release: it would not see it (only the committee's participants do); a release manager starts it with `trel release start %s %s --embargoed`",
			domain.SafeText(projectKey), domain.SafeText(version))
	}
	return s.startRelease(ctx, a, projectKey, version, func(tx store.Tx, r *domain.Release) error {
		if err := tx.SetEmbargoed(ctx, r.ID); err != nil {
			return err
		}
		r.Embargoed = true
		return s.audit(ctx, tx, a, "release.embargo", releaseTarget(r), nil)
	})
}

// publishedRelease finds a published release for a release manager.
func (s *Service) publishedRelease(ctx context.Context, a *Actor, projectKey, version, what string) (*domain.Release, error) {
	rel, err := s.releaseManager(ctx, a, projectKey, version, what)
	if err != nil {
		return nil, err
	}
	if rel.Phase != domain.PhaseReleased {
		return nil, domain.Errorf(domain.KindConflict, "release %s %s is in phase %s: only a published release can be %s", rel.ProjectKey, rel.Version, rel.Phase,
			map[string]string{"yank the release": "yanked", "un-yank the release": "un-yanked", "archive the release": "archived"}[what])
	}
	return rel, nil
}

// YankRelease marks a published release yanked with a reason (release
// managers): it stays downloadable and verifiable, and every listing, the
// feed and `trel verify --release` say it is yanked and why.
func (s *Service) YankRelease(ctx context.Context, a *Actor, projectKey, version, reason string) (*domain.Release, error) {
	rel, err := s.publishedRelease(ctx, a, projectKey, version, "yank the release")
	if err != nil {
		return nil, err
	}
	reason, err = domain.ValidateReason("reason", reason)
	if err != nil {
		return nil, err
	}
	if rel.YankedAt != nil {
		return nil, domain.Errorf(domain.KindConflict, "%s %s was yanked on %s already: %s", rel.ProjectKey, rel.Version, rel.YankedAt.UTC().Format(time.RFC3339), rel.YankReason)
	}
	now := s.now()
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := raced(rel, "yanked")(tx.SetYanked(ctx, rel.ID, &now, a.name(), reason)); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "release.yank", releaseTarget(rel), map[string]any{"reason": reason}); err != nil {
			return err
		}
		return s.queueWebhooks(ctx, tx, rel, domain.EventYanked, map[string]any{"reason": reason})
	})
	if err != nil {
		return nil, err
	}
	s.wakeDeliveries()
	return s.store.ReleaseByID(ctx, rel.ID)
}

// UnyankRelease lifts a yank (release managers).
func (s *Service) UnyankRelease(ctx context.Context, a *Actor, projectKey, version string) (*domain.Release, error) {
	rel, err := s.publishedRelease(ctx, a, projectKey, version, "un-yank the release")
	if err != nil {
		return nil, err
	}
	if rel.YankedAt == nil {
		return nil, domain.Errorf(domain.KindConflict, "%s %s is not yanked", rel.ProjectKey, rel.Version)
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := raced(rel, "un-yanked")(tx.SetYanked(ctx, rel.ID, nil, "", "")); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "release.unyank", releaseTarget(rel), map[string]any{"was": rel.YankReason, "yanked_by": rel.YankedBy}); err != nil {
			return err
		}
		return s.queueWebhooks(ctx, tx, rel, domain.EventUnyanked, map[string]any{"was": rel.YankReason})
	})
	if err != nil {
		return nil, err
	}
	s.wakeDeliveries()
	return s.store.ReleaseByID(ctx, rel.ID)
}

// raced turns a conditional update of rel that changed nothing (another
// request did it first) into a conflict.
func raced(rel *domain.Release, what string) func(bool, error) error {
	return func(changed bool, err error) error {
		if err != nil || changed {
			return err
		}
		return domain.Errorf(domain.KindConflict, "%s %s was %s meanwhile by another request", rel.ProjectKey, rel.Version, what)
	}
}

// ArchiveRelease moves a published release's files to the archive tree
// (release managers). Its page, manifest and log entry stay; the page says
// where the files are.
func (s *Service) ArchiveRelease(ctx context.Context, a *Actor, projectKey, version string) (*domain.Release, error) {
	rel, err := s.publishedRelease(ctx, a, projectKey, version, "archive the release")
	if err != nil {
		return nil, err
	}
	if rel.ArchivedAt != nil {
		return nil, domain.Errorf(domain.KindConflict, "%s %s is archived already: its files are in %s", rel.ProjectKey, rel.Version, rel.FilesPath())
	}
	if err := s.archive(ctx, a, rel, ""); err != nil {
		return nil, err
	}
	return s.store.ReleaseByID(ctx, rel.ID)
}

// archive moves rel's files and records it (why: what archived it
// automatically, "" for a person's request).
func (s *Service) archive(ctx context.Context, a *Actor, rel *domain.Release, why string) error {
	if s.archiver == nil {
		return domain.Errorf(domain.KindUnavailable, "this server has no archive tree configured")
	}
	pub, err := s.store.Publication(ctx, rel.ID)
	if err != nil {
		return err
	}
	rev, err := s.store.Revision(ctx, rel.ID, pub.Revision)
	if err != nil {
		return err
	}
	final := append(bytes.Clone(pub.Manifest), '\n')
	if pub.LogIndex != nil {
		if final, err = translog.WithLogIndex(pub.Manifest, *pub.LogIndex); err != nil {
			return domain.Internal("reading the manifest", err)
		}
	}
	// The move is repeatable: a failure half-way is finished by the next
	// attempt; the release counts as archived once both trees are right.
	if err := s.archiver.Archive(ctx, rel.CommitteeKey, rel.ProjectKey, rel.Version, rev.Files, final); err != nil {
		return err
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := raced(rel, "archived")(tx.SetArchived(ctx, rel.ID, s.now(), a.name())); err != nil {
			return err
		}
		details := map[string]any{"files": len(rev.Files)}
		if why != "" {
			details["superseded_by"] = why
		}
		if err := s.audit(ctx, tx, a, "release.archive", releaseTarget(rel), details); err != nil {
			return err
		}
		archived := *rel
		archived.ArchivedAt = new(time.Time)
		return s.queueWebhooks(ctx, tx, &archived, domain.EventArchived, map[string]any{"files_url": s.filesURL(&archived)})
	})
	if err == nil {
		s.wakeDeliveries()
	}
	return err
}

// archivePrevious archives, when the policy says so, the older published
// releases (by version, not by date) of the line of a release just
// published. Failures are logged
// and audited; `trel release archive` finishes them.
func (s *Service) archivePrevious(ctx context.Context, rel *domain.Release) {
	pol, err := s.store.Policy(ctx, rel.ProjectID)
	if err != nil || pol.ArchivePrevious == domain.ArchiveNever {
		return
	}
	depth := map[string]int{domain.ArchiveMinor: 2, domain.ArchiveMajor: 1}[pol.ArchivePrevious]
	line := domain.ReleaseLine(rel.Version, depth)
	if line == "" {
		return
	}
	all, err := s.store.ListReleases(ctx, rel.ProjectID)
	if err != nil {
		s.log.Error("listing releases to archive", "release", releaseTarget(rel), "err", err)
		return
	}
	for i := range all {
		old := &all[i]
		if old.ID == rel.ID || old.Phase != domain.PhaseReleased || old.ArchivedAt != nil || domain.ReleaseLine(old.Version, depth) != line {
			continue
		}
		// Only older releases: a backport or a late patch release of the
		// line does not archive the newer ones.
		if !domain.VersionLess(old.Version, rel.Version) {
			continue
		}
		if old.PublishedAt == nil || old.PublishedAt.After(s.now()) {
			continue
		}
		if err := s.archive(ctx, SystemActor, old, rel.Version); err != nil {
			s.log.Error("archiving a superseded release", "release", releaseTarget(old), "err", err)
			continue
		}
		s.log.Info("archived a superseded release", "release", releaseTarget(old), "superseded_by", rel.Version)
	}
}

// FeedEntry is one published release in a project's feed.
type FeedEntry struct {
	Version     string     `json:"version"`
	State       string     `json:"state"` // released, yanked or archived
	PublishedAt *time.Time `json:"published_at"`
	YankedAt    *time.Time `json:"yanked_at,omitempty"`
	YankReason  string     `json:"yank_reason,omitempty"`
	ArchivedAt  *time.Time `json:"archived_at,omitempty"`
	// Embargoed: the release was prepared under embargo, lifted at this
	// time (its publication).
	EmbargoLiftedAt *time.Time `json:"embargo_lifted_at,omitempty"`
	FilesURL        string     `json:"files_url"`
	ManifestURL     string     `json:"manifest_url"`
	KeysURL         string     `json:"keys_url"`
	ReleaseURL      string     `json:"release_url"`
}

// Feed is the machine-readable list of a project's published releases,
// for mirrors and downstream packagers.
type Feed struct {
	Committee string      `json:"committee"`
	Project   string      `json:"project"`
	Name      string      `json:"name"`
	Releases  []FeedEntry `json:"releases"`
}

func (s *Service) feedEntry(rel *domain.Release) FeedEntry {
	return FeedEntry{Version: rel.Version, State: rel.PublicState(), PublishedAt: rel.PublishedAt, YankedAt: rel.YankedAt,
		YankReason: rel.YankReason, ArchivedAt: rel.ArchivedAt, EmbargoLiftedAt: rel.EmbargoLiftedAt, FilesURL: s.filesURL(rel),
		ManifestURL: s.filesURL(rel) + "trel-release-manifest.json", KeysURL: s.keysURL(rel), ReleaseURL: s.releaseURL(rel)}
}

// ProjectFeed lists a project's published releases, newest first
// (public; nothing of drafts, candidates or embargoed releases).
func (s *Service) ProjectFeed(ctx context.Context, projectKey string) (*Feed, error) {
	p, err := s.store.ProjectByKey(ctx, projectKey)
	if err != nil {
		return nil, err
	}
	all, err := s.store.ListReleases(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	f := &Feed{Committee: p.CommitteeKey, Project: p.Key, Name: p.Name, Releases: []FeedEntry{}}
	for i := range all {
		if all[i].Phase == domain.PhaseReleased {
			f.Releases = append(f.Releases, s.feedEntry(&all[i]))
		}
	}
	sort.SliceStable(f.Releases, func(i, j int) bool {
		a, b := f.Releases[i].PublishedAt, f.Releases[j].PublishedAt
		return a != nil && b != nil && a.After(*b)
	})
	return f, nil
}

// ReleaseFeedEntry is the feed entry of one published release (public):
// what `trel-release-status.json` next to its manifest says.
func (s *Service) ReleaseFeedEntry(ctx context.Context, committee, projectKey, version string) (*FeedEntry, error) {
	p, err := s.store.ProjectByKey(ctx, projectKey)
	if err != nil {
		return nil, err
	}
	rel, err := s.store.ReleaseByVersion(ctx, p.ID, version)
	if err != nil || rel.Phase != domain.PhaseReleased || (committee != "" && rel.CommitteeKey != committee) {
		return nil, domain.Errorf(domain.KindNotFound, "no published release %s %s", domain.SafeText(projectKey), domain.SafeText(version))
	}
	e := s.feedEntry(rel)
	return &e, nil
}
