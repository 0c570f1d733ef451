package store

import (
	"context"
	"time"
)

// IncubationReader tells whether a committee is incubating (its releases
// must carry a DISCLAIMER).
type IncubationReader interface {
	Incubating(ctx context.Context, committeeID int64) (bool, error)
}

// IncubationWriter marks or unmarks a committee as incubating.
type IncubationWriter interface {
	SetIncubating(ctx context.Context, committeeID int64, on bool, by int64, at time.Time) error
}
