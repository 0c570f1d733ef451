package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// runUploadSessions covers store.UploadSessionReader and
// store.UploadSessionTx: the per-user bounds hold under concurrency, a
// chunk advances a session only from where it is, exactly one of racing
// claims wins, expired sessions are listed for the sweep.
func runUploadSessions(t *testing.T, newStore func(t *testing.T) store.Store, seed seedFunc) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	n := 0
	newSession := func(u *domain.User, r *domain.Release, size int64) *domain.UploadSession {
		n++
		return &domain.UploadSession{ID: fmt.Sprintf("%032x", n), UserID: u.ID, ReleaseID: r.ID, Path: "big.bin", Size: size,
			ChunkSize: 10, StagingKey: fmt.Sprintf("key-%d", n), HashState: []byte{}, ScanState: []byte("{}"), ExpiresAt: now.Add(time.Hour)}
	}
	create := func(t *testing.T, s store.Store, us *domain.UploadSession, maxOpen int, maxBytes int64) bool {
		t.Helper()
		var ok bool
		if err := s.Tx(ctx, func(tx store.Tx) error {
			var err error
			ok, err = tx.CreateUploadSession(ctx, us, maxOpen, maxBytes, now)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}

	t.Run("ok/concurrent starts never exceed the bounds on sessions and bytes", func(t *testing.T) {
		s := newStore(t)
		u, _, _, r := seed(t, s)
		var wg sync.WaitGroup
		var granted atomic.Int32
		for range 12 {
			wg.Go(func() {
				us := newSession(u, r, 100)
				var ok bool
				if err := s.Tx(ctx, func(tx store.Tx) error {
					var err error
					ok, err = tx.CreateUploadSession(ctx, us, 3, 1000, now)
					return err
				}); err != nil {
					t.Error(err)
				}
				if ok {
					granted.Add(1)
				}
			})
		}
		wg.Wait()
		if g := granted.Load(); g != 3 {
			t.Fatalf("%d of 12 concurrent starts got a session, want 3", g)
		}
		// 300 bytes reserved: 701 more pass 1000 (with room for a 4th session).
		if create(t, s, newSession(u, r, 701), 10, 1000) {
			t.Fatal("a session over the reserved bytes was created")
		}
		if !create(t, s, newSession(u, r, 700), 10, 1000) {
			t.Fatal("a session up to the reserved bytes was refused")
		}
		list, err := s.UploadSessions(ctx, u.ID, r.ID, now)
		if err != nil || len(list) != 4 || list[0].ProjectKey == "" || list[0].Version != r.Version || list[0].Username != u.Username {
			t.Fatalf("listing: %d sessions %v (%+v)", len(list), err, list)
		}
		if later, _ := s.UploadSessions(ctx, u.ID, 0, now.Add(2*time.Hour)); len(later) != 0 {
			t.Fatalf("%d expired sessions listed", len(later))
		}
		expired, err := s.ExpiredUploadSessions(ctx, now.Add(2*time.Hour), 2)
		if err != nil || len(expired) != 2 {
			t.Fatalf("expired sessions: %d %v", len(expired), err)
		}
	})

	t.Run("ok/a chunk advances a session only from where it is; one of racing claims wins", func(t *testing.T) {
		s := newStore(t)
		u, _, _, r := seed(t, s)
		us := newSession(u, r, 15)
		us.ExpectRevision = new(int)
		if !create(t, s, us, 5, 100) {
			t.Fatal("refused")
		}
		part := func(off int64) (int, bool) {
			var p int
			var ok bool
			if err := s.Tx(ctx, func(tx store.Tx) error {
				var err error
				p, ok, err = tx.NextUploadPart(ctx, us.ID, off, now)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return p, ok
		}
		advance := func(from, to int64, parts ...domain.StagedPart) bool {
			c := *us
			c.Received, c.Parts, c.HashState, c.ScanState = to, parts, []byte{byte(to)}, []byte(`{"v":1}`)
			var ok bool
			if err := s.Tx(ctx, func(tx store.Tx) error {
				var err error
				ok, err = tx.AdvanceUploadSession(ctx, &c, from, now)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if p1, ok := part(0); !ok || p1 != 1 {
			t.Fatalf("first part: %d %v", p1, ok)
		}
		if p2, ok := part(0); !ok || p2 != 2 {
			t.Fatalf("a second attempt at offset 0: %d %v", p2, ok)
		}
		if _, ok := part(5); ok {
			t.Fatal("a part at the wrong offset was numbered")
		}
		one := domain.StagedPart{Number: 2, ETag: "e2", Size: 10}
		if !advance(0, 10, one) {
			t.Fatal("the chunk was not recorded")
		}
		if advance(0, 10, one) {
			t.Fatal("a chunk from a stale offset was recorded")
		}
		claim := func() bool {
			var ok bool
			if err := s.Tx(ctx, func(tx store.Tx) error {
				var err error
				ok, err = tx.ClaimUploadSession(ctx, us.ID, now, now.Add(-time.Minute))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if claim() {
			t.Fatal("a session with bytes missing was claimed")
		}
		if !advance(10, 15, one, domain.StagedPart{Number: 3, Size: 5}) {
			t.Fatal("the last chunk was not recorded")
		}
		got, err := s.UploadSession(ctx, us.ID)
		if err != nil || got.Received != 15 || len(got.Parts) != 2 || got.Parts[1].Number != 3 || got.HashState[0] != 15 || got.ExpectRevision == nil || *got.ExpectRevision != 0 {
			t.Fatalf("after two chunks: %+v %v", got, err)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				if claim() {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d racing claims won, want 1", wins.Load())
		}
		if _, ok := part(15); ok {
			t.Fatal("a completing session numbered a part")
		}
		if err := s.Tx(ctx, func(tx store.Tx) error {
			gone, err := tx.DeleteUploadSession(ctx, us.ID, domain.SessionOpen, domain.SessionCompleted)
			if gone {
				t.Error("a completing session was deleted by a delete of open and completed ones")
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		rev := 4
		var ok bool
		if err := s.Tx(ctx, func(tx store.Tx) error {
			var err error
			ok, err = tx.FinishUploadSession(ctx, us.ID, "abc", &rev, now)
			return err
		}); err != nil || !ok {
			t.Fatalf("finish: %v %v", ok, err)
		}
		got, _ = s.UploadSession(ctx, us.ID)
		if got.State != domain.SessionCompleted || got.SHA256 != "abc" || got.Revision == nil || *got.Revision != 4 {
			t.Fatalf("completed: %+v", got)
		}
		// A completed session no longer counts against the bound.
		if !create(t, s, newSession(u, r, 100), 1, 100) {
			t.Fatal("a completed session still counts")
		}
		if err := s.Tx(ctx, func(tx store.Tx) error {
			ok, err = tx.DeleteUploadSession(ctx, us.ID)
			return err
		}); err != nil || !ok {
			t.Fatalf("delete: %v %v", ok, err)
		}
		if _, err := s.UploadSession(ctx, us.ID); !domain.IsKind(err, domain.KindNotFound) {
			t.Fatalf("a deleted session: %v", err)
		}
	})
}
