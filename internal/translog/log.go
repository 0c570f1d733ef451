package translog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
)

// Default timings, chosen for an interactive approval flow: an Append
// returns within about BatchMaxAge + CheckpointInterval + PollInterval.
// Measured on 2 cores (BenchmarkAppendLatency): median 144 ms, max 183 ms
// for one Append at a time; 100 concurrent Appends all return in 139 ms.
const (
	DefaultBatchMaxAge        = 20 * time.Millisecond
	DefaultBatchMaxSize       = 256
	DefaultCheckpointInterval = 100 * time.Millisecond // tessera's POSIX minimum
	DefaultPollInterval       = 10 * time.Millisecond
)

// Options tunes a Log. The zero value selects the defaults above.
type Options struct {
	// BatchMaxAge is how long the first entry of a batch may wait before
	// the batch is sequenced and integrated.
	BatchMaxAge time.Duration
	// BatchMaxSize sequences a batch as soon as it holds this many entries.
	BatchMaxSize uint
	// CheckpointInterval is the minimum time between two published
	// checkpoints (at least 100 ms).
	CheckpointInterval time.Duration
	// PollInterval is how often waiting Appends re-read the published
	// checkpoint.
	PollInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.BatchMaxAge <= 0 {
		o.BatchMaxAge = DefaultBatchMaxAge
	}
	if o.BatchMaxSize == 0 {
		o.BatchMaxSize = DefaultBatchMaxSize
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	return o
}

// Log is an open, writable log. Its methods are safe for concurrent use;
// concurrent Appends are batched together.
type Log struct {
	dir      string
	signer   *Signer
	appender *tessera.Appender
	awaiter  *tessera.PublicationAwaiter
	reader   tessera.LogReader
	// verify checks the checkpoints the awaiter hands back.
	verify *Client

	shutdown func(context.Context) error
	cancel   context.CancelFunc

	mu     sync.RWMutex
	closed bool
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("translog: log is closed")

// Open creates the log in dir, or opens the existing one, and starts its
// background sequencing and checkpointing. The background work lives until
// Close, not until ctx is done; ctx only bounds Open itself.
//
// An existing log must have been signed with the same key: Open verifies the
// published checkpoint with s and refuses to continue a log whose checkpoint
// it cannot verify (for example after the key file was lost and a new key
// was generated).
func Open(ctx context.Context, dir string, s *Signer, opts Options) (*Log, error) {
	if s == nil {
		return nil, errors.New("translog: open: no checkpoint signer")
	}
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("translog: open: %w", err)
	}
	verify, err := NewClient(DirFetcher(dir), s.VerifierKey())
	if err != nil {
		return nil, fmt.Errorf("translog: open: %w", err)
	}
	// A log that already has a checkpoint must verify with this key.
	if _, err := verify.Checkpoint(ctx); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("translog: open %s: existing checkpoint does not verify with key %s: %w", dir, s.VerifierKey(), err)
	}

	driver, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		return nil, fmt.Errorf("translog: open: posix driver: %w", err)
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	appendOpts := tessera.NewAppendOptions().
		WithCheckpointSigner(s.NoteSigner()).
		WithBatching(opts.BatchMaxSize, opts.BatchMaxAge).
		WithCheckpointInterval(opts.CheckpointInterval).
		WithShutdownTimeout(30 * time.Second)
	appender, shutdown, reader, err := tessera.NewAppender(bg, driver, appendOpts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("translog: open: appender: %w", err)
	}
	l := &Log{
		dir:      dir,
		signer:   s,
		appender: appender,
		reader:   reader,
		awaiter:  tessera.NewPublicationAwaiter(bg, reader.ReadCheckpoint, opts.PollInterval),
		verify:   verify,
		shutdown: shutdown,
		cancel:   cancel,
	}
	return l, nil
}

// Dir returns the directory holding the log's files.
func (l *Log) Dir() string { return l.dir }

// Origin returns the log origin (first line of every checkpoint).
func (l *Log) Origin() string { return l.signer.Origin() }

// VerifierKey returns the public checkpoint verifier key in note.NewVerifier
// format, for trel to publish.
func (l *Log) VerifierKey() string { return l.signer.VerifierKey() }

// Append adds e to the log and returns its index once e is integrated into
// the tree and a signed checkpoint committing to it has been published
// (and verified with the log's own verifier key).
//
// ctx bounds the wait. An error, including a cancelled ctx, does NOT prove
// that e is absent: it may still be integrated later. The caller must treat
// any error as "not logged" and not release what e describes; appending the
// same entry again after an error is safe (it may then appear twice, which
// only repeats a true statement).
func (l *Log) Append(ctx context.Context, e Entry) (uint64, error) {
	data, err := e.Marshal()
	if err != nil {
		return 0, fmt.Errorf("translog: append: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("translog: append: %w", err)
	}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return 0, ErrClosed
	}
	future := l.appender.Add(ctx, tessera.NewEntry(data))
	l.mu.RUnlock()

	type result struct {
		index tessera.Index
		cp    []byte
		err   error
	}
	done := make(chan result, 1)
	go func() {
		// Await resolves the future (sequencing and integration), then waits
		// for a published checkpoint larger than the index.
		idx, cp, err := l.awaiter.Await(ctx, future)
		done <- result{index: idx, cp: cp, err: err}
	}()
	var r result
	select {
	case <-ctx.Done():
		return 0, fmt.Errorf("translog: append: waiting for integration: %w", ctx.Err())
	case r = <-done:
	}
	if r.err != nil {
		return 0, fmt.Errorf("translog: append: %w", r.err)
	}
	cp, err := l.verify.ParseCheckpoint(r.cp)
	if err != nil {
		return 0, fmt.Errorf("translog: append: published checkpoint: %w", err)
	}
	if cp.Size <= r.index.Index {
		return 0, fmt.Errorf("translog: append: checkpoint of size %d does not cover index %d", cp.Size, r.index.Index)
	}
	return r.index.Index, nil
}

// Checkpoint returns the currently published checkpoint, verified with the
// log's key.
func (l *Log) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	return l.verify.Checkpoint(ctx)
}

// Client returns a Client reading this log's directory directly.
func (l *Log) Client() *Client { return l.verify }

// Close stops accepting entries, waits (bounded by ctx) until every entry
// already handed to Append is integrated and covered by a published
// checkpoint, then stops the background work. Close is idempotent.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	err := l.shutdown(ctx)
	l.cancel()
	if err != nil {
		return fmt.Errorf("translog: close: %w", err)
	}
	return nil
}
