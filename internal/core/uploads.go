package core

import (
	"context"
	"io"
	"sync"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// DefaultUploadsPerUser bounds one user's concurrent uploads when nothing
// is configured.
const DefaultUploadsPerUser = 4

// An upload holds a lease in the database (store.UploadLeases) for as long
// as it runs, renewed every uploadLeaseRenew; a process that dies stops
// renewing, and its leases stop counting uploadLeaseTTL later (at once
// when the same replica starts again: DropUploadLeases).
const (
	uploadLeaseTTL   = 2 * time.Minute
	uploadLeaseRenew = 30 * time.Second
	// uploadRetryAfter is the hint a refused upload gets.
	uploadRetryAfter = 5 * time.Second
)

// Upload is an upload that PrepareUpload authorised: it holds one of the
// actor's upload leases until Done, or until PutLast stored its file.
type Upload struct {
	s       *Service
	a       *Actor
	rel     *domain.Release
	lease   int64
	stop    chan struct{}
	once    sync.Once
	dropped bool // the lease ended with PutLast's file
}

// Put streams one file's content into the blob store, as UploadFile does,
// without finding the release again.
func (u *Upload) Put(ctx context.Context, r io.Reader, size int64) (*domain.Blob, error) {
	return u.s.putFile(ctx, u.a, u.rel, r, size, nil)
}

// PutLast is Put for the upload's last file: the transaction that records
// the file also ends the lease, which saves one.
func (u *Upload) PutLast(ctx context.Context, r io.Reader, size int64) (*domain.Blob, error) {
	b, err := u.s.putFile(ctx, u.a, u.rel, r, size, func(tx store.Tx) error { return tx.DropUploadLease(ctx, u.lease) })
	u.dropped = err == nil
	return b, err
}

// Done ends the upload and gives its lease back if PutLast did not (safe
// to call twice).
func (u *Upload) Done() {
	u.once.Do(func() {
		close(u.stop)
		if u.dropped {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := u.s.store.Tx(ctx, func(tx store.Tx) error { return tx.DropUploadLease(ctx, u.lease) }); err != nil {
			u.s.log.Warn("ending an upload lease (it expires by itself)", "err", err)
		}
	})
}

// PrepareUpload authorises an upload to a draft and takes one of the
// actor's upload leases, before a single byte of the body is read (the
// HTTP layers lift their read deadline only after it). Call Done on the
// returned upload when it ends.
func (s *Service) PrepareUpload(ctx context.Context, a *Actor, projectKey, version string) (*Upload, error) {
	rel, err := s.release(ctx, a, OpUpload, projectKey, version)
	if err != nil {
		return nil, err
	}
	if rel.Phase != domain.PhaseDraft {
		return nil, domain.Errorf(domain.KindConflict, "release %s %s is no longer a draft; its files cannot change", rel.ProjectKey, rel.Version)
	}
	var id int64
	var ok bool
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		now := s.now()
		var err error
		id, ok, err = tx.TakeUploadLease(ctx, a.id(), s.uploadHolder, s.uploadsPerUser, now, now.Add(uploadLeaseTTL))
		return err
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		s.meter.Inc("refusal", "uploads")
		return nil, domain.Busy(uploadRetryAfter, "you already have %d uploads in progress, the most allowed at once: wait for one to finish", s.uploadsPerUser)
	}
	u := &Upload{s: s, a: a, rel: rel, lease: id, stop: make(chan struct{})}
	go s.renewUploadLease(id, u.stop)
	return u, nil
}

// renewUploadLease keeps a lease alive until stop is closed. A failed
// renewal is only logged: the upload goes on, and the lease may expire
// early (the bound is then loose for a moment, never tight).
func (s *Service) renewUploadLease(id int64, stop <-chan struct{}) {
	t := time.NewTicker(uploadLeaseRenew)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := s.store.Tx(ctx, func(tx store.Tx) error { return tx.RenewUploadLease(ctx, id, s.now().Add(uploadLeaseTTL)) })
			cancel()
			if err != nil {
				s.log.Warn("renewing an upload lease", "err", err)
			}
		}
	}
}

// DropUploadLeases ends the leases this process's holder left behind (a
// replica starting again after a crash); it returns how many.
func (s *Service) DropUploadLeases(ctx context.Context) (int, error) {
	var n int
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.DropHolderLeases(ctx, s.uploadHolder)
		return err
	})
	return n, err
}
