package archive

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"

	"github.com/klauspost/compress/flate"
)

// zipSource reads a zip archive through random access: the central
// directory first (declared sizes are checked before anything is
// decompressed), then every member in file order, each verified against its
// CRC-32 and declared size (archive/zip handles zip64 and data
// descriptors).
type zipSource struct {
	files   []*zip.File
	offsets []int64
	i       int
	rc      io.ReadCloser
	cur     *Member
	read_   int64 // bytes of the current member read
	g       *guard
	packedN int64
}

func openZip(r io.ReaderAt, size int64, g *guard) (*zipSource, error) {
	// archive/zip loads the whole central directory (about 250 bytes a
	// member) reading headers until the first bad one, whatever count the
	// end record declares: count them first, in constant memory.
	if n := countZipEntries(r, size, g.lim.MaxMembers+1); n > g.lim.MaxMembers {
		return nil, &Error{Code: CodeTooManyMembers, Offset: -1, Msg: fmt.Sprintf(
			"the archive has more than %d members, more than the limit of %d", g.lim.MaxMembers, g.lim.MaxMembers)}
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, &Error{Code: CodeCorrupt, Offset: -1, Err: err, Msg: fmt.Sprintf(
			"not a readable zip archive (%v): truncated, corrupt, or not a zip file", err)}
	}
	zr.RegisterDecompressor(zip.Deflate, func(r io.Reader) io.ReadCloser { return flate.NewReader(r) })
	s := &zipSource{g: g, packedN: size}
	if len(zr.File) > g.lim.MaxMembers {
		return nil, &Error{Code: CodeTooManyMembers, Offset: -1, Msg: fmt.Sprintf(
			"the archive has %d members, more than the limit of %d", len(zr.File), g.lim.MaxMembers)}
	}
	// Declared sizes: refuse bombs before decompressing anything.
	var declared uint64
	type span struct {
		f     *zip.File
		start int64
	}
	spans := make([]span, 0, len(zr.File))
	for _, f := range zr.File {
		declared += f.UncompressedSize64
		if declared > uint64(g.lim.MaxUnpacked) || f.UncompressedSize64 > uint64(g.lim.MaxUnpacked) {
			return nil, &Error{Code: CodeTooLarge, Member: f.Name, Offset: -1, Msg: fmt.Sprintf(
				"the archive declares more than %s unpacked, the limit (a zip bomb, or a release too large for this policy)", human(g.lim.MaxUnpacked))}
		}
		if f.UncompressedSize64 >= RatioFloor {
			c := max(f.CompressedSize64, 1)
			if ratio := float64(f.UncompressedSize64) / float64(c); ratio > g.lim.MaxRatio {
				what := "a zip bomb"
				if _, _, nested := FormatOf(f.Name); nested {
					what = "a nested archive compressed again and again: a nested zip bomb (like 42.zip)"
				}
				return nil, &Error{Code: CodeRatio, Member: f.Name, Offset: -1, Msg: fmt.Sprintf(
					"%s unpacked from %s compressed, a ratio of %.0f above the limit of %.0f: %s",
					human(int64(f.UncompressedSize64)), human(int64(f.CompressedSize64)), ratio, g.lim.MaxRatio, what)}
			}
		}
		if f.Flags&1 != 0 {
			return nil, &Error{Code: CodeUnsupported, Member: f.Name, Offset: -1, Msg: "the member is encrypted: release archives must be readable by everyone"}
		}
		off, err := f.DataOffset()
		if err != nil {
			return nil, &Error{Code: CodeCorrupt, Member: f.Name, Offset: -1, Err: err, Msg: fmt.Sprintf("its local header cannot be read (%v): the archive is corrupt or truncated", err)}
		}
		if off+int64(f.CompressedSize64) > size || off+int64(f.CompressedSize64) < off {
			return nil, &Error{Code: CodeTruncated, Member: f.Name, Offset: off, Msg: "the member's data runs past the end of the file: the archive is truncated"}
		}
		spans = append(spans, span{f, off})
	}
	// Members whose data overlap are the trick behind non-recursive zip
	// bombs (and make two tools see different files).
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	for i := 1; i < len(spans); i++ {
		p := spans[i-1]
		if p.start+int64(p.f.CompressedSize64) > spans[i].start {
			return nil, &Error{Code: CodeOverlap, Member: spans[i].f.Name, Offset: spans[i].start, Msg: fmt.Sprintf(
				"its data overlaps the data of %q: a crafted archive (overlapping members are the trick of zip bombs)", p.f.Name)}
		}
	}
	var prevEnd int64
	for _, sp := range spans {
		s.files = append(s.files, sp.f)
		s.offsets = append(s.offsets, sp.start)
		checkZipNames(r, sp.f, prevEnd, sp.start, g)
		prevEnd = sp.start + int64(sp.f.CompressedSize64)
	}
	checkZipEnds(r, size, g)
	return s, nil
}

// countZipEntries counts the central directory headers where archive/zip
// reads them, stopping at max; it returns 0 when it cannot find the
// directory (archive/zip then reports the damage).
func countZipEntries(r io.ReaderAt, size int64, max int) int {
	start, ok := zipDirectoryStart(r, size)
	if !ok {
		return 0
	}
	br := bufio.NewReaderSize(io.NewSectionReader(r, start, size-start), 16<<10)
	var h [46]byte
	n := 0
	for ; n < max; n++ {
		if _, err := io.ReadFull(br, h[:]); err != nil || string(h[:4]) != "PK\x01\x02" {
			break
		}
		skip := int(binary.LittleEndian.Uint16(h[28:])) + int(binary.LittleEndian.Uint16(h[30:])) + int(binary.LittleEndian.Uint16(h[32:]))
		if _, err := br.Discard(skip); err != nil {
			break
		}
	}
	return n
}

// zipDirectoryStart finds the central directory the way archive/zip does:
// the end record in the last 65 KiB (zip64's when the record says so),
// and a base offset for data prepended to the archive.
func zipDirectoryStart(r io.ReaderAt, size int64) (int64, bool) {
	const endLen = 22
	var buf []byte
	var bLen int64
	p := -1
	for _, l := range []int64{1024, 65 * 1024} {
		bLen = min(size, l)
		buf = make([]byte, bLen)
		if _, err := r.ReadAt(buf, size-bLen); err != nil && err != io.EOF {
			return 0, false
		}
		for i := len(buf) - endLen; i >= 0; i-- {
			if string(buf[i:i+4]) == "PK\x05\x06" {
				if i+endLen+int(binary.LittleEndian.Uint16(buf[i+20:])) <= len(buf) {
					p = i
				}
				break
			}
		}
		if p >= 0 || bLen == size {
			break
		}
	}
	if p < 0 {
		return 0, false
	}
	endOffset := size - bLen + int64(p)
	records, dirSize, dirOffset := uint64(binary.LittleEndian.Uint16(buf[p+10:])), uint64(binary.LittleEndian.Uint32(buf[p+12:])), uint64(binary.LittleEndian.Uint32(buf[p+16:]))
	if records == 0xffff || dirSize == 0xffffffff || dirOffset == 0xffffffff {
		var loc [20]byte
		if endOffset >= 20 {
			if _, err := r.ReadAt(loc[:], endOffset-20); err == nil && string(loc[:4]) == "PK\x06\x07" {
				var rec [56]byte
				off := int64(binary.LittleEndian.Uint64(loc[8:]))
				if _, err := r.ReadAt(rec[:], off); err != nil || string(rec[:4]) != "PK\x06\x06" {
					return 0, false
				}
				endOffset, dirSize, dirOffset = off, binary.LittleEndian.Uint64(rec[40:]), binary.LittleEndian.Uint64(rec[48:])
			}
		}
	}
	if dirSize > 1<<62 || dirOffset > 1<<62 {
		return 0, false
	}
	start := endOffset - int64(dirSize) // the base offset plus dirOffset
	if start > int64(dirOffset) {
		// Data before the archive, unless the record is wrong about it.
		var sig [4]byte
		if _, err := r.ReadAt(sig[:], int64(dirOffset)); err == nil && string(sig[:]) == "PK\x01\x02" {
			start = int64(dirOffset)
		}
	}
	if start < 0 || start >= size {
		return 0, false
	}
	return start, true
}

// checkZipNames reports a member whose local header (found between the
// previous member's data and its own), or an Info-ZIP Unicode path field,
// names another file than its central directory entry: tools that read a
// zip as a stream (Java's ZipInputStream, many unzip libraries) or honour
// that field would extract another file than those reading the directory.
func checkZipNames(r io.ReaderAt, f *zip.File, from, dataStart int64, g *guard) {
	differs := func(where, name string) {
		g.problem(CodeNameMismatch, f.Name, "%s names it %q, its central directory entry %q: tools that read a zip as a stream (such as Java's ZipInputStream) or that honour the field extract another file than the others; rebuild the archive", where, name, f.Name)
	}
	if name, ok := unicodePath(f.Extra); ok && name != f.Name {
		differs("its Info-ZIP Unicode path field", name)
	}
	start := max(from, dataStart-30-2*0xffff)
	if dataStart-start < 30 {
		return
	}
	buf := make([]byte, dataStart-start)
	if _, err := r.ReadAt(buf, start); err != nil {
		return
	}
	sig := []byte("PK\x03\x04")
	for p := bytes.LastIndex(buf, sig); p >= 0; p = bytes.LastIndex(buf[:p], sig) {
		if p+30 > len(buf) {
			continue
		}
		nl, el := int(binary.LittleEndian.Uint16(buf[p+26:])), int(binary.LittleEndian.Uint16(buf[p+28:]))
		if p+30+nl+el != len(buf) {
			continue
		}
		if local := string(buf[p+30 : p+30+nl]); local != f.Name {
			differs("its local header", local)
		} else if name, ok := unicodePath(buf[p+30+nl:]); ok && name != f.Name {
			differs("the Info-ZIP Unicode path field of its local header", name)
		}
		return
	}
}

// unicodePath returns the name in an Info-ZIP Unicode path extra field
// (0x7075, version 1), if extra holds one.
func unicodePath(extra []byte) (string, bool) {
	for len(extra) >= 4 {
		tag, size := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+size > len(extra) {
			return "", false
		}
		if tag == 0x7075 && size >= 5 && extra[4] == 1 {
			return string(extra[9 : 4+size]), true
		}
		extra = extra[4+size:]
	}
	return "", false
}

// checkZipEnds reports data before the first local header (a
// self-extracting stub or a polyglot file) and after the end of central
// directory record.
func checkZipEnds(r io.ReaderAt, size int64, g *guard) {
	var head [4]byte
	if _, err := r.ReadAt(head[:], 0); err == nil && string(head[:]) != "PK\x03\x04" && string(head[:]) != "PK\x05\x06" {
		g.problem(CodeTrailing, "", "the file has data before the first zip member (a self-extracting stub or a file that is two formats at once)")
	}
	const eocdLen = 22
	n := min(size, eocdLen+65535)
	tail := make([]byte, n)
	if _, err := r.ReadAt(tail, size-n); err != nil && err != io.EOF {
		return
	}
	for i := len(tail) - eocdLen; i >= 0; i-- {
		if string(tail[i:i+4]) != "PK\x05\x06" {
			continue
		}
		comment := int(binary.LittleEndian.Uint16(tail[i+20:]))
		if i+eocdLen+comment > len(tail) {
			continue // as archive/zip: a truncated comment is not the record
		}
		if extra := len(tail) - (i + eocdLen + comment); extra > 0 {
			g.problem(CodeTrailing, "", "the file has %d bytes after the end of the zip archive (trailing garbage)", extra)
		}
		return
	}
}

func (s *zipSource) packed() int64 { return s.packedN }

func (s *zipSource) close() error {
	if s.rc != nil {
		return s.rc.Close()
	}
	return nil
}

func (s *zipSource) next() (*Member, error) {
	if s.rc != nil {
		s.rc.Close()
		s.rc = nil
	}
	if s.i >= len(s.files) {
		return nil, io.EOF
	}
	f, off := s.files[s.i], s.offsets[s.i]
	s.i++
	rc, err := f.Open()
	if err != nil {
		return nil, &Error{Code: CodeUnsupported, Member: f.Name, Offset: off, Err: err, Msg: fmt.Sprintf(
			"the member cannot be read (%v): only stored and deflated members are supported", err)}
	}
	s.rc, s.read_ = rc, 0
	mode := f.Mode()
	m := &Member{Name: f.Name, Size: int64(f.UncompressedSize64), Mode: mode, Offset: off, Kind: KindFile}
	switch {
	case mode&fs.ModeSymlink != 0:
		m.Kind, m.Size = KindSymlink, 0
		s.cur = m
		target, err := io.ReadAll(io.LimitReader(s, maxLinkTarget+1))
		if err != nil {
			return nil, err
		}
		if len(target) > maxLinkTarget {
			s.g.problem(CodeLinkEscape, f.Name, "symbolic link %q has a target longer than %d bytes", f.Name, maxLinkTarget)
		}
		m.LinkTarget = string(bytes.TrimRight(target, "\x00"))
		if _, err := io.Copy(io.Discard, s); err != nil {
			return nil, err
		}
	case mode&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0:
		m.Kind, m.Size = KindDevice, 0
	case mode.IsDir():
		m.Kind, m.Size = KindDir, 0
	}
	s.cur = m
	if m.Kind != KindFile {
		// Read any content to its end all the same: its CRC is checked.
		if _, err := io.Copy(io.Discard, s); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (s *zipSource) Read(p []byte) (int, error) { return s.read(p) }

func (s *zipSource) read(p []byte) (int, error) {
	if s.rc == nil {
		return 0, io.EOF
	}
	n, err := s.rc.Read(p)
	s.read_ += int64(n)
	if lerr := s.g.addUnpacked(int64(n), false); lerr != nil {
		return n, lerr
	}
	if err == nil || err == io.EOF {
		return n, err
	}
	name, off := s.cur.Name, s.offsets[s.i-1]
	switch {
	case errors.Is(err, zip.ErrChecksum):
		return n, &Error{Code: CodeCRC, Member: name, Offset: off, Err: err, Msg: fmt.Sprintf(
			"the content does not match its CRC-32 (checked after %d bytes): the archive is corrupt", s.read_)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return n, &Error{Code: CodeTruncated, Member: name, Offset: off, Err: err, Msg: fmt.Sprintf(
			"the member's data ends after %d of %d bytes: the archive is truncated", s.read_, s.cur.Size)}
	}
	return n, &Error{Code: CodeCorrupt, Member: name, Offset: off, Err: err, Msg: fmt.Sprintf(
		"the member cannot be decompressed after %d bytes (%v): the archive is corrupt", s.read_, err)}
}

func (s *zipSource) finish() error { return nil }
