package core

import (
	"context"
	"sync"
	"time"

	"trel/internal/domain"
)

// DefaultUploadsPerUser bounds one user's concurrent uploads (per server
// process) when nothing is configured.
const DefaultUploadsPerUser = 4

// uploadSlots counts each user's uploads in progress in this process.
type uploadSlots struct {
	mu    sync.Mutex
	inUse map[int64]int
}

// PrepareUpload authorises an upload to a draft and takes one of the
// actor's upload slots, before a single byte of the body is read (the
// HTTP layers lift their read deadline only after it). Call the returned
// function when the upload ends.
func (s *Service) PrepareUpload(ctx context.Context, a *Actor, projectKey, version string) (func(), error) {
	rel, err := s.release(ctx, a, OpUpload, projectKey, version)
	if err != nil {
		return nil, err
	}
	if rel.Phase != domain.PhaseDraft {
		return nil, domain.Errorf(domain.KindConflict, "release %s %s is no longer a draft; its files cannot change", rel.ProjectKey, rel.Version)
	}
	id := a.id()
	s.uploads.mu.Lock()
	defer s.uploads.mu.Unlock()
	if s.uploads.inUse == nil {
		s.uploads.inUse = map[int64]int{}
	}
	if s.uploads.inUse[id] >= s.uploadsPerUser {
		s.meter.Inc("refusal", "uploads")
		return nil, domain.Busy(10*time.Second, "you already have %d uploads in progress, the most allowed at once: wait for one to finish", s.uploadsPerUser)
	}
	s.uploads.inUse[id]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.uploads.mu.Lock()
			defer s.uploads.mu.Unlock()
			if s.uploads.inUse[id]--; s.uploads.inUse[id] <= 0 {
				delete(s.uploads.inUse, id)
			}
		})
	}, nil
}
