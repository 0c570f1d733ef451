// Package archive reads release archives (.tar.gz, .tgz, .tar.bz2, .tar.xz,
// .zip and the zip-based formats: .jar, .war, .whl, .nupkg, ...) as
// untrusted input, in one streaming pass, without ever writing a member to
// disk.
//
// Open returns a Reader that walks the members in archive order, like
// archive/tar: Next advances (reading the previous member to its end, so
// that every byte is checked even when the caller reads nothing), Read
// reads the current member. The same Reader guards every format:
//
//   - hard limits (Limits): total unpacked size, member count, compression
//     ratio (zip and gzip bombs), path length and depth; exceeding one stops
//     the walk with an *Error;
//   - corruption (bad headers, CRC mismatches, truncation) stops the walk
//     with an *Error naming the member and the offset;
//   - unsafe names and members (absolute paths, ".." escapes, links that
//     point outside, device files, duplicates, names differing only by
//     case, invalid UTF-8, trailing garbage) are collected as Problems and
//     the walk goes on, so that one pass reports them all.
//
// A zip archive is read through an io.ReaderAt (the central directory is at
// the end); tar archives are read sequentially from the same ReaderAt. The
// package knows nothing of stores, HTTP or policies: the checks in
// internal/checks call it.
package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"trel/internal/domain"
)

// Format is an archive container and compression.
type Format string

// Supported formats.
const (
	TarGz  Format = "tar.gz"
	TarBz2 Format = "tar.bz2"
	TarXz  Format = "tar.xz"
	Zip    Format = "zip"
)

// suffixes maps file name endings (lower case) to formats. Zip-based
// formats are read as zip.
var suffixes = []struct {
	suffix string
	format Format
}{
	{".tar.gz", TarGz}, {".tgz", TarGz}, {".tar.bz2", TarBz2}, {".tbz2", TarBz2}, {".tbz", TarBz2},
	{".tar.xz", TarXz}, {".txz", TarXz},
	{".zip", Zip}, {".jar", Zip}, {".war", Zip}, {".ear", Zip}, {".aar", Zip}, {".whl", Zip},
	{".nupkg", Zip}, {".egg", Zip}, {".vsix", Zip}, {".xpi", Zip}, {".kar", Zip}, {".nar", Zip},
}

// FormatOf returns the format of a file by its name, and the name without
// the archive suffix ("apache-foo-1.0-src.tar.gz" -> "apache-foo-1.0-src").
func FormatOf(name string) (f Format, stem string, ok bool) {
	base := name[strings.LastIndexByte(name, '/')+1:]
	lower := strings.ToLower(base)
	for _, s := range suffixes {
		if strings.HasSuffix(lower, s.suffix) && len(base) > len(s.suffix) {
			return s.format, base[:len(base)-len(s.suffix)], true
		}
	}
	return "", "", false
}

// Limits bound what one archive may cost. Zero fields take the defaults.
type Limits struct {
	// MaxUnpacked bounds the total uncompressed bytes (for tar, the whole
	// decompressed stream).
	MaxUnpacked int64
	// MaxMembers bounds the number of entries.
	MaxMembers int
	// MaxRatio bounds uncompressed/compressed size: per member for zip,
	// over the stream for tar. Checked once RatioFloor bytes are unpacked,
	// so that small, very compressible files pass.
	MaxRatio float64
	// MaxPathLen bounds a member name in bytes, MaxDepth its number of
	// path components.
	MaxPathLen int
	MaxDepth   int
}

// Hard limits, also the defaults: a policy may tighten them, never loosen.
const (
	HardMaxUnpacked = 16 << 30
	HardMaxMembers  = 500_000
	HardMaxRatio    = 200
	HardMaxPathLen  = 4096
	HardMaxDepth    = 64
	// RatioFloor: a zip member's ratio is judged from this size on;
	// StreamRatioFloor: a tar stream's ratio once this much is unpacked
	// (early parts of a stream can be very repetitive).
	RatioFloor       = 1 << 20
	StreamRatioFloor = 32 << 20
	// maxNested bounds a nested zip archive (a .jar inside a source
	// release) that is opened to look at its declared sizes, and
	// nestedBudget the bytes inflated for that per archive.
	maxNested    = 16 << 20
	nestedBudget = 64 << 20
	// maxProblems bounds the problems kept (the count goes on).
	maxProblems = 1000
	// maxLinkTarget bounds a symbolic link's target.
	maxLinkTarget = 4096
)

// DefaultLimits returns the hard limits.
func DefaultLimits() Limits {
	return Limits{MaxUnpacked: HardMaxUnpacked, MaxMembers: HardMaxMembers, MaxRatio: HardMaxRatio,
		MaxPathLen: HardMaxPathLen, MaxDepth: HardMaxDepth}
}

// Effective fills zero fields with the defaults and caps every field at the
// hard limit.
func (l Limits) Effective() Limits {
	d := DefaultLimits()
	if l.MaxUnpacked <= 0 || l.MaxUnpacked > d.MaxUnpacked {
		l.MaxUnpacked = d.MaxUnpacked
	}
	if l.MaxMembers <= 0 || l.MaxMembers > d.MaxMembers {
		l.MaxMembers = d.MaxMembers
	}
	if l.MaxRatio <= 0 || l.MaxRatio > d.MaxRatio {
		l.MaxRatio = d.MaxRatio
	}
	if l.MaxPathLen <= 0 || l.MaxPathLen > d.MaxPathLen {
		l.MaxPathLen = d.MaxPathLen
	}
	if l.MaxDepth <= 0 || l.MaxDepth > d.MaxDepth {
		l.MaxDepth = d.MaxDepth
	}
	return l
}

// Kind is what a member is.
type Kind string

// Member kinds.
const (
	KindFile     Kind = "file"
	KindDir      Kind = "dir"
	KindSymlink  Kind = "symlink"
	KindHardlink Kind = "hardlink"
	KindDevice   Kind = "device" // character or block device, FIFO, socket
)

// Member is one entry of an archive.
type Member struct {
	// Name is the name as stored (for zip, backslashes are left as they
	// are; Problems reports them).
	Name string
	Kind Kind
	// Size is the uncompressed size of a file's content.
	Size int64
	// LinkTarget is a link's target (for a zip symlink, its content).
	LinkTarget string
	Mode       fs.FileMode
	// Offset is where the member starts: in the decompressed stream for
	// tar, in the file for zip.
	Offset int64
}

// Codes of errors and problems, stable for tests and API clients.
const (
	CodeTooLarge       = "too-large"
	CodeTooManyMembers = "too-many-members"
	CodeRatio          = "compression-ratio"
	CodeCorrupt        = "corrupt"
	CodeTruncated      = "truncated"
	CodeCRC            = "crc-mismatch"
	CodeUnsupported    = "unsupported"
	CodeAbsolute       = "absolute-path"
	CodeDotDot         = "path-escape"
	CodeLinkEscape     = "link-escape"
	CodeThroughLink    = "through-link"
	CodeDevice         = "device-file"
	CodeDuplicate      = "duplicate-name"
	CodeCaseCollision  = "case-collision"
	CodeInvalidName    = "invalid-name"
	CodePathTooLong    = "path-too-long"
	CodeTooDeep        = "path-too-deep"
	CodeTrailing       = "trailing-garbage"
	CodeBackslash      = "backslash"
	CodeOverlap        = "overlapping-members"
	CodeNestedBomb     = "nested-bomb"
	CodeNameMismatch   = "name-mismatch"
)

// Error stops a walk: a limit was exceeded or the archive is corrupt.
type Error struct {
	Code   string
	Member string // "" when not about one member
	Offset int64  // -1 when unknown
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Member != "" {
		fmt.Fprintf(&b, "member %q", e.Member)
		if e.Offset >= 0 {
			fmt.Fprintf(&b, " at offset %d", e.Offset)
		}
		b.WriteString(": ")
	} else if e.Offset >= 0 {
		fmt.Fprintf(&b, "at offset %d: ", e.Offset)
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Problem is a finding that does not stop the walk.
type Problem struct {
	Code    string `json:"code"`
	Member  string `json:"member,omitempty"`
	Message string `json:"message"`
}

// Stats describe a finished (or stopped) walk.
type Stats struct {
	Members  int   `json:"members"`
	Unpacked int64 `json:"unpacked_bytes"`
	Packed   int64 `json:"packed_bytes"`
}

// Reader walks an archive's members once, in order.
type Reader interface {
	// Next reads the rest of the current member and advances to the next
	// one. It returns io.EOF after the last member, or an *Error.
	Next() (*Member, error)
	// Read reads the current member's content (empty for anything but a
	// file).
	io.Reader
	// Problems lists the non-fatal findings so far (at most 1,000) and how
	// many there were in all.
	Problems() ([]Problem, int)
	// Stats counts what was read so far.
	Stats() Stats
	// Close releases the decompressor.
	Close() error
}

// Open starts reading an archive of the given format from r, size bytes.
func Open(r io.ReaderAt, size int64, format Format, lim Limits) (Reader, error) {
	lim = lim.Effective()
	if size == 0 {
		return nil, &Error{Code: CodeTruncated, Offset: 0, Msg: "the file is empty (0 bytes): it was cut off when it was made, copied or uploaded; upload the archive again"}
	}
	g := &guard{lim: lim, names: newNameSet()}
	var err error
	switch format {
	case TarGz, TarBz2, TarXz:
		g.src, err = openTar(r, size, format, g)
	case Zip:
		g.src, err = openZip(r, size, g)
	default:
		return nil, fmt.Errorf("unsupported archive format %q", format)
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

// source is one format's member iterator; guard applies the rules common
// to all formats.
type source interface {
	next() (*Member, error)
	read(p []byte) (int, error)
	// finish is called after the last member, to look for trailing data.
	finish() error
	packed() int64
	close() error
}

// guard implements Reader over a source.
type guard struct {
	src      source
	lim      Limits
	names    *nameSet
	cur      *Member
	members  int
	unpacked int64 // zip: member bytes; tar: counted by the tar source
	problems []Problem
	nprob    int
	nested   *nestedState
	buffered *bytes.Reader // the current member, when it was read ahead
	done     bool
	err      error
}

func (g *guard) problem(code, member, format string, args ...any) {
	g.nprob++
	if len(g.problems) < maxProblems {
		g.problems = append(g.problems, Problem{Code: code, Member: member, Message: fmt.Sprintf(format, args...)})
	}
}

// addUnpacked counts n more unpacked bytes and enforces the size and
// stream-ratio limits.
func (g *guard) addUnpacked(n int64, streamRatio bool) error {
	g.unpacked += n
	if g.unpacked > g.lim.MaxUnpacked {
		return &Error{Code: CodeTooLarge, Offset: -1, Msg: fmt.Sprintf(
			"the archive unpacks to more than %s, the limit (a decompression bomb, or a release too large for this policy)", human(g.lim.MaxUnpacked))}
	}
	if streamRatio && g.unpacked >= StreamRatioFloor {
		if p := g.src.packed(); p > 0 && float64(g.unpacked)/float64(p) > g.lim.MaxRatio {
			return &Error{Code: CodeRatio, Offset: -1, Msg: fmt.Sprintf(
				"%s unpacked from %s compressed, a ratio above the limit of %.0f: a decompression bomb", human(g.unpacked), human(p), g.lim.MaxRatio)}
		}
	}
	return nil
}

func (g *guard) Next() (*Member, error) {
	if g.err != nil {
		return nil, g.err
	}
	if g.done {
		return nil, io.EOF
	}
	if g.cur != nil {
		if _, err := io.Copy(io.Discard, g); err != nil {
			return nil, g.fail(err)
		}
	}
	m, err := g.src.next()
	if err == io.EOF {
		g.done, g.cur = true, nil
		if err := g.src.finish(); err != nil {
			return nil, g.fail(err)
		}
		g.checkLinkChains()
		return nil, io.EOF
	}
	if err != nil {
		return nil, g.fail(err)
	}
	g.members++
	if g.members > g.lim.MaxMembers {
		return nil, g.fail(&Error{Code: CodeTooManyMembers, Member: m.Name, Offset: m.Offset, Msg: fmt.Sprintf(
			"the archive has more than %d members, the limit", g.lim.MaxMembers)})
	}
	if err := g.checkMember(m); err != nil {
		return nil, g.fail(err)
	}
	g.cur = m
	if err := g.inspectNested(m); err != nil {
		return nil, g.fail(err)
	}
	return m, nil
}

func (g *guard) fail(err error) error {
	var ae *Error
	if !errors.As(err, &ae) {
		err = &Error{Code: CodeCorrupt, Offset: -1, Msg: err.Error(), Err: err}
	}
	g.err = err
	return err
}

func (g *guard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.cur == nil || g.cur.Kind != KindFile {
		return 0, io.EOF
	}
	if g.buffered != nil {
		return g.buffered.Read(p)
	}
	n, err := g.src.read(p)
	if err != nil && err != io.EOF {
		return n, g.fail(err)
	}
	return n, err
}

func (g *guard) Problems() ([]Problem, int) { return g.problems, g.nprob }

func (g *guard) Stats() Stats {
	return Stats{Members: g.members, Unpacked: g.unpacked, Packed: g.src.packed()}
}

func (g *guard) Close() error { return g.src.close() }

func human(n int64) string { return domain.HumanSize(n) }
