// Package checks runs trel's automated checks on a revision: signatures,
// checksum files, path rules, and the archive and licence checks (package
// rules holds the pure parsers, package archive the archive readers).
//
// A check is a pure function of declared inputs. Each checker plans tasks;
// a task names its inputs, whose hash identifies the result: when an
// earlier run had identical inputs, its result is reused instead of running
// the task again. A checker that panics or exceeds its time becomes an
// "exception" result and the server keeps running.
//
// Signature and checksum checks never read an artifact: signature checks
// finish the SHA-256/SHA-512 hash states saved at upload, and checksum
// checks compare the digests computed at upload. The small metadata files
// (.asc, .sha512, ...) are read once each, and each archive artifact once,
// by the one pass its archive and licence checks share (archives.go).
package checks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"trel/internal/blob"
	"trel/internal/domain"
	"trel/internal/openpgp"
	"trel/internal/secrets"
	"trel/internal/sigstore"
	"trel/internal/store"
)

// Input is everything a checker may look at. Checkers must declare what
// they used in their tasks' inputs.
type Input struct {
	Release  *domain.Release
	Revision *domain.Revision
	// Files by path, for lookups.
	Files map[string]domain.File
	// UploadTimes maps a blob's SHA-256 to when it was first uploaded to
	// this release.
	UploadTimes map[string]time.Time
	// CommitteeKeys are the keys linked to the release's committee.
	CommitteeKeys []KeyInfo
	// LookupKeys finds registered keys by key ID (16 hex digits), to say
	// why a signature by a known but unsuitable key does not count.
	LookupKeys func(ctx context.Context, keyID string) ([]KeyInfo, error)
	// SigstoreIdentities are the identities the project trusts;
	// PersonalIdentities those of the committee's participants (checked to
	// carry the participant's address); SigstoreKeys the project's keys
	// for key-based bundles.
	SigstoreIdentities []domain.SigstoreIdentity
	PersonalIdentities []domain.SigstoreIdentity
	SigstoreKeys       []domain.SigstoreKey
	// HeldSigstoreKeys are the Sigstore keys of keys trel holds for the
	// committee's participants (key-based bundles made after a passkey
	// approval).
	HeldSigstoreKeys []domain.HeldSigstoreKey
	// Policy is the project's release policy; ReleaseManagers the
	// release's managers (user id to username).
	Policy          *domain.Policy
	ReleaseManagers map[int64]string
	// Scanned holds the digests the secret scanner read at upload and
	// found clean.
	Scanned map[string]bool
	// Read returns the content of a small file of the revision.
	Read func(ctx context.Context, f domain.File, max int64) ([]byte, error)
	// Open streams a file, for the rare signature whose hash no saved
	// state covers.
	Open func(ctx context.Context, f domain.File) (io.ReadCloser, error)
	// OpenAt gives random access to a file (the archive checks: a zip's
	// central directory is at its end).
	OpenAt func(ctx context.Context, f domain.File) (io.ReaderAt, io.Closer, error)
	// Incubating: the release's committee is incubating.
	Incubating bool
	Now        time.Time
}

// KeyInfo is a registered key with what the signature check needs to
// decide whether it may sign for the release's committee.
type KeyInfo struct {
	Key  domain.Key
	Cert *openpgp.Cert
	// Linked: the key is linked to the release's committee.
	Linked bool
	// Automation: linked as the committee's automation (CI) key.
	Automation bool
	// OwnerParticipant: the key's proven owner is a member or committer
	// of the release's committee.
	OwnerParticipant bool
}

// fingerprintForInputs describes everything about the key that can change
// a verdict.
func (k KeyInfo) fingerprintForInputs() string {
	h := sha256.Sum256([]byte(k.Key.Armored))
	return fmt.Sprintf("%s|%x|owner=%s|proof=%s|deleted=%v|linked=%v|auto=%v|participant=%v",
		k.Key.Fingerprint, h[:8], k.Key.Owner, k.Key.Proof, k.Key.DeletedAt != nil, k.Linked, k.Automation, k.OwnerParticipant)
}

// Task is one unit of checking, identified by its inputs.
type Task struct {
	Checker string
	Version int
	Path    string
	// Inputs lists every fact the result depends on; its hash decides reuse.
	Inputs []string
	Run    func(ctx context.Context) []Outcome
	// Timeout, when set, replaces TaskTimeout (tasks that read large
	// artifacts).
	Timeout time.Duration
}

// Outcome is what a task found: one or more results for its path.
type Outcome struct {
	// Path, when set, overrides the task's path (a revision-wide task
	// reports on many paths).
	Path    string
	Status  domain.CheckStatus
	Message string
	Details map[string]any
}

func (t Task) inputsHash() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00", t.Checker, t.Version, t.Path)
	for _, in := range t.Inputs {
		fmt.Fprintf(h, "%s\x00", in)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Checker plans the tasks for a revision.
type Checker interface {
	Name() string
	Plan(ctx context.Context, in *Input) ([]Task, error)
}

// All is the list of checkers, in the order their results are shown.
func All(v *sigstore.Verifier) []Checker {
	return []Checker{Paths{}, Checksums{}, Signatures{}, Sigstore{Verifier: v}, Archives{Source: &GitSource{}}}
}

// TaskTimeout bounds one task.
const TaskTimeout = 2 * time.Minute

// runTask runs t, turning a panic or a timeout into an exception.
func runTask(ctx context.Context, t Task) (out []Outcome) {
	timeout := TaskTimeout
	if t.Timeout > 0 {
		timeout = t.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan []Outcome, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- []Outcome{{Status: domain.StatusException,
					Message: fmt.Sprintf("the %s checker failed internally (%v); this says nothing about the file; re-run the checks or report a bug", t.Checker, v),
					Details: map[string]any{"panic": fmt.Sprint(v), "stack": string(debug.Stack())}}}
			}
		}()
		done <- t.Run(ctx)
	}()
	select {
	case out = <-done:
		return out
	case <-ctx.Done():
		return []Outcome{{Status: domain.StatusException,
			Message: fmt.Sprintf("the %s checker did not finish within %s; this says nothing about the file; re-run the checks", t.Checker, timeout)}}
	}
}

// Engine plans and runs the checks of revisions, reusing earlier results.
type Engine struct {
	Store    store.Store
	Blobs    blob.Store
	Checkers []Checker
	Now      func() time.Time
}

// NewEngine returns an engine with every checker; Sigstore bundles are
// verified against v's trusted roots.
func NewEngine(st store.Store, blobs blob.Store, v *sigstore.Verifier) *Engine {
	return &Engine{Store: st, Blobs: blobs, Checkers: All(v), Now: time.Now}
}

// Run checks revision revisionID for generation gen of its check run. It
// reports whether the results were stored (false when a newer run was
// queued meanwhile, which will store its own).
func (e *Engine) Run(ctx context.Context, revisionID int64, gen int) (bool, error) {
	now := e.Now()
	started := false
	if err := e.Store.Tx(ctx, func(tx store.Tx) error {
		var err error
		started, err = tx.StartCheckRun(ctx, revisionID, gen, now)
		return err
	}); err != nil || !started {
		return false, err
	}
	in, err := e.Input(ctx, revisionID)
	if err != nil {
		return false, err
	}
	results := e.Evaluate(ctx, in)
	stored := false
	err = e.Store.Tx(ctx, func(tx store.Tx) error {
		var err error
		stored, err = tx.FinishCheckRun(ctx, revisionID, gen, results, e.Now())
		if err != nil || !stored {
			return err
		}
		// A key that made an accepted signature is kept in KEYS files as
		// historic even after it is deleted.
		for _, r := range results {
			if fpr, _ := r.Details["signer_fingerprint"].(string); r.Checker == "signature" && fpr != "" && r.Status != domain.StatusBlocker {
				if err := tx.MarkKeyHistoric(ctx, fpr); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return stored, err
}

// Evaluate plans every checker and runs the tasks whose inputs are new.
func (e *Engine) Evaluate(ctx context.Context, in *Input) []domain.CheckResult {
	var results []domain.CheckResult
	for _, c := range e.Checkers {
		tasks, err := planSafely(ctx, c, in)
		if err != nil {
			results = append(results, domain.CheckResult{Checker: c.Name(), Path: "", Status: domain.StatusException,
				Message: fmt.Sprintf("the %s checker could not start (%v); re-run the checks or report a bug", c.Name(), err), CreatedAt: e.Now()})
			continue
		}
		for _, t := range tasks {
			hash := t.inputsHash()
			if prev, err := e.Store.ReusableResults(ctx, t.Checker, t.Version, hash); err == nil && len(prev) > 0 && !hasException(prev) {
				for _, r := range prev {
					r.Reused = true
					results = append(results, r)
				}
				continue
			}
			for _, o := range runTask(ctx, t) {
				path := t.Path
				if o.Path != "" {
					path = o.Path
				}
				results = append(results, domain.CheckResult{Checker: t.Checker, CheckerVersion: t.Version, Path: path,
					InputsHash: hash, Status: o.Status, Message: o.Message, Details: o.Details, CreatedAt: e.Now()})
			}
		}
	}
	return append(results, conclude(in, results, e.Now())...)
}

func hasException(rs []domain.CheckResult) bool {
	for _, r := range rs {
		if r.Status == domain.StatusException {
			return true // never reuse a failure of the checker itself
		}
	}
	return false
}

func planSafely(ctx context.Context, c Checker, in *Input) (tasks []Task, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return c.Plan(ctx, in)
}

// Input gathers the declared inputs of a revision.
func (e *Engine) Input(ctx context.Context, revisionID int64) (*Input, error) {
	now := e.Now()
	rev, err := e.Store.RevisionByID(ctx, revisionID)
	if err != nil {
		return nil, err
	}
	rel, err := e.Store.ReleaseByID(ctx, rev.ReleaseID)
	if err != nil {
		return nil, err
	}
	times, err := e.Store.UploadTimes(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	members, err := e.Store.Members(ctx, rel.CommitteeID)
	if err != nil {
		return nil, err
	}
	participants := map[int64]bool{}
	var participantIDs []int64
	for _, m := range members {
		participants[m.UserID] = true
		participantIDs = append(participantIDs, m.UserID)
	}
	projectIDs, err := e.Store.SigstoreIdentities(ctx, rel.ProjectID)
	if err != nil {
		return nil, err
	}
	personal, err := e.Store.PersonalIdentities(ctx, participantIDs)
	if err != nil {
		return nil, err
	}
	// A personal identity counts only while it names the user's address.
	var personalOK []domain.SigstoreIdentity
	for _, id := range personal {
		u, err := e.Store.UserByID(ctx, id.UserID)
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(u.Email, id.Subject) {
			personalOK = append(personalOK, id)
		}
	}
	sigKeys, err := e.Store.SigstoreKeys(ctx, rel.ProjectID)
	if err != nil {
		return nil, err
	}
	held, err := e.Store.HeldSigstoreKeys(ctx, participantIDs)
	if err != nil {
		return nil, err
	}
	pol, err := e.Store.Policy(ctx, rel.ProjectID)
	if err != nil {
		return nil, err
	}
	pubIDs, err := publisherIdentities(ctx, e.Store, rel.ProjectKey, pol)
	if err != nil {
		return nil, err
	}
	projectIDs = append(projectIDs, pubIDs...)
	rms, err := e.Store.ReleaseManagers(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	incubating, err := e.Store.Incubating(ctx, rel.CommitteeID)
	if err != nil {
		return nil, err
	}
	info := func(k domain.Key) (KeyInfo, error) {
		res, err := openpgp.LoadKeys(strings.NewReader(k.Armored))
		if err != nil || len(res.Certs) != 1 {
			return KeyInfo{}, fmt.Errorf("stored key %s cannot be parsed: %v", k.Fingerprint, err)
		}
		ki := KeyInfo{Key: k, Cert: res.Certs[0], OwnerParticipant: k.OwnerID != 0 && participants[k.OwnerID]}
		for _, l := range k.Committees {
			if l.CommitteeID == rel.CommitteeID {
				ki.Linked, ki.Automation = true, l.Automation
			}
		}
		return ki, nil
	}
	keys, err := e.Store.CommitteeKeys(ctx, rel.CommitteeID, false)
	if err != nil {
		return nil, err
	}
	var infos []KeyInfo
	for _, k := range keys {
		ki, err := info(k)
		if err != nil {
			return nil, err
		}
		infos = append(infos, ki)
	}
	files := map[string]domain.File{}
	var digests []string
	for _, f := range rev.Files {
		files[f.Path] = f
		digests = append(digests, f.SHA256)
	}
	scanned, err := e.Store.CleanScans(ctx, digests, secrets.Version)
	if err != nil {
		return nil, err
	}
	return &Input{
		Release: rel, Revision: rev, Files: files, UploadTimes: times, CommitteeKeys: infos, Now: now,
		SigstoreIdentities: projectIDs, PersonalIdentities: personalOK, SigstoreKeys: sigKeys, HeldSigstoreKeys: held,
		Policy: pol, ReleaseManagers: rms, Scanned: scanned,
		LookupKeys: func(ctx context.Context, keyID string) ([]KeyInfo, error) {
			ks, err := e.Store.KeysByKeyID(ctx, keyID)
			if err != nil {
				return nil, err
			}
			var out []KeyInfo
			for _, k := range ks {
				ki, err := info(k)
				if err != nil {
					return nil, err
				}
				out = append(out, ki)
			}
			return out, nil
		},
		Read: func(ctx context.Context, f domain.File, max int64) ([]byte, error) {
			if f.Size > max {
				return nil, fmt.Errorf("%s is %d bytes, more than the %d expected for this kind of file", f.Path, f.Size, max)
			}
			rc, err := e.Blobs.Open(ctx, f.SHA256)
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			return io.ReadAll(io.LimitReader(rc, max))
		},
		Open: func(ctx context.Context, f domain.File) (io.ReadCloser, error) { return e.Blobs.Open(ctx, f.SHA256) },
		OpenAt: func(ctx context.Context, f domain.File) (io.ReaderAt, io.Closer, error) {
			rc, err := e.Blobs.Open(ctx, f.SHA256)
			if err != nil {
				return nil, nil, err
			}
			return ReaderAt(rc), rc, nil
		},
		Incubating: incubating,
	}, nil
}

// ReaderAt gives random access to a blob: directly when it supports it
// (a local file; a store with ranged reads), else by seeking (one reader at
// a time).
func ReaderAt(r io.ReadSeeker) io.ReaderAt {
	if ra, ok := r.(io.ReaderAt); ok {
		return ra
	}
	return &seekReaderAt{r: r}
}

type seekReaderAt struct {
	mu sync.Mutex
	r  io.ReadSeeker
}

func (s *seekReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.r.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(s.r, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

// Summary counts results by status.
func Summary(rs []domain.CheckResult) map[domain.CheckStatus]int {
	out := map[domain.CheckStatus]int{}
	for _, r := range rs {
		out[r.Status]++
	}
	return out
}
