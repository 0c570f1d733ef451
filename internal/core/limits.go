package core

import (
	"context"
	"fmt"
	"sync"
	"time"

	"trel/internal/domain"
	"trel/internal/store"
)

// Limits bound what one user can make the server do with held keys. The
// counters live in the database, so they hold across replicas.
type Limits struct {
	// MaxServerKeys is how many active (neither revoked nor retired) keys
	// trel holds for one user.
	MaxServerKeys int
	// KeyCreations per KeyCreationWindow per user.
	KeyCreations      int
	KeyCreationWindow time.Duration
	// PasswordChecks (signing, password changes, revocations: each derives
	// the password) per PasswordCheckWindow per user.
	PasswordChecks      int
	PasswordCheckWindow time.Duration
}

// Defaults of Limits.
const (
	DefaultMaxServerKeys       = 5
	DefaultKeyCreations        = 10
	DefaultKeyCreationWindow   = time.Hour
	DefaultPasswordChecks      = 30
	DefaultPasswordCheckWindow = 15 * time.Minute
)

func (l Limits) withDefaults() Limits {
	if l.MaxServerKeys <= 0 {
		l.MaxServerKeys = DefaultMaxServerKeys
	}
	if l.KeyCreations <= 0 {
		l.KeyCreations = DefaultKeyCreations
	}
	if l.KeyCreationWindow <= 0 {
		l.KeyCreationWindow = DefaultKeyCreationWindow
	}
	if l.PasswordChecks <= 0 {
		l.PasswordChecks = DefaultPasswordChecks
	}
	if l.PasswordCheckWindow <= 0 {
		l.PasswordCheckWindow = DefaultPasswordCheckWindow
	}
	return l
}

// rateLimit counts one action of the actor in the database and refuses it
// (429 with a retry hint) past limit in the current window.
func (s *Service) rateLimit(ctx context.Context, a *Actor, action string, limit int, window time.Duration) error {
	now := s.now()
	var n int
	var end time.Time
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		n, end, err = tx.CountHit(ctx, fmt.Sprintf("%s:user:%d", action, a.id()), now, window)
		return err
	})
	if err != nil {
		return err
	}
	if n > limit {
		s.meter.Inc("refusal", "rate_limited")
		wait := max(end.Sub(now), time.Second)
		return domain.Busy(wait, "too many %s: at most %d per %s; try again in %s", action, limit, window, wait.Round(time.Second))
	}
	return nil
}

// keyLocks serialises password checks on one key within this process (the
// database count serialises them across replicas).
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	mu    sync.Mutex
	users int
}

// lock takes the key's lock and returns its release.
func (l *keyLocks) lock(fpr string) func() {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*keyLock{}
	}
	k := l.locks[fpr]
	if k == nil {
		k = &keyLock{}
		l.locks[fpr] = k
	}
	k.users++
	l.mu.Unlock()
	k.mu.Lock()
	return func() {
		k.mu.Unlock()
		l.mu.Lock()
		if k.users--; k.users == 0 {
			delete(l.locks, fpr)
		}
		l.mu.Unlock()
	}
}

// Meter counts domain events for monitoring: event names such as
// "upload", "signing", "lockout", "refusal", "publication", with an
// outcome. The server backs it with Prometheus counters.
type Meter interface {
	Inc(event, outcome string)
}

type noMeter struct{}

func (noMeter) Inc(string, string) {}
