package blob

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// writeBehindChunk is how much is written before its write-back to disk
// is started.
const writeBehindChunk = 16 << 20

// writeBehind starts the kernel's write-back of each chunk as soon as it
// is written (sync_file_range, without waiting), so that the fsync at the
// end of an upload has little left to do instead of flushing the whole
// file while the client waits.
type writeBehind struct {
	f       *os.File
	step    int64 // write-back is started every step bytes
	off     int64 // bytes written
	started int64 // write-back started up to here
}

func newWriteBehind(f *os.File) io.Writer { return &writeBehind{f: f, step: writeBehindChunk} }

// newWriteBehindAt is newWriteBehind for writes that start at offset off
// of the file (a staged upload's part, synced at its end: the write-back
// starts every 4 MiB, so that the sync has little left to do).
func newWriteBehindAt(f *os.File, off int64) io.Writer {
	return &writeBehind{f: f, step: 4 << 20, off: off, started: off}
}

func (w *writeBehind) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.started >= w.step {
		// Advisory: a failure here only means the final fsync does the work.
		_ = unix.SyncFileRange(int(w.f.Fd()), w.started, w.off-w.started, unix.SYNC_FILE_RANGE_WRITE)
		w.started = w.off
	}
	return n, err
}
