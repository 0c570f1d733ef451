package verify

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// chunkSize and chunkCount size the buffers shared by the reader and the
// two hashers: 4 x 1 MiB keeps both hashers busy while the next chunk is
// read, whatever the file size.
const (
	chunkSize  = 1 << 20
	chunkCount = 4
)

// openFile opens files for reading; tests replace it to count reads of the
// artifact.
var openFile = func(name string) (io.ReadCloser, error) { return os.Open(name) }

// digests is the result of the single pass over the artifact.
type digests struct {
	size           int64
	sha256, sha512 []byte // final digests
	state256       []byte // SHA-256 state before Sum (encoding.BinaryMarshaler)
	state512       []byte // SHA-512 state before Sum
}

// chunk is one buffer of the artifact on its way to both hashers. It goes
// back to the free list once both have consumed it.
type chunk struct {
	buf  []byte
	n    int
	refs atomic.Int32
}

// hashFile reads the file at name once and hashes it with SHA-256 and
// SHA-512 at the same time, one goroutine per hash (SHA-512 is about half
// as fast as SHA-256 with SHA-NI, so running them side by side makes the
// pass as fast as SHA-512 alone).
func hashFile(name string) (*digests, error) {
	f, err := openFile(name)
	if err != nil {
		return nil, fmt.Errorf("open artifact: %w", err)
	}
	defer f.Close()
	return hashReader(f)
}

// hashReader is hashFile on any stream.
func hashReader(r io.Reader) (*digests, error) {
	h256, h512 := sha256.New(), sha512.New()

	free := make(chan *chunk, chunkCount)
	for range chunkCount {
		free <- &chunk{buf: make([]byte, chunkSize)}
	}
	to256 := make(chan *chunk, chunkCount)
	to512 := make(chan *chunk, chunkCount)

	var wg sync.WaitGroup
	consume := func(h hash.Hash, in <-chan *chunk) {
		defer wg.Done()
		for c := range in {
			h.Write(c.buf[:c.n]) // hash.Hash.Write never fails
			if c.refs.Add(-1) == 0 {
				free <- c
			}
		}
	}
	wg.Add(2)
	go consume(h256, to256)
	go consume(h512, to512)

	var size int64
	var readErr error
	for {
		c := <-free
		n, err := io.ReadFull(r, c.buf)
		if n > 0 {
			c.n = n
			c.refs.Store(2)
			size += int64(n)
			to256 <- c
			to512 <- c
		} else {
			free <- c
		}
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	close(to256)
	close(to512)
	wg.Wait()
	if readErr != nil {
		return nil, fmt.Errorf("read artifact: %w", readErr)
	}

	d := &digests{size: size, sha256: h256.Sum(nil), sha512: h512.Sum(nil)}
	var err error
	if d.state256, err = h256.(encoding.BinaryMarshaler).MarshalBinary(); err != nil {
		return nil, fmt.Errorf("save SHA-256 state: %w", err)
	}
	if d.state512, err = h512.(encoding.BinaryMarshaler).MarshalBinary(); err != nil {
		return nil, fmt.Errorf("save SHA-512 state: %w", err)
	}
	return d, nil
}
