package archive

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/klauspost/compress/flate"
)

// zipSource reads a zip archive through random access: the central
// directory first, as a stream (declared sizes are checked before anything
// is decompressed), then every member in file order, each verified against
// its CRC-32 and declared size. Only a small fixed record is kept per
// member (zipEntry); names are read again when a member's turn comes, so
// that memory does not grow with the names (archive/zip keeps about 350
// bytes a member).
type zipSource struct {
	r       io.ReaderAt
	entries []zipEntry // in file order
	i       int
	rc      io.Reader // the current member's content, checked
	flate   io.ReadCloser
	cur     *Member
	off     int64 // the current member's data
	read_   int64 // bytes of the current member read
	crc     hash.Hash32
	g       *guard
	packedN int64
	name    []byte // scratch for names
}

// zipEntry is what the walk keeps of a central directory entry.
type zipEntry struct {
	cd          int64 // the central directory entry (its name follows 46 bytes in)
	local       int64 // the local header
	data        int64 // the member's data
	comp, size  uint64
	crc         uint32
	creator     uint16
	flags       uint16
	method      uint16
	nameLen     uint16
	externAttrs uint32
	// localDiffers: the local header names another file (reported); the
	// member's name is then read from the central directory.
	localDiffers bool
}

func (e *zipEntry) hasDescriptor() bool { return e.flags&0x8 != 0 }

// memberName reads the member's name: from its local header, just before
// its data (so that a ranged store reads both with one request), unless
// the local header names another file (then from the central directory,
// whose name archive/zip and unzip use).
func (s *zipSource) memberName(e *zipEntry) (string, error) {
	if e.localDiffers {
		return s.cdName(e), nil
	}
	n := int(e.data - e.local - 30)
	if cap(s.name) < n {
		s.name = make([]byte, n)
	}
	if _, err := s.r.ReadAt(s.name[:n], e.local+30); err != nil {
		return "", &Error{Code: CodeTruncated, Offset: e.local, Err: err, Msg: "a local header runs past the end of the file: the archive is truncated"}
	}
	return string(s.name[:e.nameLen]), nil
}

// cdName reads the entry's name from the central directory.
func (s *zipSource) cdName(e *zipEntry) string {
	n := int(e.nameLen)
	if cap(s.name) < n {
		s.name = make([]byte, n)
	}
	if _, err := s.r.ReadAt(s.name[:n], e.cd+46); err != nil {
		return ""
	}
	return string(s.name[:n])
}

func notZip(err error) error {
	return &Error{Code: CodeCorrupt, Offset: -1, Err: err, Msg: fmt.Sprintf(
		"not a readable zip archive (%v): truncated, corrupt, or not a zip file", err)}
}

var errNotZip = errors.New("zip: not a valid zip file")

func openZip(r io.ReaderAt, size int64, g *guard) (*zipSource, error) {
	dir, ok := zipDirectoryStart(r, size)
	if !ok {
		return nil, notZip(errNotZip)
	}
	// Count the entries first (constant memory), to refuse too many before
	// keeping any and to keep them in one allocation.
	n := countZipEntries(r, size, g.lim.MaxMembers+1)
	if n > g.lim.MaxMembers {
		return nil, &Error{Code: CodeTooManyMembers, Offset: -1, Msg: fmt.Sprintf(
			"the archive has more than %d members, more than the limit of %d", g.lim.MaxMembers, g.lim.MaxMembers)}
	}
	s := &zipSource{r: r, g: g, packedN: size, crc: crc32.NewIEEE(), entries: make([]zipEntry, 0, n)}
	br := bufio.NewReaderSize(io.NewSectionReader(r, dir.start, size-dir.start), 64<<10)
	var h [46]byte
	var rest []byte
	var declared uint64
	pos := dir.start
	count := 0
	for {
		if _, err := io.ReadFull(br, h[:]); err != nil || string(h[:4]) != "PK\x01\x02" {
			break
		}
		le := binary.LittleEndian
		e := zipEntry{cd: pos, creator: le.Uint16(h[4:]), flags: le.Uint16(h[8:]), method: le.Uint16(h[10:]),
			crc: le.Uint32(h[16:]), comp: uint64(le.Uint32(h[20:])), size: uint64(le.Uint32(h[24:])),
			nameLen: le.Uint16(h[28:]), externAttrs: le.Uint32(h[38:])}
		local := uint64(le.Uint32(h[42:]))
		nl, el, cl := int(e.nameLen), int(le.Uint16(h[30:])), int(le.Uint16(h[32:]))
		if cap(rest) < nl+el+cl {
			rest = make([]byte, nl+el+cl)
		}
		rest = rest[:nl+el+cl]
		if _, err := io.ReadFull(br, rest); err != nil {
			break
		}
		pos += int64(46 + len(rest))
		if pos > dir.end {
			return nil, notZip(errors.New("zip: the central directory runs into its end record"))
		}
		name, extra := rest[:nl], rest[nl:nl+el]
		if !zip64Sizes(extra, &e, &local) {
			break // as archive/zip: a damaged zip64 field ends the directory
		}
		count++ // at most n: countZipEntries read the same headers
		// Declared sizes: refuse bombs before decompressing anything.
		declared += e.size
		if declared > uint64(g.lim.MaxUnpacked) || e.size > uint64(g.lim.MaxUnpacked) {
			return nil, &Error{Code: CodeTooLarge, Member: string(name), Offset: -1, Msg: fmt.Sprintf(
				"the archive declares more than %s unpacked, the limit (a zip bomb, or a release too large for this policy)", human(g.lim.MaxUnpacked))}
		}
		if e.size >= RatioFloor {
			c := max(e.comp, 1)
			if ratio := float64(e.size) / float64(c); ratio > g.lim.MaxRatio {
				what := "a zip bomb"
				if _, _, nested := FormatOf(string(name)); nested {
					what = "a nested archive compressed again and again: a nested zip bomb (like 42.zip)"
				}
				return nil, &Error{Code: CodeRatio, Member: string(name), Offset: -1, Msg: fmt.Sprintf(
					"%s unpacked from %s compressed, a ratio of %.0f above the limit of %.0f: %s",
					human(int64(e.size)), human(int64(e.comp)), ratio, g.lim.MaxRatio, what)}
			}
		}
		if e.flags&1 != 0 {
			return nil, &Error{Code: CodeUnsupported, Member: string(name), Offset: -1, Msg: "the member is encrypted: release archives must be readable by everyone"}
		}
		if u, ok := unicodePath(extra); ok && u != string(name) {
			g.problem(CodeNameMismatch, string(name), "its Info-ZIP Unicode path field names it %q, its central directory entry %q: tools that read a zip as a stream (such as Java's ZipInputStream) or that honour the field extract another file than the others; rebuild the archive", u, string(name))
		}
		e.local = dir.base + int64(min(local, 1<<62))
		var lh [30]byte
		if _, err := r.ReadAt(lh[:], e.local); err != nil || string(lh[:4]) != "PK\x03\x04" {
			if err == nil {
				err = errNotZip
			}
			return nil, &Error{Code: CodeCorrupt, Member: string(name), Offset: -1, Err: err, Msg: fmt.Sprintf("its local header cannot be read (%v): the archive is corrupt or truncated", err)}
		}
		lnl, lel := int(le.Uint16(lh[26:])), int(le.Uint16(lh[28:]))
		e.data = e.local + 30 + int64(lnl+lel)
		if e.data+int64(e.comp) > size || e.data+int64(e.comp) < e.data || e.comp > 1<<62 {
			return nil, &Error{Code: CodeTruncated, Member: string(name), Offset: e.data, Msg: "the member's data runs past the end of the file: the archive is truncated"}
		}
		// The local header's name and extra field follow it (one read,
		// which a ranged store serves with the same request).
		if cap(s.name) < lnl+lel {
			s.name = make([]byte, lnl+lel)
		}
		lrest := s.name[:lnl+lel]
		if _, err := r.ReadAt(lrest, e.local+30); err != nil {
			return nil, &Error{Code: CodeTruncated, Member: string(name), Offset: e.local, Err: err, Msg: "its local header runs past the end of the file: the archive is truncated"}
		}
		e.localDiffers = !localNameAgrees(string(name), lrest[:lnl], lrest[lnl:], g)
		s.entries = append(s.entries, e)
	}
	// As archive/zip: the directory must hold the number of entries the
	// end record declares (16 bits of it).
	if uint16(count) != uint16(dir.records) {
		return nil, notZip(errNotZip)
	}
	// Members whose data overlap are the trick behind non-recursive zip
	// bombs (and make two tools see different files).
	sort.SliceStable(s.entries, func(i, j int) bool { return s.entries[i].data < s.entries[j].data })
	for i := 1; i < len(s.entries); i++ {
		p, e := &s.entries[i-1], &s.entries[i]
		if p.data+int64(p.comp) > e.data {
			return nil, &Error{Code: CodeOverlap, Member: s.cdName(e), Offset: e.data, Msg: fmt.Sprintf(
				"its data overlaps the data of %q: a crafted archive (overlapping members are the trick of zip bombs)", s.cdName(p))}
		}
	}
	checkZipEnds(r, size, g)
	return s, nil
}

// zip64Sizes replaces the sizes and offset that a central directory entry
// marks as in its zip64 extra field (0xffffffff); false when the field is
// too short, as archive/zip reads it.
func zip64Sizes(extra []byte, e *zipEntry, local *uint64) bool {
	for len(extra) >= 4 {
		tag, n := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+n > len(extra) {
			return true
		}
		field := extra[4 : 4+n]
		extra = extra[4+n:]
		if tag != 0x0001 {
			continue
		}
		for _, v := range []*uint64{&e.size, &e.comp, local} {
			if *v != 0xffffffff {
				continue
			}
			if len(field) < 8 {
				return false
			}
			*v = binary.LittleEndian.Uint64(field)
			field = field[8:]
		}
	}
	return true
}

// countZipEntries counts the central directory headers where archive/zip
// reads them, stopping at max; it returns 0 when it cannot find the
// directory (archive/zip then reports the damage).
func countZipEntries(r io.ReaderAt, size int64, max int) int {
	dir, ok := zipDirectoryStart(r, size)
	if !ok {
		return 0
	}
	br := bufio.NewReaderSize(io.NewSectionReader(r, dir.start, size-dir.start), 16<<10)
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

// zipDirectory is where a zip's central directory starts, the offset its
// entries' offsets count from (data prepended to the archive moves it),
// and the number of entries the end record declares.
type zipDirectory struct {
	start, base int64
	end         int64 // the end record (zip64's, when there is one)
	records     uint64
}

// zipDirectoryStart finds the central directory the way archive/zip does:
// the end record in the last 65 KiB (zip64's when the record says so),
// and a base offset for data prepended to the archive.
func zipDirectoryStart(r io.ReaderAt, size int64) (zipDirectory, bool) {
	const endLen = 22
	var buf []byte
	var bLen int64
	p := -1
	for _, l := range []int64{1024, 65 * 1024} {
		bLen = min(size, l)
		buf = make([]byte, bLen)
		if _, err := r.ReadAt(buf, size-bLen); err != nil && err != io.EOF {
			return zipDirectory{}, false
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
		return zipDirectory{}, false
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
					return zipDirectory{}, false
				}
				endOffset, records, dirSize, dirOffset = off, binary.LittleEndian.Uint64(rec[32:]), binary.LittleEndian.Uint64(rec[40:]), binary.LittleEndian.Uint64(rec[48:])
			}
		}
	}
	if dirSize > 1<<62 || dirOffset > 1<<62 {
		return zipDirectory{}, false
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
		return zipDirectory{}, false
	}
	return zipDirectory{start: start, base: start - int64(dirOffset), end: endOffset, records: records}, true
}

// localNameAgrees reports (as a problem) a member whose local header names
// another file than its central directory entry, directly or by an
// Info-ZIP Unicode path field: tools that read a zip as a stream (Java's
// ZipInputStream, many unzip libraries) or honour that field would
// extract another file than those reading the directory.
func localNameAgrees(name string, local, extra []byte, g *guard) bool {
	differs := func(where, other string) bool {
		g.problem(CodeNameMismatch, name, "%s names it %q, its central directory entry %q: tools that read a zip as a stream (such as Java's ZipInputStream) or that honour the field extract another file than the others; rebuild the archive", where, other, name)
		return false
	}
	if string(local) != name {
		return differs("its local header", string(local))
	}
	if u, ok := unicodePath(extra); ok && u != name {
		differs("the Info-ZIP Unicode path field of its local header", u)
	}
	return true // the local name is the directory's
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
	if s.flate != nil {
		s.flate.Close()
		s.flate = nil
	}
	return nil
}

func (s *zipSource) next() (*Member, error) {
	s.close()
	s.rc = nil
	if s.i >= len(s.entries) {
		return nil, io.EOF
	}
	e := &s.entries[s.i]
	s.i++
	name, err := s.memberName(e)
	if err != nil {
		return nil, err
	}
	s.off, s.read_ = e.data, 0
	s.crc.Reset()
	fh := zip.FileHeader{Name: name, CreatorVersion: e.creator, ExternalAttrs: e.externAttrs}
	mode := fh.Mode()
	m := &Member{Name: name, Size: int64(e.size), Mode: mode, Offset: e.data, Kind: KindFile}
	s.cur = m
	data := io.NewSectionReader(s.r, e.data, int64(e.comp))
	switch {
	case strings.HasSuffix(name, "/"):
		// As archive/zip: a directory has no content (the jar tool
		// sometimes marks it deflated with a few bytes of nothing).
		if e.size != 0 {
			return nil, &Error{Code: CodeCorrupt, Member: name, Offset: e.data, Msg: fmt.Sprintf(
				"the directory declares %d bytes of content: the archive is corrupt", e.size)}
		}
		s.rc = nil // nothing to read or check, as archive/zip
	case e.method == zip.Store:
		s.rc = data
	case e.method == zip.Deflate:
		s.flate = flate.NewReader(bufio.NewReaderSize(data, 32<<10))
		s.rc = s.flate
	default:
		return nil, &Error{Code: CodeUnsupported, Member: name, Offset: e.data, Err: zip.ErrAlgorithm, Msg: fmt.Sprintf(
			"the member cannot be read (%v): only stored and deflated members are supported", zip.ErrAlgorithm)}
	}
	switch {
	case mode&fs.ModeSymlink != 0:
		m.Kind, m.Size = KindSymlink, 0
		target, err := io.ReadAll(io.LimitReader(s, maxLinkTarget+1))
		if err != nil {
			return nil, err
		}
		if len(target) > maxLinkTarget {
			s.g.problem(CodeLinkEscape, name, "symbolic link %q has a target longer than %d bytes", name, maxLinkTarget)
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
	if m.Kind != KindFile {
		// Read any content to its end all the same: its CRC is checked.
		if _, err := io.Copy(io.Discard, s); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (s *zipSource) Read(p []byte) (int, error) { return s.read(p) }

// read reads the current member, checked as archive/zip checks it: no
// more than its declared size, all of it, and its CRC-32 (also against a
// data descriptor's).
func (s *zipSource) read(p []byte) (int, error) {
	if s.rc == nil {
		return 0, io.EOF
	}
	e := &s.entries[s.i-1]
	n, err := s.rc.Read(p)
	s.crc.Write(p[:n])
	s.read_ += int64(n)
	if lerr := s.g.addUnpacked(int64(n), false); lerr != nil {
		return n, lerr
	}
	if uint64(s.read_) > e.size {
		return n, s.memberError(fmt.Errorf("%w: more data than declared", zip.ErrFormat))
	}
	switch {
	case err == nil:
		return n, nil
	case err != io.EOF:
		return n, s.memberError(err)
	case uint64(s.read_) != e.size:
		return n, s.memberError(io.ErrUnexpectedEOF)
	}
	if e.hasDescriptor() {
		if derr := s.checkDescriptor(e); derr != nil {
			return n, s.memberError(derr)
		}
	}
	if (e.hasDescriptor() || e.crc != 0) && s.crc.Sum32() != e.crc {
		return n, s.memberError(zip.ErrChecksum)
	}
	s.rc = nil
	return n, io.EOF
}

// checkDescriptor reads the data descriptor after the member's data (with
// or without its signature) and compares its CRC-32 with the directory's.
func (s *zipSource) checkDescriptor(e *zipEntry) error {
	var buf [16]byte
	at := e.data + int64(e.comp)
	if _, err := s.r.ReadAt(buf[:12], at); err != nil {
		return io.ErrUnexpectedEOF
	}
	b := buf[:12]
	if string(b[:4]) == "PK\x07\x08" {
		b = buf[4:16]
		if _, err := s.r.ReadAt(b, at+4); err != nil {
			return io.ErrUnexpectedEOF
		}
	}
	if binary.LittleEndian.Uint32(b) != e.crc {
		return zip.ErrChecksum
	}
	return nil
}

func (s *zipSource) memberError(err error) error {
	s.rc = nil
	name, off := s.cur.Name, s.off
	switch {
	case errors.Is(err, zip.ErrChecksum):
		return &Error{Code: CodeCRC, Member: name, Offset: off, Err: err, Msg: fmt.Sprintf(
			"the content does not match its CRC-32 (checked after %d bytes): the archive is corrupt", s.read_)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Code: CodeTruncated, Member: name, Offset: off, Err: err, Msg: fmt.Sprintf(
			"the member's data ends after %d of %d bytes: the archive is truncated", s.read_, s.cur.Size)}
	}
	return &Error{Code: CodeCorrupt, Member: name, Offset: off, Err: err, Msg: fmt.Sprintf(
		"the member cannot be decompressed after %d bytes (%v): the archive is corrupt", s.read_, err)}
}

func (s *zipSource) finish() error { return nil }
