package signing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the Argon2id cost parameters of one sealed key. The salt
// is made by Seal and stored next to them in Sealed.
type Argon2Params struct {
	Time      uint32 `json:"t"` // passes
	MemoryKiB uint32 `json:"m"` // memory in KiB
	Threads   uint8  `json:"p"` // parallelism
}

// DefaultArgon2Params: t=3, m=64 MiB, p=4 (about 0.2 s here).
func DefaultArgon2Params() Argon2Params {
	return Argon2Params{Time: 3, MemoryKiB: 64 << 10, Threads: 4}
}

// Bounds on Argon2 parameters, enforced by Seal and, before any work, by
// Open: a crafted database row cannot make the server allocate gigabytes or
// spin for minutes, nor weaken a key below the minimum.
const (
	MinArgon2Time      = 1
	MaxArgon2Time      = 10
	MinArgon2MemoryKiB = 8 << 10   // 8 MiB
	MaxArgon2MemoryKiB = 256 << 10 // 256 MiB
	MinArgon2Threads   = 1
	MaxArgon2Threads   = 16
	argon2SaltSize     = 16
)

// ErrArgon2Params means the parameters are outside the bounds above.
var ErrArgon2Params = errors.New("argon2id parameters out of bounds")

// Check refuses parameters outside the bounds.
func (p Argon2Params) Check() error {
	switch {
	case p.Time < MinArgon2Time || p.Time > MaxArgon2Time:
		return fmt.Errorf("%w: t=%d (allowed %d..%d)", ErrArgon2Params, p.Time, MinArgon2Time, MaxArgon2Time)
	case p.MemoryKiB < MinArgon2MemoryKiB || p.MemoryKiB > MaxArgon2MemoryKiB:
		return fmt.Errorf("%w: m=%d KiB (allowed %d..%d)", ErrArgon2Params, p.MemoryKiB, MinArgon2MemoryKiB, MaxArgon2MemoryKiB)
	case p.Threads < MinArgon2Threads || p.Threads > MaxArgon2Threads:
		return fmt.Errorf("%w: p=%d (allowed %d..%d)", ErrArgon2Params, p.Threads, MinArgon2Threads, MaxArgon2Threads)
	}
	return nil
}

// MaxConcurrentDerivations caps the Argon2id derivations running at once
// in this process (each takes about 0.2 s and 64 MiB). Sealing NEW keys may
// hold at most MaxConcurrentCreations of them, so that a flood of key
// creations always leaves capacity for opening keys to sign (or to change
// their password, or revoke them). A caller waits at most DerivationWait
// (CreationWait for a new key) for a slot and then gets ErrBusy.
const (
	MaxConcurrentDerivations = 2
	MaxConcurrentCreations   = MaxConcurrentDerivations - 1
	DerivationWait           = 30 * time.Second
	CreationWait             = 2 * time.Second
)

// ErrBusy means too many password derivations are running; try again.
var ErrBusy = errors.New("too many signing-password checks are running; try again in a moment")

// Purpose says what a derivation slot is for.
type Purpose int

// Purposes, in the order capacity is reserved for them.
const (
	// PurposeUse opens an existing key: signing, changing its password,
	// revoking it.
	PurposeUse Purpose = iota
	// PurposeCreate seals a new key.
	PurposeCreate
)

var (
	derivationSlots = make(chan struct{}, MaxConcurrentDerivations)
	creationSlots   = make(chan struct{}, MaxConcurrentCreations)
)

// inFlight and peakInFlight count running derivations (tests read them).
var inFlight, peakInFlight atomic.Int32

// Permit is a reserved derivation slot. Reserve one before something
// that must not be wasted on a busy server (a single-use passkey
// approval), then derive with it; Release it when done.
type Permit struct {
	purpose Purpose
	once    sync.Once
	release func()
}

// Reserve waits for a derivation slot for purpose, at most DerivationWait
// (CreationWait for PurposeCreate) or until ctx ends; then ErrBusy.
func Reserve(ctx context.Context, purpose Purpose) (*Permit, error) {
	wait := DerivationWait
	if purpose == PurposeCreate {
		wait = CreationWait
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var held []chan struct{}
	release := func() {
		for _, c := range held {
			<-c
		}
	}
	slots := []chan struct{}{derivationSlots}
	if purpose == PurposeCreate {
		slots = []chan struct{}{creationSlots, derivationSlots}
	}
	for _, c := range slots {
		select {
		case c <- struct{}{}:
			held = append(held, c)
		case <-ctx.Done():
			release()
			return nil, ErrBusy
		}
	}
	return &Permit{purpose: purpose, release: release}, nil
}

// Release gives the slot back; it may be called more than once.
func (p *Permit) Release() {
	if p != nil {
		p.once.Do(p.release)
	}
}

// deriveArgon2 derives a 32-byte KEK from password while holding permit
// (or a slot of its own for purpose when permit is nil).
func deriveArgon2(password, salt []byte, p Argon2Params, permit *Permit, purpose Purpose) ([]byte, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	if len(salt) != argon2SaltSize {
		return nil, fmt.Errorf("%w: salt of %d bytes, want %d", ErrTampered, len(salt), argon2SaltSize)
	}
	if permit == nil {
		own, err := Reserve(context.Background(), purpose)
		if err != nil {
			return nil, err
		}
		defer own.Release()
	}
	n := inFlight.Add(1)
	defer inFlight.Add(-1)
	for {
		peak := peakInFlight.Load()
		if n <= peak || peakInFlight.CompareAndSwap(peak, n) {
			break
		}
	}
	return argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, 32), nil
}
