package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"trel/client"
	"trel/internal/core"
	"trel/internal/domain"
)

const (
	// defaultParallelUploads is how many small files `trel upload` sends
	// at once: the server's default bound per user (--uploads-per-user).
	defaultParallelUploads = 4
	// busyWaitLimit bounds how long one file waits, in total, for the
	// server to accept it while the user's other uploads fill the bound.
	busyWaitLimit = 5 * time.Minute
	// busyWaitDefault is the wait when a refusal names none.
	busyWaitDefault = 5 * time.Second
)

// uploadOne sends one file. When the server refuses it because the user's
// uploads in progress are at the bound (429), it waits as long as the
// server's Retry-After says and tries again, for at most busyWaitLimit.
func (e *env) uploadOne(ctx context.Context, cl *client.Client, project, version string, f localFile) (*domain.Blob, error) {
	var waited time.Duration
	for {
		b, err := e.uploadOnce(ctx, cl, project, version, f)
		wait, busy := busyWait(err)
		if !busy || waited+wait > busyWaitLimit {
			return b, err
		}
		e.noteWaiting(err, wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		waited += wait
	}
}

// busyWait reports whether err is the server's "too many uploads in
// progress" (or another 429) and how long it asks to wait.
func busyWait(err error) (time.Duration, bool) {
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusTooManyRequests {
		return 0, false
	}
	if ce.RetryAfter > 0 {
		return ce.RetryAfter, true
	}
	return busyWaitDefault, true
}

// noteWaiting says once per command why the upload pauses.
func (e *env) noteWaiting(err error, wait time.Duration) {
	e.waitNote.Do(func() {
		var ce *client.Error
		errors.As(err, &ce)
		fmt.Fprintf(e.stderr, "trel: the server is busy with your other uploads (%s); waiting %s and trying again\n", ce.Message, wait)
	})
}

// uploadAll uploads files and returns the changes that put them in a
// revision. A failure or an interruption says that nothing changed and
// that retry (a command line) tries again.
func (e *env) uploadAll(ctx context.Context, cl *client.Client, project, version string, files []localFile, parallel int, retry string) ([]core.Change, error) {
	blobs, err := e.uploadBlobs(ctx, cl, project, version, files, parallel)
	if err != nil {
		return nil, notUploaded(err, project, version, retry, e.kept)
	}
	changes := make([]core.Change, len(files))
	for i, f := range files {
		changes[i] = core.Change{Op: "put", Path: f.target, SHA256: blobs[i].SHA256}
	}
	return changes, nil
}

// uploadBlobs uploads files and returns their blobs in the same order.
// Large files (a progress bar each) go one after another: they are bound
// by bandwidth; those over the resumable threshold go through upload
// sessions (uploadResumable). Small files go `parallel` at a time: they are bound by
// round trips. A worker refused for being one upload too many while
// other workers still upload gives its file back and stops, so the
// command settles at the parallelism the server allows; the last worker
// waits and retries (uploadOne).
func (e *env) uploadBlobs(ctx context.Context, cl *client.Client, project, version string, files []localFile, parallel int) ([]*domain.Blob, error) {
	blobs := make([]*domain.Blob, len(files))
	q := &uploadQueue{}
	resumableOver := e.resumableOver
	if resumableOver == 0 {
		resumableOver = defaultResumableOver
	}
	for i, f := range files {
		if f.size > resumableOver {
			b, err := e.uploadResumable(ctx, cl, project, version, f)
			if err != nil {
				return nil, err
			}
			blobs[i] = b
		} else if f.size >= progressThreshold {
			b, err := e.uploadOne(ctx, cl, project, version, f)
			if err != nil {
				return nil, err
			}
			blobs[i] = b
		} else {
			q.items = append(q.items, i)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	q.active = min(parallel, len(q.items))
	for range q.active {
		wg.Go(func() {
			for {
				i, ok := q.next()
				if !ok {
					return
				}
				b, err := e.uploadOnce(ctx, cl, project, version, files[i])
				if _, busy := busyWait(err); busy {
					if q.giveBack(i) {
						return
					}
					b, err = e.uploadOne(ctx, cl, project, version, files[i])
				}
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					q.leave()
					return
				}
				blobs[i] = b
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return blobs, nil
}

// uploadQueue hands out the indexes of the files to upload to the
// workers still running.
type uploadQueue struct {
	mu     sync.Mutex
	items  []int
	active int
}

// next takes the next file; when none is left the worker stops.
func (q *uploadQueue) next() (int, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		q.active--
		return 0, false
	}
	i := q.items[0]
	q.items = q.items[1:]
	return i, true
}

// giveBack returns file i to the queue and stops the worker, unless it is
// the only worker left (then it must wait and retry itself).
func (q *uploadQueue) giveBack(i int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.active <= 1 {
		return false
	}
	q.items = append(q.items, i)
	q.active--
	return true
}

// leave stops a worker that failed.
func (q *uploadQueue) leave() {
	q.mu.Lock()
	q.active--
	q.mu.Unlock()
}
