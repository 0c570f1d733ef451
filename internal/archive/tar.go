package archive

import (
	"archive/tar"
	"bufio"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz"
)

// tarSource reads a compressed tar stream sequentially.
type tarSource struct {
	format   Format
	packedR  *countReader // compressed bytes consumed
	stream   *streamCounter
	dec      io.Reader
	closeDec func() error
	ahead    *readAhead
	tr       *tar.Reader
	cur      *Member
	g        *guard
}

// countReader counts the bytes read through it (by the read-ahead
// goroutine, for the ratio judged by the reader's).
type countReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// streamCounter counts decompressed bytes and enforces the size and ratio
// limits on the whole stream, tar headers included.
type streamCounter struct {
	r   io.Reader
	g   *guard
	n   int64
	err error // a limit error, kept so that it wins over what tar makes of it
	// empty counts consecutive reads that returned nothing: a decoder
	// stuck on crafted input must not spin forever.
	empty int
}

func (s *streamCounter) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if n == 0 && err == nil && len(p) > 0 {
		if s.empty++; s.empty > 100 {
			return 0, io.ErrNoProgress
		}
	} else {
		s.empty = 0
	}
	if lerr := s.g.addUnpacked(int64(n), true); lerr != nil {
		s.err = lerr
		return n, lerr
	}
	return n, err
}

func openTar(r io.ReaderAt, size int64, format Format, g *guard) (*tarSource, error) {
	s := &tarSource{format: format, g: g, packedR: &countReader{r: io.NewSectionReader(r, 0, size)}}
	in := bufio.NewReaderSize(s.packedR, 256<<10)
	switch format {
	case TarGz:
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, &Error{Code: CodeCorrupt, Offset: 0, Msg: "not a gzip file: " + err.Error() + "; is the file name's extension right?", Err: err}
		}
		s.dec, s.closeDec = zr, zr.Close
	case TarBz2:
		s.dec, s.closeDec = bzip2.NewReader(in), func() error { return nil }
	case TarXz:
		if err := checkXZ(r, size); err != nil {
			return nil, err
		}
		zr, err := xz.NewReader(in)
		if err != nil {
			return nil, &Error{Code: CodeCorrupt, Offset: 0, Msg: "not an xz file: " + err.Error() + "; is the file name's extension right?", Err: err}
		}
		s.dec, s.closeDec = zr, func() error { return nil }
	}
	s.ahead = newReadAhead(s.dec, 4, 256<<10)
	s.stream = &streamCounter{r: s.ahead, g: g}
	s.tr = tar.NewReader(s.stream)
	return s, nil
}

func (s *tarSource) packed() int64 { return s.packedR.n.Load() }

func (s *tarSource) close() error {
	if s.ahead != nil {
		s.ahead.close()
	}
	return nil
}

// wrap turns a read error into an *Error naming the member and offset.
func (s *tarSource) wrap(err error, member string) error {
	if s.stream.err != nil {
		return s.stream.err
	}
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	off := s.stream.n
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return &Error{Code: CodeTruncated, Member: member, Offset: off, Err: err,
			Msg: "the archive is truncated: it ends in the middle of this member (an incomplete upload or download?)"}
	case errors.Is(err, gzip.ErrChecksum):
		return &Error{Code: CodeCRC, Member: member, Offset: off, Err: err,
			Msg: "the gzip checksum does not match: the file is corrupt (gzip has one checksum for the whole stream, so the damage can be anywhere before this point)"}
	case errors.Is(err, tar.ErrHeader):
		return &Error{Code: CodeCorrupt, Member: member, Offset: off, Err: err,
			Msg: "invalid tar header: the archive is corrupt"}
	}
	return &Error{Code: CodeCorrupt, Member: member, Offset: off, Err: err,
		Msg: fmt.Sprintf("the %s stream is corrupt: %v", s.format, err)}
}

func (s *tarSource) next() (*Member, error) {
	for {
		prev := ""
		if s.cur != nil {
			prev = s.cur.Name
		}
		h, err := s.tr.Next()
		if err == io.EOF {
			return nil, io.EOF
		}
		if err != nil {
			if prev == "" {
				prev = "(before the first member)"
				if s.stream.n > 0 {
					prev = "(after the last complete member)"
				}
			}
			return nil, s.wrap(err, prev)
		}
		m := &Member{Name: h.Name, Size: h.Size, Mode: h.FileInfo().Mode(), Offset: s.stream.n}
		switch h.Typeflag {
		case tar.TypeXGlobalHeader:
			// e.g. the commit id `git archive` records. Names set for
			// every member that follows are applied by some extractors
			// and ignored by others (and by this reader).
			for _, k := range []string{"path", "linkpath"} {
				if v, ok := h.PAXRecords[k]; ok {
					s.g.problem(CodeNameMismatch, "", "a pax global header sets %s=%q for the members that follow: some extractors apply it, others ignore it, so they extract different files; rebuild the archive", k, v)
				}
			}
			continue
		case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont:
			m.Kind = KindFile
			if err := s.countSparse(h); err != nil {
				return nil, err
			}
		case tar.TypeDir:
			m.Kind, m.Size = KindDir, 0
		case tar.TypeSymlink:
			m.Kind, m.LinkTarget, m.Size = KindSymlink, h.Linkname, 0
		case tar.TypeLink:
			m.Kind, m.LinkTarget, m.Size = KindHardlink, h.Linkname, 0
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			m.Kind, m.Size = KindDevice, 0
		default:
			m.Kind = KindFile
			s.g.problem(CodeUnsupported, h.Name, "%q has the unknown tar member type %q; it was read as a file", h.Name, h.Typeflag)
		}
		s.cur = m
		return m, nil
	}
}

// countSparse counts the full size of a sparse member against the size
// limit before it is read: its holes take no room in the archive (nor in
// the stream counted so far), but most extractors write them out.
func (s *tarSource) countSparse(h *tar.Header) error {
	sparse := h.Typeflag == tar.TypeGNUSparse
	for k := range h.PAXRecords {
		sparse = sparse || strings.HasPrefix(k, "GNU.sparse.")
	}
	if !sparse {
		return nil
	}
	if err := s.g.addUnpacked(h.Size, false); err != nil {
		return &Error{Code: CodeTooLarge, Member: h.Name, Offset: s.stream.n, Msg: fmt.Sprintf(
			"this sparse file unpacks to %s, which takes the archive past its limit of %s: its holes take no room in the archive, but most extractors write them out", human(h.Size), human(s.g.lim.MaxUnpacked))}
	}
	return nil
}

func (s *tarSource) read(p []byte) (int, error) {
	n, err := s.tr.Read(p)
	if err != nil && err != io.EOF {
		return n, s.wrap(err, s.cur.Name)
	}
	return n, err
}

// finish reads what follows the tar end marker: zero padding is normal,
// anything else (or data after the compressed stream) is trailing garbage.
func (s *tarSource) finish() error {
	buf := make([]byte, 32<<10)
	nonZero := false
	for {
		n, err := s.stream.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				nonZero = true
				break
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if s.stream.err != nil {
				return s.stream.err
			}
			if trailingAfterStream(err) {
				s.g.problem(CodeTrailing, "", "the file has data after the end of its %s stream (trailing garbage)", compressionName(s.format))
				return nil
			}
			return s.wrap(err, "(after the last member)")
		}
	}
	if nonZero {
		s.g.problem(CodeTrailing, "", "the tar stream has data after its end-of-archive marker (trailing garbage)")
	}
	return nil
}

// trailingAfterStream reports whether a decompressor error means that the
// compressed stream ended properly and something else follows.
func trailingAfterStream(err error) bool {
	if errors.Is(err, gzip.ErrHeader) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "continuation file") || // compress/bzip2
		strings.Contains(msg, "magic") || strings.Contains(msg, "stream header") // xz
}

func compressionName(f Format) string {
	return map[Format]string{TarGz: "gzip", TarBz2: "bzip2", TarXz: "xz"}[f]
}
