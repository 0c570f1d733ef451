// Package storetest is the suite every store.Store implementation runs:
// SQLite and PostgreSQL.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// Run exercises a store. newStore returns a fresh, empty, migrated store.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	runIncubation(t, newStore)
	runTokenLineage(t, newStore)
	runPublisherPins(t, newStore)
	runNotify(t, newStore)

	seed := func(t *testing.T, s store.Store) (*domain.User, *domain.Committee, *domain.Project, *domain.Release) {
		t.Helper()
		u := &domain.User{Username: "alice", Email: "alice@example.org", CreatedAt: now}
		c := &domain.Committee{Key: "alpha", Name: "Alpha", CreatedAt: now}
		var p *domain.Project
		var r *domain.Release
		err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			if err := tx.CreateCommittee(ctx, c); err != nil {
				return err
			}
			p = &domain.Project{Key: "alpha-lib", Name: "Lib", CommitteeID: c.ID, CreatedAt: now}
			if err := tx.CreateProject(ctx, p); err != nil {
				return err
			}
			r = &domain.Release{ProjectID: p.ID, ProjectKey: p.Key, Version: "1.0", Phase: domain.PhaseDraft, CreatedBy: "alice", CreatedAt: now}
			return tx.CreateRelease(ctx, r)
		})
		if err != nil {
			t.Fatal(err)
		}
		return u, c, p, r
	}

	t.Run("ok/rows round-trip with their times", func(t *testing.T) {
		s := newStore(t)
		u, c, p, r := seed(t, s)
		gu, err := s.UserByUsername(ctx, "alice")
		if err != nil || gu.ID != u.ID || !gu.CreatedAt.Equal(now) || gu.Email != u.Email {
			t.Fatalf("user: %+v %v", gu, err)
		}
		gp, err := s.ProjectByKey(ctx, "alpha-lib")
		if err != nil || gp.CommitteeKey != c.Key || gp.ID != p.ID {
			t.Fatalf("project: %+v %v", gp, err)
		}
		gr, err := s.ReleaseByVersion(ctx, p.ID, "1.0")
		if err != nil || gr.ID != r.ID || gr.CommitteeKey != "alpha" || gr.CreatedBy != "alice" || gr.LatestRevision != 0 {
			t.Fatalf("release: %+v %v", gr, err)
		}
	})

	t.Run("fail/missing rows are not_found", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.UserByUsername(ctx, "nobody"); !domain.IsKind(err, domain.KindNotFound) {
			t.Fatal(err)
		}
		if _, err := s.CommitteeByKey(ctx, "none"); !domain.IsKind(err, domain.KindNotFound) {
			t.Fatal(err)
		}
		if _, err := s.Revision(ctx, 1, 1); !domain.IsKind(err, domain.KindNotFound) {
			t.Fatal(err)
		}
	})

	t.Run("fail/duplicates are conflicts", func(t *testing.T) {
		s := newStore(t)
		_, _, p, _ := seed(t, s)
		err := s.Tx(ctx, func(tx store.Tx) error {
			return tx.CreateRelease(ctx, &domain.Release{ProjectID: p.ID, ProjectKey: p.Key, Version: "1.0", Phase: domain.PhaseDraft, CreatedBy: "alice", CreatedAt: now})
		})
		if !domain.IsKind(err, domain.KindConflict) {
			t.Fatalf("duplicate release: %v", err)
		}
		err = s.Tx(ctx, func(tx store.Tx) error {
			return tx.CreateUser(ctx, &domain.User{Username: "alice", Email: "x@example.org", CreatedAt: now})
		})
		if !domain.IsKind(err, domain.KindConflict) {
			t.Fatalf("duplicate user: %v", err)
		}
	})

	t.Run("ok/a failed transaction rolls back its writes and its audit event", func(t *testing.T) {
		s := newStore(t)
		boom := errors.New("boom")
		err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.CreateCommittee(ctx, &domain.Committee{Key: "gone", Name: "Gone", CreatedAt: now}); err != nil {
				return err
			}
			if err := tx.Audit(ctx, domain.AuditEvent{Time: now, Actor: "x", Action: "committee.create", Target: "committee:gone"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if _, err := s.CommitteeByKey(ctx, "gone"); !domain.IsKind(err, domain.KindNotFound) {
			t.Fatal("the committee survived the rollback")
		}
		evs, _ := s.ListAudit(ctx, 10)
		if len(evs) != 0 {
			t.Fatal("the audit event survived the rollback")
		}
	})

	t.Run("ok/revisions keep their manifests and blobs their hash states", func(t *testing.T) {
		s := newStore(t)
		u, _, _, r := seed(t, s)
		b := domain.Blob{SHA256: strings.Repeat("a", 64), SHA512: strings.Repeat("b", 128), Size: 3, SHA256State: []byte{1, 2}, SHA512State: []byte{3, 4}}
		err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.PutBlob(ctx, b); err != nil {
				return err
			}
			if err := tx.PutBlob(ctx, b); err != nil { // idempotent
				return err
			}
			if err := tx.RecordUpload(ctx, r.ID, b.SHA256, u.ID, now); err != nil {
				return err
			}
			if err := tx.LockRelease(ctx, r.ID); err != nil {
				return err
			}
			return tx.CreateRevision(ctx, &domain.Revision{ReleaseID: r.ID, Number: 1, AuthorID: u.ID, CreatedAt: now, Description: "d",
				Files: []domain.File{{Path: "b.txt", Blob: b}, {Path: "a.txt", Blob: b}}})
		})
		if err != nil {
			t.Fatal(err)
		}
		rev, err := s.Revision(ctx, r.ID, 1)
		if err != nil || len(rev.Files) != 2 || rev.Files[0].Path != "a.txt" || rev.Author != "alice" {
			t.Fatalf("%+v %v", rev, err)
		}
		if f := rev.Files[1]; f.SHA512 != b.SHA512 || f.Size != 3 || string(f.SHA512State) != string(b.SHA512State) {
			t.Fatalf("file: %+v", f)
		}
		// The narrow reads of check listings, downloads and uploads.
		byVersion, _ := s.ReleaseByVersion(ctx, r.ProjectID, "1.0")
		if got, err := s.ReleaseByKeys(ctx, r.ProjectKey, "1.0"); err != nil || !reflect.DeepEqual(got, byVersion) || got.LatestRevision != 1 {
			t.Fatalf("ReleaseByKeys: %+v %v, want %+v", got, err, byVersion)
		}
		for _, keys := range [][2]string{{r.ProjectKey, "9.9"}, {"no-such-project", "1.0"}} {
			if _, err := s.ReleaseByKeys(ctx, keys[0], keys[1]); !domain.IsKind(err, domain.KindNotFound) {
				t.Fatalf("ReleaseByKeys(%q, %q): %v, want not found", keys[0], keys[1], err)
			}
		}
		if run, err := s.RevisionCheckRun(ctx, r.ID, 1); !domain.IsKind(err, domain.KindNotFound) || !strings.Contains(err.Error(), "no checks") {
			t.Fatalf("RevisionCheckRun before any check: %+v %v", run, err)
		}
		var queued *domain.CheckRun
		if err := s.Tx(ctx, func(tx store.Tx) (err error) { queued, err = tx.QueueCheckRun(ctx, rev.ID, now); return err }); err != nil {
			t.Fatal(err)
		}
		if run, err := s.RevisionCheckRun(ctx, r.ID, 1); err != nil || !reflect.DeepEqual(run, queued) || run.RevisionID != rev.ID {
			t.Fatalf("RevisionCheckRun: %+v %v, want %+v", run, err, queued)
		}
		if _, err := s.RevisionCheckRun(ctx, r.ID, 2); !domain.IsKind(err, domain.KindNotFound) || !strings.Contains(err.Error(), "revision 2") {
			t.Fatalf("RevisionCheckRun of a missing revision: %v", err)
		}
		if f, err := s.RevisionFile(ctx, r.ID, 1, "b.txt"); err != nil || f == nil || f.Path != "b.txt" || f.SHA512 != b.SHA512 || f.Size != 3 ||
			string(f.SHA256State) != string(b.SHA256State) || string(f.SHA512State) != string(b.SHA512State) {
			t.Fatalf("RevisionFile: %+v %v", f, err)
		}
		if f, err := s.RevisionFile(ctx, r.ID, 1, "c.txt"); err != nil || f != nil {
			t.Fatalf("RevisionFile of a missing file: %+v %v", f, err)
		}
		if _, err := s.RevisionFile(ctx, r.ID, 2, "a.txt"); !domain.IsKind(err, domain.KindNotFound) {
			t.Fatalf("RevisionFile of a missing revision: %v", err)
		}
		if ok, _ := s.UploadedTo(ctx, r.ID, b.SHA256); !ok {
			t.Fatal("upload not recorded")
		}
		gr, _ := s.ReleaseByVersion(ctx, r.ProjectID, "1.0")
		if gr.LatestRevision != 1 {
			t.Fatalf("latest revision %d", gr.LatestRevision)
		}
		err = s.Tx(ctx, func(tx store.Tx) error {
			return tx.CreateRevision(ctx, &domain.Revision{ReleaseID: r.ID, Number: 1, AuthorID: u.ID, CreatedAt: now})
		})
		if !domain.IsKind(err, domain.KindConflict) {
			t.Fatalf("a second revision 1: %v", err)
		}
	})

	t.Run("ok/tokens are found by hash and revoked once", func(t *testing.T) {
		s := newStore(t)
		u, _, _, _ := seed(t, s)
		exp := now.Add(time.Hour)
		tok := &domain.Token{UserID: u.ID, Label: "l", Prefix: "trel_abc", Hash: []byte("hash"), CreatedAt: now, ExpiresAt: &exp}
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.CreateToken(ctx, tok) }); err != nil {
			t.Fatal(err)
		}
		got, owner, err := s.TokenByHash(ctx, []byte("hash"))
		if err != nil || got.ID != tok.ID || !got.ExpiresAt.Equal(exp) || got.RevokedAt != nil || owner.ID != u.ID || owner.Username != "alice" {
			t.Fatalf("%+v %+v %v", got, owner, err)
		}
		if err := s.TouchToken(ctx, tok.ID, now); err != nil {
			t.Fatal(err)
		}
		revoke := func() error {
			return s.Tx(ctx, func(tx store.Tx) error { return tx.RevokeToken(ctx, u.ID, tok.ID, now) })
		}
		if err := revoke(); err != nil {
			t.Fatal(err)
		}
		if err := revoke(); !domain.IsKind(err, domain.KindNotFound) {
			t.Fatalf("second revoke: %v", err)
		}
		got, _, _ = s.TokenByHash(ctx, []byte("hash"))
		if got.RevokedAt == nil || got.LastUsedAt == nil {
			t.Fatalf("%+v", got)
		}
	})

	t.Run("ok/memberships upsert and roles are per committee", func(t *testing.T) {
		s := newStore(t)
		u, c, _, _ := seed(t, s)
		put := func(r domain.Role) error {
			return s.Tx(ctx, func(tx store.Tx) error { return tx.PutMembership(ctx, c.ID, u.ID, r, now) })
		}
		if err := put(domain.RoleCommitter); err != nil {
			t.Fatal(err)
		}
		if err := put(domain.RoleMember); err != nil {
			t.Fatal(err)
		}
		roles, err := s.Roles(ctx, u.ID)
		if err != nil || len(roles) != 1 || roles[c.ID] != domain.RoleMember {
			t.Fatalf("%v %v", roles, err)
		}
		ms, _ := s.Members(ctx, c.ID)
		if len(ms) != 1 || ms[0].Username != "alice" || ms[0].CommitteeKey != "alpha" {
			t.Fatalf("%+v", ms)
		}
	})

	t.Run("ok/keys keep subkeys, links, ownership and soft deletion", func(t *testing.T) {
		s := newStore(t)
		u, c, _, _ := seed(t, s)
		exp := now.Add(24 * time.Hour)
		k := &domain.Key{Fingerprint: "AAAA", KeyID: "AA", Algorithm: "EdDSA", Curve: "ed25519", CreatedAt: now, ExpiresAt: &exp,
			UserIDs: []string{"Alice <alice@example.org>"}, Emails: []string{"alice@example.org"}, Armored: "armored",
			UploadedByID: u.ID, UploadedAt: now, UpdatedAt: now,
			Subkeys: []domain.Subkey{{Fingerprint: "BBBB", KeyID: "BB", Algorithm: "EdDSA", CreatedAt: now, CanSign: true}}}
		err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.PutKey(ctx, k); err != nil {
				return err
			}
			if err := tx.LinkKey(ctx, domain.CommitteeKey{CommitteeID: c.ID, Fingerprint: "AAAA", AddedAt: now}, u.ID); err != nil {
				return err
			}
			return tx.SetKeyOwner(ctx, "AAAA", u.ID, "challenge", now)
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Key(ctx, "AAAA")
		if err != nil || got.Owner != "alice" || len(got.Subkeys) != 1 || !got.Subkeys[0].CanSign || len(got.Committees) != 1 || !got.ExpiresAt.Equal(exp) {
			t.Fatalf("%+v %v", got, err)
		}
		byID, _ := s.KeysByKeyID(ctx, "BB")
		if len(byID) != 1 || byID[0].Fingerprint != "AAAA" {
			t.Fatalf("lookup by subkey id: %+v", byID)
		}
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.SoftDeleteKey(ctx, "AAAA", now) }); err != nil {
			t.Fatal(err)
		}
		live, _ := s.CommitteeKeys(ctx, c.ID, false)
		all, _ := s.CommitteeKeys(ctx, c.ID, true)
		if len(live) != 0 || len(all) != 1 {
			t.Fatalf("soft delete: %d live, %d in all", len(live), len(all))
		}
		if byID, _ := s.KeysByKeyID(ctx, "AA"); len(byID) != 0 {
			t.Fatal("a deleted key is still found by key ID")
		}
	})

	t.Run("ok/check runs are generations: an outdated run stores nothing", func(t *testing.T) {
		s := newStore(t)
		u, _, _, r := seed(t, s)
		b := domain.Blob{SHA256: strings.Repeat("c", 64), SHA512: strings.Repeat("d", 128), SHA256State: []byte{1}, SHA512State: []byte{2}}
		rev := &domain.Revision{ReleaseID: r.ID, Number: 1, AuthorID: u.ID, CreatedAt: now, Files: []domain.File{{Path: "a", Blob: b}}}
		var gen1, gen2 *domain.CheckRun
		err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.PutBlob(ctx, b); err != nil {
				return err
			}
			if err := tx.CreateRevision(ctx, rev); err != nil {
				return err
			}
			var err error
			if gen1, err = tx.QueueCheckRun(ctx, rev.ID, now); err != nil {
				return err
			}
			gen2, err = tx.QueueCheckRun(ctx, rev.ID, now)
			return err
		})
		if err != nil || gen2.Generation != gen1.Generation+1 {
			t.Fatalf("%v %+v %+v", err, gen1, gen2)
		}
		res := []domain.CheckResult{{Checker: "x", Path: "a", InputsHash: "h", Status: domain.StatusNote, Message: "m", CreatedAt: now},
			{Checker: "x", Path: "a", InputsHash: "h", Status: domain.StatusConcern, Message: "m2", CreatedAt: now}}
		var stored bool
		s.Tx(ctx, func(tx store.Tx) error {
			var err error
			stored, err = tx.FinishCheckRun(ctx, rev.ID, gen1.Generation, res, now)
			return err
		})
		if stored {
			t.Fatal("an outdated generation stored its results")
		}
		s.Tx(ctx, func(tx store.Tx) error {
			var err error
			stored, err = tx.FinishCheckRun(ctx, rev.ID, gen2.Generation, res, now)
			return err
		})
		got, _ := s.CheckResults(ctx, rev.ID)
		if !stored || len(got) != 2 {
			t.Fatalf("stored %v, %d results", stored, len(got))
		}
		reuse, _ := s.ReusableResults(ctx, "x", 0, "h")
		if len(reuse) != 2 || reuse[1].Status != domain.StatusConcern {
			t.Fatalf("reusable: %+v", reuse)
		}
		if q, _ := s.QueuedRuns(ctx); len(q) != 0 {
			t.Fatalf("queued after finishing: %v", q)
		}
	})

	t.Run("ok/policies are versioned and votes replace earlier votes", func(t *testing.T) {
		s := newStore(t)
		u, _, p, r := seed(t, s)
		def, err := s.Policy(ctx, p.ID)
		if err != nil || def.Version != 0 || def.MinVoteHours != 72 {
			t.Fatalf("default: %+v %v", def, err)
		}
		for _, hours := range []int{1, 0} {
			pol := domain.DefaultPolicy()
			pol.MinVoteHours = hours
			if err := s.Tx(ctx, func(tx store.Tx) error { return tx.PutPolicy(ctx, p.ID, &pol, u.ID, now) }); err != nil {
				t.Fatal(err)
			}
		}
		cur, _ := s.Policy(ctx, p.ID)
		hist, _ := s.PolicyHistory(ctx, p.ID)
		if cur.Version != 2 || cur.MinVoteHours != 0 || len(hist) != 2 || hist[1].MinVoteHours != 1 || cur.UpdatedBy != "alice" {
			t.Fatalf("current %+v, history %d", cur, len(hist))
		}
		err = s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.StartVote(ctx, r.ID, domain.VoteRound{Round: 1, Revision: 1, StartedAt: now, MinHours: 0}, u.ID); err != nil {
				return err
			}
			if err := tx.PutVote(ctx, r.ID, 1, u.ID, domain.Vote{Value: -1, Binding: true, CastAt: now}); err != nil {
				return err
			}
			return tx.PutVote(ctx, r.ID, 1, u.ID, domain.Vote{Value: 1, Binding: true, Comment: "changed my mind", CastAt: now})
		})
		if err != nil {
			t.Fatal(err)
		}
		votes, _ := s.Votes(ctx, r.ID, 1)
		if len(votes) != 1 || votes[0].Value != 1 || votes[0].User != "alice" {
			t.Fatalf("votes: %+v", votes)
		}
		s.Tx(ctx, func(tx store.Tx) error { return tx.ResolveVote(ctx, r.ID, 1, true, u.ID, now) })
		round, err := s.CurrentVote(ctx, r.ID)
		if err != nil || round.Passed == nil || !*round.Passed || round.ResolvedBy != "alice" {
			t.Fatalf("round: %+v %v", round, err)
		}
	})
	t.Run("ok/release authority: deletions stay, roles end, signers and frozen votes are kept", func(t *testing.T) {
		s := newStore(t)
		u, c, _, r := seed(t, s)
		k := &domain.Key{Fingerprint: "CCCC", KeyID: "CC", Algorithm: "EdDSA", CreatedAt: now, UserIDs: []string{}, Emails: []string{},
			Armored: "armored", UploadedByID: u.ID, UploadedAt: now, UpdatedAt: now}
		err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.PutKey(ctx, k); err != nil {
				return err
			}
			if err := tx.SetKeyOwner(ctx, "CCCC", u.ID, "challenge", now); err != nil {
				return err
			}
			if err := tx.SoftDeleteKey(ctx, "CCCC", now); err != nil {
				return err
			}
			return tx.PutKey(ctx, k) // a re-upload
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Key(ctx, "CCCC"); got.DeletedAt == nil || got.Owner != "alice" {
			t.Fatalf("a re-upload undid the deletion: %+v", got)
		}
		if del, _ := s.DeletedKeys(ctx, u.ID); len(del) != 1 {
			t.Fatalf("deleted keys: %+v", del)
		}
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.RestoreKey(ctx, "CCCC") }); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Key(ctx, "CCCC"); got.DeletedAt != nil {
			t.Fatal("not restored")
		}

		err = s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.AddReleaseManager(ctx, r.ID, u.ID, now); err != nil {
				return err
			}
			ended, err := tx.EndReleaseManagerRoles(ctx, c.ID, u.ID)
			if err != nil || len(ended) != 1 || ended[0] != "alpha-lib 1.0" {
				return errors.Join(err, errors.New("ended: "+strings.Join(ended, ",")))
			}
			if err := tx.RemoveReleaseManager(ctx, r.ID, u.ID); !domain.IsKind(err, domain.KindNotFound) {
				return errors.Join(err, errors.New("removing a missing role is not not_found"))
			}
			if err := tx.AddPublishedSigner(ctx, r.ID, "CCCC"); err != nil {
				return err
			}
			if err := tx.AddPublishedSigner(ctx, r.ID, "CCCC"); err != nil { // idempotent
				return err
			}
			v := domain.VoteRound{Round: 1, Revision: 1, StartedAt: now, MinHours: 72, MinBindingPlusOnes: 2, PolicyVersion: 3}
			if err := tx.StartVote(ctx, r.ID, v, u.ID); err != nil {
				return err
			}
			if err := tx.PutVote(ctx, r.ID, 1, u.ID, domain.Vote{Value: 1, Binding: true, CastAt: now}); err != nil {
				return err
			}
			return tx.SetVoteBinding(ctx, r.ID, 1, u.ID, false)
		})
		if err != nil {
			t.Fatal(err)
		}
		if rms, _ := s.ReleaseManagers(ctx, r.ID); len(rms) != 0 {
			t.Fatalf("roles left: %v", rms)
		}
		if signers, _ := s.PublishedSigners(ctx, c.ID); len(signers["CCCC"]) != 1 || signers["CCCC"][0] != "alpha-lib 1.0" {
			t.Fatalf("published signers: %v", signers)
		}
		round, _ := s.CurrentVote(ctx, r.ID)
		votes, _ := s.Votes(ctx, r.ID, 1)
		if round.MinBindingPlusOnes != 2 || len(votes) != 1 || votes[0].Binding || votes[0].UserID != u.ID {
			t.Fatalf("round %+v votes %+v", round, votes)
		}
	})

	t.Run("ok/concurrent writers of one release get consecutive revision numbers", func(t *testing.T) {
		s := newStore(t)
		u, _, _, r := seed(t, s)
		const writers = 20
		errs := make(chan error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- s.Tx(ctx, func(tx store.Tx) error {
					if err := tx.LockRelease(ctx, r.ID); err != nil {
						return err
					}
					cur, err := tx.ReleaseByID(ctx, r.ID)
					if err != nil {
						return err
					}
					return tx.CreateRevision(ctx, &domain.Revision{ReleaseID: r.ID, Number: cur.LatestRevision + 1,
						Parent: cur.LatestRevision, AuthorID: u.ID, CreatedAt: now, Description: fmt.Sprint("writer ", i)})
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("a writer failed: %v", err)
			}
		}
		revs, err := s.ListRevisions(ctx, r.ID)
		if err != nil || len(revs) != writers {
			t.Fatalf("%d revisions, %v", len(revs), err)
		}
		seen := map[string]bool{}
		for i, rev := range revs {
			if rev.Number != i+1 || rev.Parent != i {
				t.Fatalf("revision %d has number %d and parent %d", i+1, rev.Number, rev.Parent)
			}
			seen[rev.Description] = true
		}
		if len(seen) != writers {
			t.Fatalf("only %d distinct writers landed", len(seen))
		}
	})

	t.Run("ok/text sorts in byte order", func(t *testing.T) {
		s := newStore(t)
		u, _, _, r := seed(t, s)
		b := domain.Blob{SHA256: strings.Repeat("c", 64), SHA512: strings.Repeat("d", 128), Size: 1, SHA256State: []byte{1}, SHA512State: []byte{2}}
		// Byte order, as SQLite sorts: a locale-aware collation would put
		// "a-b" after "a/b" and mix upper and lower case.
		paths := []string{"B.txt", "a-b", "a.txt", "a/b", "a_b", "b.txt"}
		err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.PutBlob(ctx, b); err != nil {
				return err
			}
			var files []domain.File
			for _, p := range []string{"b.txt", "a_b", "a/b", "a.txt", "a-b", "B.txt"} {
				files = append(files, domain.File{Path: p, Blob: b})
			}
			return tx.CreateRevision(ctx, &domain.Revision{ReleaseID: r.ID, Number: 1, AuthorID: u.ID, CreatedAt: now, Files: files})
		})
		if err != nil {
			t.Fatal(err)
		}
		rev, err := s.Revision(ctx, r.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range rev.Files {
			got = append(got, f.Path)
		}
		if strings.Join(got, " ") != strings.Join(paths, " ") {
			t.Fatalf("files sorted as %q, want %q", got, paths)
		}
	})

	t.Run("ok/rate counters count every concurrent hit once and restart each window", func(t *testing.T) {
		s := newStore(t)
		const hits = 30
		at := time.Date(2026, 1, 1, 10, 0, 30, 0, time.UTC)
		counts := make(chan int, hits)
		var wg sync.WaitGroup
		for range hits {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var n int
				if err := s.Tx(ctx, func(tx store.Tx) error {
					var err error
					n, _, err = tx.CountHit(ctx, "signin:ip:192.0.2.1", at, time.Minute)
					return err
				}); err != nil {
					t.Error(err)
				}
				counts <- n
			}()
		}
		wg.Wait()
		close(counts)
		seen := map[int]bool{}
		for n := range counts {
			seen[n] = true
		}
		for i := 1; i <= hits; i++ {
			if !seen[i] {
				t.Fatalf("no hit counted as %d: %v", i, seen)
			}
		}
		var n int
		var end time.Time
		s.Tx(ctx, func(tx store.Tx) error {
			var err error
			n, end, err = tx.CountHit(ctx, "signin:ip:192.0.2.1", at.Add(time.Minute), time.Minute)
			return err
		})
		if n != 1 || !end.Equal(time.Date(2026, 1, 1, 10, 2, 0, 0, time.UTC)) {
			t.Fatalf("next window: %d hits, ends %s", n, end)
		}
	})

	runContent(t, newStore, seed)

	runIncident(t, newStore, seed)
	runUploadLeases(t, newStore, seed)
	runUploadSessions(t, newStore, seed)
	runUX(t, newStore, seed)
	runPublishers(t, newStore, seed)
	heldSigstoreCases(t, newStore, now)
}
