package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// runUX covers store.UXReader: public releases across committees, newest
// first and never drafts; the audit log page by page with filters that
// match literally.
func runUX(t *testing.T, newStore func(t *testing.T) store.Store, seed seedFunc) {
	ctx := context.Background()
	t.Run("ok/public releases leave out drafts and filter by committee and phase", func(t *testing.T) {
		s := newStore(t)
		u, c, p, draft := seed(t, s)
		now := time.Now().UTC().Truncate(time.Microsecond)
		other := &domain.Committee{Key: "beta", Name: "Beta", CreatedAt: now}
		var rels []*domain.Release
		err := s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.CreateCommittee(ctx, other); err != nil {
				return err
			}
			op := &domain.Project{Key: "beta-lib", Name: "Beta Lib", CommitteeID: other.ID, CreatedAt: now}
			if err := tx.CreateProject(ctx, op); err != nil {
				return err
			}
			for i, spec := range []struct {
				p     *domain.Project
				phase domain.Phase
			}{{p, domain.PhaseCandidate}, {p, domain.PhaseReleased}, {op, domain.PhaseReleased}, {op, domain.PhaseDraft}, {p, domain.PhaseCandidate}} {
				r := &domain.Release{ProjectID: spec.p.ID, ProjectKey: spec.p.Key, Version: fmt.Sprintf("2.%d", i), Phase: domain.PhaseDraft,
					CreatedBy: u.Username, CreatedAt: now.Add(time.Duration(i) * time.Minute)}
				if err := tx.CreateRelease(ctx, r); err != nil {
					return err
				}
				if err := tx.SetPhase(ctx, r.ID, spec.phase, now); err != nil {
					return err
				}
				rels = append(rels, r)
			}
			// An embargoed candidate is the committee's only.
			return tx.SetEmbargoed(ctx, rels[4].ID)
		})
		if err != nil {
			t.Fatal(err)
		}
		versions := func(committee int64, phase domain.Phase, limit int) []string {
			t.Helper()
			rs, err := s.PublicReleases(ctx, committee, phase, limit)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range rs {
				if r.Phase == domain.PhaseDraft || r.ID == draft.ID || r.ID == rels[4].ID {
					t.Fatalf("a draft or an embargoed release is public: %+v", r)
				}
				out = append(out, r.ProjectKey+" "+r.Version)
			}
			return out
		}
		if got := fmt.Sprint(versions(0, "", 10)); got != "[beta-lib 2.2 alpha-lib 2.1 alpha-lib 2.0]" {
			t.Errorf("all public releases, newest first: %s", got)
		}
		if got := fmt.Sprint(versions(c.ID, "", 10)); got != "[alpha-lib 2.1 alpha-lib 2.0]" {
			t.Errorf("one committee's: %s", got)
		}
		if got := fmt.Sprint(versions(0, domain.PhaseCandidate, 10)); got != "[alpha-lib 2.0]" {
			t.Errorf("open votes: %s", got)
		}
		if got := fmt.Sprint(versions(0, "", 1)); got != "[beta-lib 2.2]" {
			t.Errorf("limit 1: %s", got)
		}
	})

	t.Run("ok/vote rounds keep their ballots and why they were cancelled", func(t *testing.T) {
		s := newStore(t)
		u, _, _, rel := seed(t, s)
		now := time.Now().UTC().Truncate(time.Microsecond)
		err := s.Tx(ctx, func(tx store.Tx) error {
			for round := 1; round <= 2; round++ {
				if err := tx.StartVote(ctx, rel.ID, domain.VoteRound{Round: round, Revision: round, StartedAt: now.Add(time.Duration(round) * time.Hour), MinHours: 72, MinBindingPlusOnes: 3, PolicyVersion: 1}, u.ID); err != nil {
					return err
				}
				if err := tx.PutVote(ctx, rel.ID, round, u.ID, domain.Vote{Value: 1, Binding: true, Comment: fmt.Sprint("round ", round), CastAt: now}); err != nil {
					return err
				}
			}
			if err := tx.ResolveVote(ctx, rel.ID, 1, false, u.ID, now.Add(90*time.Minute)); err != nil {
				return err
			}
			return tx.CancelVoteRound(ctx, rel.ID, 1, "signed by a revoked key: «re-sign»")
		})
		if err != nil {
			t.Fatal(err)
		}
		rounds, err := s.VoteRounds(ctx, rel.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rounds) != 2 || rounds[0].Round != 1 || rounds[0].CancelReason != "signed by a revoked key: «re-sign»" || rounds[0].ResolvedAt == nil ||
			rounds[0].Passed == nil || *rounds[0].Passed || rounds[1].Round != 2 || rounds[1].CancelReason != "" || rounds[1].ResolvedAt != nil || rounds[1].StartedBy != u.Username {
			t.Fatalf("rounds: %+v", rounds)
		}
		cur, err := s.CurrentVote(ctx, rel.ID)
		if err != nil || cur.Round != 2 || cur.CancelReason != "" {
			t.Fatalf("current vote: %+v, %v", cur, err)
		}
		// The ballots of the cancelled round stay.
		if votes, err := s.Votes(ctx, rel.ID, 1); err != nil || len(votes) != 1 || votes[0].Comment != "round 1" {
			t.Fatalf("round 1 ballots: %+v, %v", votes, err)
		}
		if rs, err := s.VoteRounds(ctx, rel.ID+1000); err != nil || len(rs) != 0 {
			t.Fatalf("rounds of another release: %+v, %v", rs, err)
		}
	})

	t.Run("ok/the audit log is read page by page with literal filters", func(t *testing.T) {
		s := newStore(t)
		u, _, _, _ := seed(t, s)
		now := time.Now().UTC()
		events := []domain.AuditEvent{
			{Actor: "alice", ActorID: u.ID, Action: "release.start", Target: "release:alpha-lib/1.0"},
			{Actor: "alice", ActorID: u.ID, Action: "release.vote.start", Target: "release:alpha-lib/1.0"},
			{Actor: "bob", Action: "key.add", Target: "key:ABCD"},
			{Actor: "alice", ActorID: u.ID, Action: "releasex.other", Target: "release:alpha_lib/2.0"},
			{Actor: "system", Action: "release.start", Target: "release:100%/1"},
		}
		err := s.Tx(ctx, func(tx store.Tx) error {
			for i, ev := range events {
				ev.Time = now.Add(time.Duration(i) * time.Second)
				ev.Details = map[string]any{"i": i}
				if err := tx.Audit(ctx, ev); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		page := func(f store.AuditFilter, offset, limit int) string {
			t.Helper()
			evs, err := s.AuditPage(ctx, f, offset, limit)
			if err != nil {
				t.Fatal(err)
			}
			out := ""
			for _, ev := range evs {
				out += fmt.Sprintf("%v ", ev.Details["i"])
			}
			return out
		}
		for _, tc := range []struct {
			name          string
			f             store.AuditFilter
			offset, limit int
			want          string
		}{
			{"newest first", store.AuditFilter{}, 0, 10, "4 3 2 1 0 "},
			{"second page", store.AuditFilter{}, 2, 2, "2 1 "},
			{"past the end", store.AuditFilter{}, 5, 2, ""},
			{"actor is exact", store.AuditFilter{Actor: "alic"}, 0, 10, ""},
			{"actor", store.AuditFilter{Actor: "alice"}, 0, 10, "3 1 0 "},
			{"action is a prefix", store.AuditFilter{Action: "release."}, 0, 10, "4 1 0 "},
			{"target substring", store.AuditFilter{Target: "alpha-lib"}, 0, 10, "1 0 "},
			{"underscore is literal", store.AuditFilter{Target: "alpha_"}, 0, 10, "3 "},
			{"percent is literal", store.AuditFilter{Target: "100%"}, 0, 10, "4 "},
			{"filters combine", store.AuditFilter{Actor: "alice", Action: "release.vote"}, 0, 10, "1 "},
		} {
			if got := page(tc.f, tc.offset, tc.limit); got != tc.want {
				t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
			}
		}
	})
}
