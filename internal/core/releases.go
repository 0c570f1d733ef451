package core

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"trel/internal/domain"
	"trel/internal/secrets"
	"trel/internal/store"
)

// StartRelease creates a draft release of a project.
func (s *Service) StartRelease(ctx context.Context, a *Actor, projectKey, version string) (*domain.Release, error) {
	return s.startRelease(ctx, a, projectKey, version, nil)
}

// startRelease creates a draft; inTx, if set, runs in its transaction.
func (s *Service) startRelease(ctx context.Context, a *Actor, projectKey, version string, inTx func(tx store.Tx, r *domain.Release) error) (*domain.Release, error) {
	p, err := s.store.ProjectByKey(ctx, projectKey)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeIn(ctx, a, OpStartRelease, p); err != nil {
		return nil, err
	}
	if err := domain.ValidateVersion(version); err != nil {
		return nil, err
	}
	if a.User == nil && a.Workload == nil {
		return nil, domain.Errorf(domain.KindInvalid, "a release must be started by a user, not by the system")
	}
	r := &domain.Release{ProjectID: p.ID, ProjectKey: p.Key, CommitteeID: p.CommitteeID, CommitteeKey: p.CommitteeKey,
		Version: version, Phase: domain.PhaseDraft, CreatedBy: a.name(), CreatedAt: s.now()}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateRelease(ctx, r); err != nil {
			return err
		}
		// Whoever starts a release is its first release manager (a CI
		// workflow is not: it acts by its publisher's actions).
		if a.User != nil {
			if err := tx.AddReleaseManager(ctx, r.ID, a.User.ID, r.CreatedAt); err != nil {
				return err
			}
		}
		if err := s.attribute(ctx, tx, a, r.ID, "release.start", 0); err != nil {
			return err
		}
		if inTx != nil {
			if err := inTx(tx, r); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, a, "release.start", releaseTarget(r), nil)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func releaseTarget(r *domain.Release) string { return "release:" + r.ProjectKey + "/" + r.Version }

// release finds a release and checks that a may perform op on it.
func (s *Service) release(ctx context.Context, a *Actor, op Op, projectKey, version string) (*domain.Release, error) {
	// One query in the usual case; the project is read on its own only to
	// say what is missing (or that the actor may not know).
	rel, err := s.store.ReleaseByKeys(ctx, projectKey, version)
	if domain.IsKind(err, domain.KindNotFound) {
		p, perr := s.store.ProjectByKey(ctx, projectKey)
		if perr != nil {
			return nil, perr
		}
		if authErr := s.authorizeIn(ctx, a, op, p); authErr != nil {
			return nil, authErr
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	p := &domain.Project{ID: rel.ProjectID, Key: rel.ProjectKey, CommitteeID: rel.CommitteeID, CommitteeKey: rel.CommitteeKey}
	// Candidates, previews and published releases are public, unless
	// embargoed before publication; anything else needs the role.
	if authErr := s.authorizeIn(ctx, a, op, p); authErr != nil && (op != OpReadDraft || rel.Hidden()) {
		return nil, authErr
	}
	if workloadBlind(a, rel) {
		return nil, domain.Errorf(domain.KindNotFound, "no release %q of this project: see `trel release list PROJECT`", version)
	}
	return rel, nil
}

// workloadBlind: a CI credential does not see an embargoed release before
// its publication. Only the committee's participants do; a workflow is
// none of them, and its logs are often public.
func workloadBlind(a *Actor, rel *domain.Release) bool {
	return a.Workload != nil && rel.Embargoed && rel.Phase != domain.PhaseReleased
}

// Release returns one release. Drafts are visible to the committee's
// participants only.
func (s *Service) Release(ctx context.Context, a *Actor, projectKey, version string) (*domain.Release, error) {
	return s.release(ctx, a, OpReadDraft, projectKey, version)
}

// ListReleases lists the releases of a project that a may see.
func (s *Service) ListReleases(ctx context.Context, a *Actor, projectKey string) ([]domain.Release, error) {
	p, err := s.store.ProjectByKey(ctx, projectKey)
	if err != nil {
		return nil, err
	}
	all, err := s.store.ListReleases(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	participant := s.authorizeIn(ctx, a, OpReadDraft, p) == nil
	if participant && a.Workload == nil {
		return all, nil
	}
	// Everyone else sees public releases only: not drafts, nor embargoed
	// releases before publication; the project's CI its drafts too.
	var out []domain.Release
	for _, r := range all {
		if !r.Hidden() || (participant && !workloadBlind(a, &r)) {
			out = append(out, r)
		}
	}
	return out, nil
}

// UploadFile streams one file's content into the blob store for a draft
// release. The content only appears in a revision once CreateRevision
// references it, so an interrupted upload leaves no trace in any revision.
// size is the announced size, or -1 when unknown.
func (s *Service) UploadFile(ctx context.Context, a *Actor, projectKey, version string, r io.Reader, size int64) (*domain.Blob, error) {
	rel, err := s.release(ctx, a, OpUpload, projectKey, version)
	if err != nil {
		return nil, err
	}
	return s.putFile(ctx, a, rel, r, size, nil)
}

// putFile is UploadFile once the release is found and a allowed to upload;
// inTx, if set, runs in the transaction that records the file.
func (s *Service) putFile(ctx context.Context, a *Actor, rel *domain.Release, r io.Reader, size int64, inTx func(tx store.Tx) error) (*domain.Blob, error) {
	if size > s.maxFileSize {
		return nil, domain.Errorf(domain.KindTooLarge, "the file is %d bytes, larger than the limit of %d bytes: ask an administrator to raise --max-file-size", size, s.maxFileSize)
	}
	if rel.Phase != domain.PhaseDraft {
		return nil, domain.Errorf(domain.KindConflict, "release %s %s is no longer a draft; its files cannot change", rel.ProjectKey, rel.Version)
	}
	if err := s.checkQuota(rel, size); err != nil {
		return nil, err
	}
	// The secret scanner reads the stream in the same pass as the hashes;
	// it fails the copy at the end at the latest, so nothing is kept.
	scan := secrets.NewReader(r)
	b, err := s.blobs.Put(ctx, scan, s.maxFileSize)
	if f := scan.Found(); f != nil {
		return nil, s.refuseSecret(ctx, rel, a, f)
	}
	if err != nil {
		return nil, err
	}
	if size >= 0 && b.Size != size {
		return nil, domain.Errorf(domain.KindInvalid, "received %d bytes but %d were announced; the upload was incomplete, try again", b.Size, size)
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error { return s.recordContent(ctx, tx, a, rel, b, inTx) })
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// recordContent records uploaded content that the blob store holds (b),
// in the write transaction tx: it checks that the storage sweep did not
// take the bytes meanwhile, charges the quotas, records the clean scan and
// the upload to the release, runs inTx (when set) and audits the upload.
// Every upload, in one request or in a resumable session, ends here.
func (s *Service) recordContent(ctx context.Context, tx store.Tx, a *Actor, rel *domain.Release, b domain.Blob, inTx func(tx store.Tx) error) error {
	if err := tx.QueueUploadCharge(ctx); err != nil {
		return err
	}
	// The storage sweep removes bytes only inside a write transaction
	// after checking that no row names them: if it took these bytes
	// before this transaction, they are gone now.
	if ok, err := s.blobs.Exists(ctx, b.SHA256); err != nil || !ok {
		if err != nil {
			return err
		}
		return domain.Errorf(domain.KindConflict, "the storage sweep removed this content while it was being uploaded; upload it again")
	}
	if err := tx.PutBlob(ctx, b); err != nil {
		return err
	}
	if err := tx.RecordCleanScan(ctx, b.SHA256, secrets.Version, s.now()); err != nil {
		return err
	}
	if err := tx.ChargeUpload(ctx, rel.ID, a.id(), b.SHA256, s.quota, s.now()); err != nil {
		return s.quotaError(rel, err)
	}
	if inTx != nil {
		if err := inTx(tx); err != nil {
			return err
		}
	}
	return s.audit(ctx, tx, a, "file.upload", releaseTarget(rel), map[string]any{"sha256": b.SHA256, "size": b.Size})
}

// Change is one edit in a new revision.
type Change struct {
	Op     string `json:"op"` // "put", "delete" or "move"
	Path   string `json:"path,omitempty"`
	SHA256 string `json:"sha256,omitempty"` // for put: content uploaded with UploadFile
	From   string `json:"from,omitempty"`   // for move
	To     string `json:"to,omitempty"`     // for move
}

// RevisionRequest asks for a new revision made of changes to the latest.
type RevisionRequest struct {
	// ExpectRevision, when set, is the revision the writer saw last; the
	// request fails with a conflict if another revision landed since.
	ExpectRevision *int     `json:"expect_revision,omitempty"`
	Description    string   `json:"description"`
	Changes        []Change `json:"changes"`
}

// RevisionResult is the outcome of CreateRevision.
type RevisionResult struct {
	Revision *domain.Revision `json:"revision"`
	// Created is false when the changes left the files as they were: no
	// revision is made for nothing.
	Created bool `json:"created"`
}

// CreateRevision applies changes to the latest revision and stores the
// result as the next revision, atomically: concurrent writers get
// consecutive numbers and nothing is lost.
func (s *Service) CreateRevision(ctx context.Context, a *Actor, projectKey, version string, req RevisionRequest) (*RevisionResult, error) {
	return s.createRevision(ctx, a, projectKey, version, req, nil)
}

// createRevision is CreateRevision with an optional hook that runs in the
// same transaction once the revision exists (server-side signing writes
// its audit events there).
func (s *Service) createRevision(ctx context.Context, a *Actor, projectKey, version string, req RevisionRequest,
	inTx func(tx store.Tx, rev *domain.Revision) error) (*RevisionResult, error) {
	rel, err := s.release(ctx, a, OpUpload, projectKey, version)
	if err != nil {
		return nil, err
	}
	if len(req.Changes) == 0 {
		return nil, domain.Errorf(domain.KindInvalid, "no changes given: name files to upload, remove or move")
	}
	if len(req.Changes) > domain.MaxFilesPerRev {
		return nil, domain.Errorf(domain.KindInvalid, "too many changes in one revision (at most %d)", domain.MaxFilesPerRev)
	}
	if len(req.Description) > 2000 {
		return nil, domain.Errorf(domain.KindInvalid, "the description is longer than 2000 characters")
	}
	for _, c := range req.Changes {
		if err := validateChange(c); err != nil {
			return nil, err
		}
	}
	var res RevisionResult
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.LockRelease(ctx, rel.ID); err != nil {
			return err
		}
		cur, err := tx.ReleaseByVersion(ctx, rel.ProjectID, rel.Version)
		if err != nil {
			return err
		}
		if cur.Phase != domain.PhaseDraft {
			return domain.Errorf(domain.KindConflict, "release %s %s is no longer a draft; its files cannot change", cur.ProjectKey, cur.Version)
		}
		if req.ExpectRevision != nil && *req.ExpectRevision != cur.LatestRevision {
			return domain.Errorf(domain.KindConflict,
				"the release is at revision %d, not %d as expected: someone else changed it; review `trel files %s %s` and retry with --expect-revision %d",
				cur.LatestRevision, *req.ExpectRevision, cur.ProjectKey, cur.Version, cur.LatestRevision)
		}
		manifest := map[string]domain.File{}
		if cur.LatestRevision > 0 {
			parent, err := tx.Revision(ctx, cur.ID, cur.LatestRevision)
			if err != nil {
				return err
			}
			for _, f := range parent.Files {
				manifest[f.Path] = f
			}
		}
		before := fingerprintManifest(manifest)
		if err := s.applyChanges(ctx, tx, cur, manifest, req.Changes); err != nil {
			return err
		}
		if len(manifest) > domain.MaxFilesPerRev {
			return domain.Errorf(domain.KindInvalid, "a revision may hold at most %d files", domain.MaxFilesPerRev)
		}
		if err := checkTree(manifest); err != nil {
			return err
		}
		if fingerprintManifest(manifest) == before && cur.LatestRevision > 0 {
			parent, err := tx.Revision(ctx, cur.ID, cur.LatestRevision)
			res = RevisionResult{Revision: parent}
			return err
		}
		rev := &domain.Revision{ReleaseID: cur.ID, Number: cur.LatestRevision + 1, Parent: cur.LatestRevision,
			Author: a.name(), AuthorID: a.id(), CreatedAt: s.now(), Description: req.Description, Files: sortedFiles(manifest)}
		if err := tx.CreateRevision(ctx, rev); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "revision.create", releaseTarget(cur), map[string]any{
			"revision": rev.Number, "changes": len(req.Changes), "files": len(rev.Files)}); err != nil {
			return err
		}
		if err := s.attribute(ctx, tx, a, cur.ID, "revision", rev.Number); err != nil {
			return err
		}
		if err := s.queueWebhooks(ctx, tx, cur, domain.EventRevisionCreated, map[string]any{"revision": rev.Number, "files": len(rev.Files), "author": rev.Author}); err != nil {
			return err
		}
		if err := s.queueChecks(ctx, tx, rev.ID); err != nil {
			return err
		}
		if inTx != nil {
			if err := inTx(tx, rev); err != nil {
				return err
			}
		}
		res = RevisionResult{Revision: rev, Created: true}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if res.Created {
		s.notifyChecks()
	}
	return &res, nil
}

func validateChange(c Change) error {
	switch c.Op {
	case "put":
		if err := domain.ValidateNewPath(c.Path); err != nil {
			return err
		}
		if len(c.SHA256) != 64 {
			return domain.Errorf(domain.KindInvalid, "put %q: give the SHA-256 of content uploaded to this release", c.Path)
		}
	case "delete":
		return domain.ValidatePath(c.Path)
	case "move":
		if err := domain.ValidatePath(c.From); err != nil {
			return err
		}
		if err := domain.ValidateNewPath(c.To); err != nil {
			return err
		}
		if c.From == c.To || strings.HasPrefix(c.To, c.From+"/") {
			return domain.Errorf(domain.KindInvalid, "cannot move %q onto itself or into itself", c.From)
		}
	default:
		return domain.Errorf(domain.KindInvalid, "unknown change %q: use put, delete or move", c.Op)
	}
	return nil
}

// applyChanges edits manifest in place. A delete or move of a directory
// applies to every file under it.
func (s *Service) applyChanges(ctx context.Context, tx store.Tx, rel *domain.Release, manifest map[string]domain.File, changes []Change) error {
	for _, c := range changes {
		switch c.Op {
		case "put":
			ok, err := tx.UploadedTo(ctx, rel.ID, c.SHA256)
			if err != nil {
				return err
			}
			if !ok {
				return domain.Errorf(domain.KindInvalid, "put %q: content %s was not uploaded to this release; upload the file first", c.Path, c.SHA256)
			}
			b, err := tx.Blob(ctx, c.SHA256)
			if err != nil {
				return err
			}
			manifest[c.Path] = domain.File{Path: c.Path, Blob: *b}
		case "delete":
			paths := matching(manifest, c.Path)
			if len(paths) == 0 {
				return domain.Errorf(domain.KindNotFound, "cannot remove %q: no such file or directory in the latest revision", c.Path)
			}
			for _, p := range paths {
				delete(manifest, p)
			}
		case "move":
			paths := matching(manifest, c.From)
			if len(paths) == 0 {
				return domain.Errorf(domain.KindNotFound, "cannot move %q: no such file or directory in the latest revision", c.From)
			}
			moved := map[string]domain.File{}
			for _, p := range paths {
				f := manifest[p]
				delete(manifest, p)
				f.Path = c.To + strings.TrimPrefix(p, c.From)
				if err := domain.ValidateNewPath(f.Path); err != nil {
					return err
				}
				moved[f.Path] = f
			}
			for p, f := range moved {
				if _, exists := manifest[p]; exists {
					return domain.Errorf(domain.KindConflict, "cannot move %q to %q: %q already exists; remove it first", c.From, c.To, p)
				}
				manifest[p] = f
			}
		}
	}
	return nil
}

// matching returns the file at p, or every file under directory p.
func matching(manifest map[string]domain.File, p string) []string {
	if _, ok := manifest[p]; ok {
		return []string{p}
	}
	var out []string
	for q := range manifest {
		if strings.HasPrefix(q, p+"/") {
			out = append(out, q)
		}
	}
	sort.Strings(out)
	return out
}

// checkTree refuses a manifest in which one path is both a file and a
// directory, which no file system could hold, or in which two paths are
// the same name on a case-insensitive or normalizing file system.
func checkTree(manifest map[string]domain.File) error {
	paths := make([]string, 0, len(manifest))
	for p := range manifest {
		paths = append(paths, p)
	}
	if pairs := domain.FoldCollisions(paths); len(pairs) > 0 {
		return domain.Errorf(domain.KindConflict, "%q and %q would be the same file on Windows and macOS (they differ only in case or Unicode normalization): remove or rename one of them",
			pairs[0][0], pairs[0][1])
	}
	for p := range manifest {
		for d := p; ; {
			i := strings.LastIndexByte(d, '/')
			if i < 0 {
				break
			}
			d = d[:i]
			if _, clash := manifest[d]; clash {
				return domain.Errorf(domain.KindConflict, "%q cannot be both a file and a directory: remove or rename one of them", d)
			}
		}
	}
	return nil
}

func sortedFiles(manifest map[string]domain.File) []domain.File {
	out := make([]domain.File, 0, len(manifest))
	for _, f := range manifest {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func fingerprintManifest(manifest map[string]domain.File) string {
	var b strings.Builder
	for _, f := range sortedFiles(manifest) {
		fmt.Fprintf(&b, "%s\x00%s\n", f.Path, f.SHA256)
	}
	return b.String()
}

// ListRevisions lists a release's revisions, oldest first.
func (s *Service) ListRevisions(ctx context.Context, a *Actor, projectKey, version string) ([]domain.Revision, error) {
	rel, err := s.release(ctx, a, OpReadDraft, projectKey, version)
	if err != nil {
		return nil, err
	}
	revs, err := s.store.ListRevisions(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	acts, err := s.store.WorkflowActions(ctx, rel.ID)
	withWorkflows(revs, acts)
	return revs, err
}

// Revision returns one revision with its files; number 0 means the latest.
func (s *Service) Revision(ctx context.Context, a *Actor, projectKey, version string, number int) (*domain.Release, *domain.Revision, error) {
	rel, err := s.release(ctx, a, OpReadDraft, projectKey, version)
	if err != nil {
		return nil, nil, err
	}
	if number == 0 {
		number = rel.LatestRevision
	}
	if number == 0 {
		return rel, &domain.Revision{ReleaseID: rel.ID}, nil
	}
	rev, err := s.store.Revision(ctx, rel.ID, number)
	return rel, rev, err
}

// OpenFile opens a file of a revision (0 = latest) for reading.
func (s *Service) OpenFile(ctx context.Context, a *Actor, projectKey, version string, number int, path string) (*domain.File, io.ReadSeekCloser, error) {
	if err := domain.ValidatePath(path); err != nil {
		return nil, nil, err
	}
	rel, err := s.release(ctx, a, OpReadDraft, projectKey, version)
	if err != nil {
		return nil, nil, err
	}
	if number == 0 {
		number = rel.LatestRevision
	}
	noFile := domain.Errorf(domain.KindNotFound, "no file %q in revision %d: see `trel files %s %s`", path, number, projectKey, version)
	if number == 0 {
		return nil, nil, noFile
	}
	f, err := s.store.RevisionFile(ctx, rel.ID, number, path)
	if err != nil {
		return nil, nil, err
	}
	if f == nil {
		return nil, nil, noFile
	}
	rc, err := s.blobs.Open(ctx, f.SHA256)
	if err != nil {
		return nil, nil, err
	}
	return f, rc, nil
}
