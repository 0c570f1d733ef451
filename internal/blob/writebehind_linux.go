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
	off     int64 // bytes written
	started int64 // write-back started up to here
}

func newWriteBehind(f *os.File) io.Writer { return &writeBehind{f: f} }

func (w *writeBehind) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.started >= writeBehindChunk {
		// Advisory: a failure here only means the final fsync does the work.
		_ = unix.SyncFileRange(int(w.f.Fd()), w.started, w.off-w.started, unix.SYNC_FILE_RANGE_WRITE)
		w.started = w.off
	}
	return n, err
}
