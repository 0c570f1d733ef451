package blob

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"trel/internal/domain"
)

const (
	chunkSize = 1 << 20 // 1 MiB per read
	nChunks   = 8       // buffers in flight: memory use is nChunks*chunkSize
)

type chunk struct {
	buf     []byte
	data    []byte
	pending atomic.Int32
}

// chunks keeps read buffers between copies: a small upload then costs no
// megabyte of fresh (zeroed, later collected) memory.
var chunks = sync.Pool{New: func() any { return &chunk{buf: make([]byte, chunkSize)} }}

// errTooLarge is returned by HashCopy when the input exceeds its limit.
var errTooLarge = errors.New("input exceeds the size limit")

// errTruncated is returned when the source itself reports a truncated
// stream (an HTTP body whose client went away). io.ReadFull would
// otherwise take the source's io.ErrUnexpectedEOF for a normal short last
// chunk and store a partial blob as if it were complete.
var errTruncated = errors.New("the stream ended before its announced end")

type strictEOF struct{ r io.Reader }

func (s strictEOF) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.ErrUnexpectedEOF {
		err = errTruncated
	}
	return n, err
}

// HashCopy copies src to dst (dst may be nil) while computing SHA-256 and
// SHA-512. Reading, hashing with each algorithm, and writing run in their
// own goroutines connected by a small ring of buffers, so the copy costs
// about as much as the slowest of them, not their sum. It reads at most max+1
// bytes and fails with errTooLarge beyond max.
func HashCopy(dst io.Writer, src io.Reader, max int64) (domain.Blob, error) {
	h256, h512 := sha256.New(), sha512.New()
	total, err := hashCopy(dst, src, max, h256, h512)
	if err != nil {
		return domain.Blob{}, err
	}
	return finish(h256, h512, total)
}

// hashCopy is HashCopy into the given hashes (which may hold earlier
// bytes); it returns how many bytes it copied.
func hashCopy(dst io.Writer, src io.Reader, max int64, h256, h512 hash.Hash) (int64, error) {
	// Buffers are taken as the reader gets ahead of the consumers, at most
	// nChunks, and given back to the pool at the end.
	free := make(chan *chunk, nChunks)
	taken := 0
	take := func() *chunk {
		if taken < nChunks {
			select {
			case c := <-free:
				return c
			default:
				taken++
				return chunks.Get().(*chunk)
			}
		}
		return <-free
	}
	defer func() {
		for range taken {
			chunks.Put(<-free)
		}
	}()
	to256 := make(chan *chunk, nChunks)
	to512 := make(chan *chunk, nChunks)
	toDst := make(chan *chunk, nChunks)
	consumers := int32(2)
	if dst != nil {
		consumers = 3
	}
	release := func(c *chunk) {
		if c.pending.Add(-1) == 0 {
			free <- c
		}
	}
	var (
		wg       sync.WaitGroup
		writeErr error
		failed   atomic.Bool
	)
	// Each consumer runs in its own goroutine: SHA-256, SHA-512 and the
	// disk write overlap, and reading the next chunk overlaps all three.
	consume := func(ch <-chan *chunk, use func([]byte)) {
		defer wg.Done()
		for c := range ch {
			use(c.data)
			release(c)
		}
	}
	wg.Add(int(consumers))
	go consume(to256, func(b []byte) { h256.Write(b) })
	go consume(to512, func(b []byte) { h512.Write(b) })
	if dst != nil {
		go consume(toDst, func(b []byte) {
			if writeErr != nil {
				return
			}
			if _, err := dst.Write(b); err != nil {
				writeErr = err
				failed.Store(true)
			}
		})
	}

	src = strictEOF{src}
	var total int64
	var readErr error
	for !failed.Load() {
		c := take()
		n, err := io.ReadFull(src, c.buf)
		if n > 0 {
			total += int64(n)
			if total > max {
				readErr = errTooLarge
				free <- c
				break
			}
			c.data = c.buf[:n]
			c.pending.Store(consumers)
			to256 <- c
			to512 <- c
			if dst != nil {
				toDst <- c
			}
		} else {
			free <- c
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	close(to256)
	close(to512)
	close(toDst)
	wg.Wait()
	if readErr != nil {
		return total, readErr
	}
	if writeErr != nil {
		return total, fmt.Errorf("writing blob: %w", writeErr)
	}
	return total, nil
}

func finish(h256, h512 hash.Hash, size int64) (domain.Blob, error) {
	s256, err := h256.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return domain.Blob{}, fmt.Errorf("saving sha256 state: %w", err)
	}
	s512, err := h512.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return domain.Blob{}, fmt.Errorf("saving sha512 state: %w", err)
	}
	return domain.Blob{
		SHA256:      hex.EncodeToString(h256.Sum(nil)),
		SHA512:      hex.EncodeToString(h512.Sum(nil)),
		Size:        size,
		SHA256State: s256,
		SHA512State: s512,
	}, nil
}

// Digests continues SHA-256 and SHA-512 over the parts of a staged upload
// (a resumable upload): its state is saved after each accepted part and
// restored by the next request, on any replica, so that no byte is read
// twice.
type Digests struct {
	h256, h512 hash.Hash
	size       int64
}

// ResumeDigests restores the digests saved by State; an empty state starts
// them afresh.
func ResumeDigests(state []byte) (*Digests, error) {
	d := &Digests{h256: sha256.New(), h512: sha512.New()}
	if len(state) == 0 {
		return d, nil
	}
	// size (8 bytes), the length of the SHA-256 state (4 bytes), the two states.
	if len(state) < 12 {
		return nil, errors.New("hash state too short")
	}
	d.size = int64(binary.BigEndian.Uint64(state))
	n := int(binary.BigEndian.Uint32(state[8:]))
	if len(state) < 12+n {
		return nil, errors.New("hash state too short")
	}
	if err := d.h256.(encoding.BinaryUnmarshaler).UnmarshalBinary(state[12 : 12+n]); err != nil {
		return nil, fmt.Errorf("restoring sha256 state: %w", err)
	}
	if err := d.h512.(encoding.BinaryUnmarshaler).UnmarshalBinary(state[12+n:]); err != nil {
		return nil, fmt.Errorf("restoring sha512 state: %w", err)
	}
	return d, nil
}

// Copy copies exactly size bytes of src to dst (dst may be nil) while
// adding them to the digests, as HashCopy does. It fails, leaving the
// digests unusable, when src holds fewer or more bytes.
func (d *Digests) Copy(dst io.Writer, src io.Reader, size int64) error {
	n, err := hashCopy(dst, src, size, d.h256, d.h512)
	if IsTooLarge(err) {
		return fmt.Errorf("more than the %d bytes announced: %w", size, err)
	}
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%d bytes of the %d announced: %w", n, size, errTruncated)
	}
	d.size += n
	return nil
}

// Size is the number of bytes hashed so far.
func (d *Digests) Size() int64 { return d.size }

// State saves the digests (see ResumeDigests).
func (d *Digests) State() ([]byte, error) {
	s256, err := d.h256.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("saving sha256 state: %w", err)
	}
	s512, err := d.h512.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("saving sha512 state: %w", err)
	}
	out := binary.BigEndian.AppendUint64(nil, uint64(d.size))
	out = binary.BigEndian.AppendUint32(out, uint32(len(s256)))
	return append(append(out, s256...), s512...), nil
}

// Blob finishes the digests.
func (d *Digests) Blob() (domain.Blob, error) { return finish(d.h256, d.h512, d.size) }
