//go:build !linux

package blob

import (
	"io"
	"os"
)

func newWriteBehind(f *os.File) io.Writer { return f }

func newWriteBehindAt(f *os.File, off int64) io.Writer { return f }
