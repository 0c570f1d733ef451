package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// runPublishers: issuers, the publisher lookup, single use of token ids
// (also under concurrency), credentials and workflow attributions.
func runPublishers(t *testing.T, newStore func(t *testing.T) store.Store, seed seedFunc) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	tx := func(t *testing.T, s store.Store, fn func(tx store.Tx) error) error {
		t.Helper()
		return s.Tx(ctx, fn)
	}

	t.Run("ok/issuers: the built-in ones, added and removed", func(t *testing.T) {
		s := newStore(t)
		is, err := s.OIDCIssuers(ctx)
		if err != nil || len(is) != 2 || is[0].URL != domain.GitLabIssuer || is[1].URL != domain.GitHubActionsIssuer || is[1].Kind != "github" {
			t.Fatalf("built-in issuers %+v %v", is, err)
		}
		forgejo := domain.OIDCIssuer{URL: "https://forgejo.example/api/actions", Kind: "github", WebURL: "https://forgejo.example", AddedBy: "admin", AddedAt: now}
		if err := tx(t, s, func(tx store.Tx) error { return tx.AddOIDCIssuer(ctx, forgejo) }); err != nil {
			t.Fatal(err)
		}
		if err := tx(t, s, func(tx store.Tx) error { return tx.AddOIDCIssuer(ctx, forgejo) }); !domain.IsKind(err, domain.KindConflict) {
			t.Fatalf("the same issuer twice: %v", err)
		}
		got, err := s.OIDCIssuer(ctx, forgejo.URL)
		if err != nil || *got != forgejo {
			t.Fatalf("issuer %+v %v", got, err)
		}
		if err := tx(t, s, func(tx store.Tx) error { return tx.RemoveOIDCIssuer(ctx, domain.GitLabIssuer) }); err != nil {
			t.Fatal(err)
		}
		if err := tx(t, s, func(tx store.Tx) error { return tx.RemoveOIDCIssuer(ctx, domain.GitLabIssuer) }); !domain.IsKind(err, domain.KindNotFound) {
			t.Fatalf("removing twice: %v", err)
		}
		if _, err := s.OIDCIssuer(ctx, domain.GitLabIssuer); !domain.IsKind(err, domain.KindNotFound) {
			t.Fatalf("a removed issuer: %v", err)
		}
	})

	t.Run("ok/publisher lookup follows the policy's publishers", func(t *testing.T) {
		s := newStore(t)
		_, _, p, _ := seed(t, s)
		pubs := []domain.TrustedPublisher{{ID: 3, Issuer: domain.GitHubActionsIssuer, Repository: "apache/lib"}, {ID: 5, Issuer: domain.GitLabIssuer, Repository: "apache/lib"}}
		if err := tx(t, s, func(tx store.Tx) error { return tx.SetTrustedPublishers(ctx, p.ID, pubs) }); err != nil {
			t.Fatal(err)
		}
		if ps, err := s.PublisherProjects(ctx, domain.GitHubActionsIssuer, "apache/lib"); err != nil || len(ps) != 1 || ps[0].ID != p.ID || ps[0].CommitteeKey != "alpha" {
			t.Fatalf("lookup %v %v", ps, err)
		}
		if ids, _ := s.PublisherProjects(ctx, domain.GitHubActionsIssuer, "apache/other"); len(ids) != 0 {
			t.Fatalf("another repository found %v", ids)
		}
		if err := tx(t, s, func(tx store.Tx) error { return tx.SetTrustedPublishers(ctx, p.ID, pubs[1:]) }); err != nil {
			t.Fatal(err)
		}
		if ids, _ := s.PublisherProjects(ctx, domain.GitHubActionsIssuer, "apache/lib"); len(ids) != 0 {
			t.Fatalf("a removed publisher is still found: %v", ids)
		}
	})

	t.Run("ok/a token id is used once, also by racing writers", func(t *testing.T) {
		s := newStore(t)
		use := func(jti string, at time.Time) bool {
			var ok bool
			if err := tx(t, s, func(tx store.Tx) error {
				var err error
				ok, err = tx.UseTokenID(ctx, "https://issuer.example", jti, now.Add(5*time.Minute), at)
				return err
			}); err != nil {
				t.Error(err)
			}
			return ok
		}
		if !use("a", now) || use("a", now) {
			t.Fatal("a token id was not single use")
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if use("race", now) {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d of 10 racing exchanges of one token succeeded, want 1", wins)
		}
		// Forgotten once expired (a token that old is refused anyway).
		if !use("a", now.Add(10*time.Minute)) {
			t.Fatal("an expired token id was kept")
		}
	})

	t.Run("ok/runs, credentials and workflow actions round-trip", func(t *testing.T) {
		s := newStore(t)
		u, _, p, r := seed(t, s)
		run := domain.WorkflowRun{Issuer: domain.GitHubActionsIssuer, Kind: "github", Repository: "apache/lib", Workflow: ".github/workflows/release.yml",
			Ref: "refs/tags/v1", SHA: "abc", RunID: "9", RunURL: "https://github.com/apache/lib/actions/runs/9"}
		c := &domain.PublisherCredential{Hash: []byte("0123456789abcdef0123456789abcdef"), UserID: u.ID, Actions: []string{"compose", "publish"},
			CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
		old := &domain.PublisherCredential{Hash: []byte("old-credential-hash-0123456789ab"), UserID: u.ID, Actions: []string{"compose"},
			CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-45 * time.Minute)}
		err := tx(t, s, func(tx store.Tx) error {
			id, err := tx.CreateWorkflowRun(ctx, p.ID, 4, run, now)
			if err != nil {
				return err
			}
			c.RunID, old.RunID = id, id
			if err := tx.CreatePublisherCredential(ctx, old, now.Add(-time.Hour)); err != nil {
				return err
			}
			if err := tx.CreatePublisherCredential(ctx, c, now); err != nil {
				return err
			}
			if err := tx.RecordWorkflowAction(ctx, r.ID, "revision", 1, id, now); err != nil {
				return err
			}
			return tx.RecordWorkflowAction(ctx, r.ID, "revision", 1, id, now.Add(time.Second)) // again: no change
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.PublisherCredential(ctx, c.Hash)
		if err != nil || got.ProjectID != p.ID || got.ProjectKey != p.Key || got.PublisherID != 4 || got.Run != run || len(got.Actions) != 2 || !got.ExpiresAt.Equal(c.ExpiresAt) {
			t.Fatalf("credential %+v %v", got, err)
		}
		if _, err := s.PublisherCredential(ctx, old.Hash); !domain.IsKind(err, domain.KindNotFound) {
			t.Fatalf("an expired credential was kept: %v", err)
		}
		acts, err := s.WorkflowActions(ctx, r.ID)
		if err != nil || len(acts) != 1 || acts[0].Action != "revision" || acts[0].Number != 1 || acts[0].Run != run || !acts[0].At.Equal(now) {
			t.Fatalf("actions %+v %v", acts, err)
		}
	})
}
