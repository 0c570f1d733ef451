package archive

import "io"

// readAhead decompresses in its own goroutine, a few buffers ahead of the
// tar parser and the checks, so that both cores work as they do for
// `gzip -dc | tar -t`. Memory: (depth+1) buffers.
type readAhead struct {
	ch   chan chunk
	free chan []byte
	done chan struct{}
	cur  chunk
	off  int
}

type chunk struct {
	buf []byte // the whole buffer, returned to free
	n   int
	err error
}

func newReadAhead(r io.Reader, depth, size int) *readAhead {
	ra := &readAhead{ch: make(chan chunk, depth), free: make(chan []byte, depth+1), done: make(chan struct{})}
	for range depth + 1 {
		ra.free <- make([]byte, size)
	}
	go func() {
		defer close(ra.ch)
		for {
			var buf []byte
			select {
			case buf = <-ra.free:
			case <-ra.done:
				return
			}
			n, err := 0, error(nil)
			for n < len(buf) && err == nil {
				var m int
				m, err = r.Read(buf[n:])
				n += m
				if m == 0 && err == nil {
					break // let the consumer see the empty read
				}
			}
			select {
			case ra.ch <- chunk{buf: buf, n: n, err: err}:
			case <-ra.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ra
}

func (ra *readAhead) Read(p []byte) (int, error) {
	for ra.off >= ra.cur.n {
		if ra.cur.err != nil {
			return 0, ra.cur.err
		}
		if ra.cur.buf != nil {
			ra.free <- ra.cur.buf
		}
		c, ok := <-ra.ch
		if !ok {
			return 0, io.ErrClosedPipe
		}
		ra.cur, ra.off = c, 0
		if c.n == 0 && c.err == nil {
			return 0, nil
		}
	}
	n := copy(p, ra.cur.buf[ra.off:ra.cur.n])
	ra.off += n
	return n, nil
}

// close stops the goroutine (it may finish one read first).
func (ra *readAhead) close() {
	select {
	case <-ra.done:
	default:
		close(ra.done)
	}
}
