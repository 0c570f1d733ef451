package rules

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// MaxChecksumFileSize caps the size of a checksum file. A line per artifact
// is about 200 bytes, so 64 KiB holds hundreds of entries; anything larger
// is not a checksum file.
const MaxChecksumFileSize = 64 << 10

// ErrMalformedChecksum is wrapped by every error ParseChecksumFile returns for
// bad file contents. Such an error is a failure of the artifact, not of the
// checker.
var ErrMalformedChecksum = errors.New("malformed checksum file")

// ErrUnsupportedAlgorithm is returned when the caller asks for an algorithm
// other than sha256 or sha512. It is a bug in the caller, not in the file.
var ErrUnsupportedAlgorithm = errors.New("unsupported checksum algorithm")

// ChecksumEntry is one digest found in a checksum file.
type ChecksumEntry struct {
	// Name is the file name written next to the digest, exactly as written
	// (after removing a GNU binary marker '*'); empty for a bare digest.
	Name string
	// Digest is the raw digest: 32 bytes for sha256, 64 for sha512.
	Digest []byte
}

// Verdict is the outcome of matching a checksum file against an artifact.
type Verdict struct {
	// Passed is true only when the file names the artifact (or names no file)
	// and its digest equals the artifact's.
	Passed bool
	// Status is StatusNote when Passed, StatusBlocker for a bad checksum
	// file, and StatusException when the checker was misused.
	Status string
	// Code is a stable machine-readable reason (one of the CodeChecksum...
	// constants).
	Code string
	// Message says, in plain English, what was found and what was expected.
	Message string
}

// Codes carried by a checksum Verdict.
const (
	CodeChecksumOK           = "checksum.ok"
	CodeChecksumMismatch     = "checksum.mismatch"
	CodeChecksumWrongName    = "checksum.wrong-name"
	CodeChecksumMissingEntry = "checksum.missing-entry"
	CodeChecksumAmbiguous    = "checksum.ambiguous"
	CodeChecksumMalformed    = "checksum.malformed"
	CodeChecksumInternal     = "checksum.internal"
)

// algorithm describes one supported digest algorithm.
type algorithm struct {
	name    string // "sha512", as in the file suffix
	display string // "SHA-512", for messages
	size    int    // digest size in bytes
}

func lookupAlgorithm(algo string) (algorithm, error) {
	switch strings.ToLower(algo) {
	case "sha256":
		return algorithm{name: "sha256", display: "SHA-256", size: 32}, nil
	case "sha512":
		return algorithm{name: "sha512", display: "SHA-512", size: 64}, nil
	}
	return algorithm{}, fmt.Errorf("%w %q: expected sha256 or sha512", ErrUnsupportedAlgorithm, algo)
}

// ParseChecksumFile parses the contents of a .sha256 or .sha512 file. algo is
// "sha256" or "sha512" (the file's suffix) and fixes the digest length.
//
// Accepted formats, which may not be mixed with a bare digest:
//
//	e3b0c442...                                  bare digest (any case)
//	E7C22B99 4C59D9CF ...                        bare digest in groups
//	e3b0c442...  name / e3b0c442... *name        sha512sum, shasum (one per line)
//	SHA512 (name) = e3b0c442...                  BSD, sha512sum --tag
//	SHA2-512(name)= e3b0c442...                  openssl dgst
//	name: E7C22B99 4C59D9CF ...                  gpg --print-md, wrapped over
//	      63604593 0D3DA7C1 ...                  several lines
//
// A UTF-8 BOM, CRLF line endings, blank lines and lines starting with '#' are
// ignored. GNU's backslash escaping of odd file names is not supported. Every
// returned entry has a digest of the algorithm's length. Errors about the
// contents wrap ErrMalformedChecksum and say what was expected.
func ParseChecksumFile(data []byte, algo string) ([]ChecksumEntry, error) {
	alg, err := lookupAlgorithm(algo)
	if err != nil {
		return nil, err
	}
	if len(data) > MaxChecksumFileSize {
		return nil, fmt.Errorf("%w: the file is %d bytes; a .%s file is at most %d bytes", ErrMalformedChecksum, len(data), alg.name, MaxChecksumFileSize)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: the file is not UTF-8 text; expected a %s digest in hex", ErrMalformedChecksum, alg.display)
	}
	text := strings.TrimPrefix(string(data), "\ufeff")
	want := 2 * alg.size // hex characters

	// A file made only of hex digits and white space may be one bare digest,
	// perhaps split into groups or lines (gpg output with the name removed).
	// When the length is wrong it may instead be a GNU line whose file name
	// happens to be hex, so only a single token is reported here.
	if trimmed := strings.TrimSpace(text); trimmed != "" && isHexAndSpace(trimmed) {
		digest := removeSpace(trimmed)
		if len(digest) == want {
			return []ChecksumEntry{{Digest: mustDecodeHex(digest)}}, nil
		}
		if digest == trimmed {
			return nil, fmt.Errorf("%w: expected a %s digest of %d hex characters, found %d", ErrMalformedChecksum, alg.display, want, len(digest))
		}
	}

	// Trailing blank lines carry nothing; dropping them lets a truncated gpg
	// digest be reported as such rather than as an unexpected blank line.
	text = strings.TrimRight(text, " \t\r\n")
	p := parser{alg: alg, want: want}
	for i, raw := range strings.Split(text, "\n") {
		if err := p.line(i+1, strings.TrimRight(raw, " \t\r")); err != nil {
			return nil, err
		}
	}
	if p.pending != nil {
		return nil, fmt.Errorf("%w: line %d: the file ends in the middle of the gpg --print-md digest for %q: found %d of %d hex characters", ErrMalformedChecksum, p.pendingLine, p.pending.Name, len(p.pendingHex), want)
	}
	if len(p.entries) == 0 {
		return nil, fmt.Errorf("%w: the file holds no digest; expected a %s digest of %d hex characters, optionally followed by the file name", ErrMalformedChecksum, alg.display, want)
	}
	for _, e := range p.entries {
		if e.Name == "" && len(p.entries) > 1 {
			return nil, fmt.Errorf("%w: a digest without a file name is only allowed when it is the only one in the file; expected one `DIGEST  NAME` line per file", ErrMalformedChecksum)
		}
	}
	return p.entries, nil
}

// parser holds the state of ParseChecksumFile between lines: gpg --print-md
// wraps one digest over several lines.
type parser struct {
	alg     algorithm
	want    int // hex characters per digest
	entries []ChecksumEntry

	pending     *ChecksumEntry // gpg entry still collecting hex
	pendingHex  string
	pendingLine int
	lastGPGName string // name of the gpg entry completed on the previous line, if any
}

// line consumes one line, already stripped of trailing white space.
func (p *parser) line(n int, line string) error {
	if p.pending != nil {
		return p.continuation(n, line)
	}
	line = strings.TrimLeft(line, " \t")
	if line == "" || line[0] == '#' {
		p.lastGPGName = ""
		return nil
	}
	// More hex right after a complete gpg digest means the digest is longer
	// than the algorithm's (a .sha512 digest in a .sha256 file, say).
	if p.lastGPGName != "" && isHexAndSpace(line) {
		return p.errorf(n, line, "the gpg --print-md digest for %q is too long: expected %d hex characters for %s", p.lastGPGName, p.want, p.alg.display)
	}
	p.lastGPGName = ""

	// GNU: the first token is the digest, the rest (if any) the name.
	token, rest := line, ""
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		token, rest = line[:i], line[i:]
	}
	if isHex(token) {
		if len(token) != p.want {
			return p.errorf(n, line, "expected a %s digest of %d hex characters, found %d", p.alg.display, p.want, len(token))
		}
		name := strings.TrimLeft(rest, " \t")
		name = strings.TrimPrefix(name, "*") // GNU binary-mode marker
		p.entries = append(p.entries, ChecksumEntry{Name: name, Digest: mustDecodeHex(token)})
		return nil
	}

	// gpg --print-md: "name: HEX HEX ...", the digest possibly continuing on
	// the following lines. Hex has no ':', so the last colon ends the name.
	// Tried before BSD because a name may contain '(' or '='.
	if colon := strings.LastIndexByte(line, ':'); colon > 0 && isHexAndSpace(line[colon+1:]) {
		name := strings.TrimRight(line[:colon], " \t")
		p.pending = &ChecksumEntry{Name: name}
		p.pendingHex = ""
		p.pendingLine = n
		return p.addHex(n, line, line[colon+1:])
	}

	if tag, name, digest, ok := parseBSD(line); ok {
		if algo := bsdAlgorithm(tag); algo != p.alg.name {
			return p.errorf(n, line, "the line is for %s, but this is a .%s file; expected %s", tag, p.alg.name, p.alg.display)
		}
		if !isHex(digest) || len(digest) != p.want {
			return p.errorf(n, line, "expected a %s digest of %d hex characters after '=', found %q", p.alg.display, p.want, shorten(digest))
		}
		p.entries = append(p.entries, ChecksumEntry{Name: name, Digest: mustDecodeHex(digest)})
		return nil
	}

	return p.errorf(n, line, "unrecognised line; expected a bare digest, `DIGEST  NAME` (sha512sum), `SHA512 (NAME) = DIGEST` (BSD) or `NAME: DIGEST` (gpg --print-md)")
}

// continuation consumes a line while a gpg --print-md digest is incomplete.
// gpg indents continuation lines unless the name was long, so indentation
// is not required; only hex groups are.
func (p *parser) continuation(n int, line string) error {
	if !isHexAndSpace(line) || strings.TrimSpace(line) == "" {
		return p.errorf(n, line, "expected the rest of the gpg --print-md digest for %q (%d of %d hex characters so far)", p.pending.Name, len(p.pendingHex), p.want)
	}
	return p.addHex(n, line, line)
}

// addHex appends hex groups to the pending gpg entry and completes it once
// the digest has its full length.
func (p *parser) addHex(n int, line, groups string) error {
	p.pendingHex += removeSpace(groups)
	switch {
	case len(p.pendingHex) > p.want:
		return p.errorf(n, line, "the gpg --print-md digest for %q is too long: expected %d hex characters for %s, found %d", p.pending.Name, p.want, p.alg.display, len(p.pendingHex))
	case len(p.pendingHex) == p.want:
		p.pending.Digest = mustDecodeHex(p.pendingHex)
		p.entries = append(p.entries, *p.pending)
		p.lastGPGName = p.pending.Name
		p.pending = nil
		p.pendingHex = ""
	}
	return nil
}

func (p *parser) errorf(n int, line, format string, args ...any) error {
	return fmt.Errorf("%w: line %d (%q): %s", ErrMalformedChecksum, n, shorten(line), fmt.Sprintf(format, args...))
}

// parseBSD splits "TAG (name) = digest" and "TAG(name)= digest". ok is false
// when the line does not have that shape.
func parseBSD(line string) (tag, name, digest string, ok bool) {
	open := strings.IndexByte(line, '(')
	eq := strings.LastIndexByte(line, '=')
	if open <= 0 || eq < open {
		return "", "", "", false
	}
	tag = strings.TrimRight(line[:open], " ")
	if !isTag(tag) {
		return "", "", "", false
	}
	head := strings.TrimRight(line[:eq], " ")
	if len(head) <= open+1 || head[len(head)-1] != ')' {
		return "", "", "", false
	}
	return tag, head[open+1 : len(head)-1], strings.TrimSpace(line[eq+1:]), true
}

// bsdAlgorithm maps a BSD or openssl tag (SHA512, SHA-512, SHA2-512) to the
// algorithm name used by ParseChecksumFile, or "" when unknown.
func bsdAlgorithm(tag string) string {
	switch strings.ToUpper(strings.ReplaceAll(tag, "-", "")) {
	case "SHA256", "SHA2256":
		return "sha256"
	case "SHA512", "SHA2512":
		return "sha512"
	}
	return ""
}

// isTag reports whether s looks like an algorithm tag: a letter followed by
// letters, digits and hyphens.
func isTag(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		if !letter && (i == 0 || !((c >= '0' && c <= '9') || c == '-')) {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func isHexAndSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isHexDigit(c) && c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func removeSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

// mustDecodeHex decodes a string already checked by isHex with an even
// length; callers guarantee that, so a failure is a bug in this file.
func mustDecodeHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(fmt.Sprintf("rules: decoding checked hex: %v", err))
	}
	return b
}

// shorten keeps error messages readable when a line is huge.
func shorten(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// MatchChecksum decides whether parsed checksum entries vouch for an
// artifact. artifactName is the artifact's path in the release (only its
// base name is compared) and digest its actual digest, computed at upload.
//
// A named entry must carry the artifact's base name, optionally prefixed with
// "./" or the GNU binary marker "*"; a lone bare digest applies to whatever
// file it sits next to. When the file lists several artifacts, the line for
// this one is used and the others are ignored.
func MatchChecksum(entries []ChecksumEntry, artifactName string, digest []byte) Verdict {
	base := path.Base(artifactName)
	display := digestDisplay(len(digest))
	if len(entries) == 0 {
		return fail(CodeChecksumMalformed, "the checksum file for %s holds no digest; expected the %s of %s", base, display, base)
	}

	var match *ChecksumEntry
	if len(entries) == 1 && entries[0].Name == "" {
		match = &entries[0]
	} else {
		for i := range entries {
			if normalizeEntryName(entries[i].Name) != base {
				continue
			}
			if match != nil && !bytes.Equal(match.Digest, entries[i].Digest) {
				return fail(CodeChecksumAmbiguous, "the checksum file lists %s twice with different digests (%s and %s); expected exactly one digest for it: remove the wrong line", base, hexPrefix(match.Digest), hexPrefix(entries[i].Digest))
			}
			match = &entries[i]
		}
	}
	if match == nil {
		if len(entries) == 1 {
			return fail(CodeChecksumWrongName, "the checksum file is for %q, but the artifact is %q; expected the name %q (or no name): regenerate the checksum file from %s", shorten(entries[0].Name), base, base, base)
		}
		return fail(CodeChecksumMissingEntry, "the checksum file lists %d files (%s) but none is %q; expected a line for %s: add it or regenerate the file", len(entries), listNames(entries), base, base)
	}

	if len(match.Digest) != len(digest) {
		return fail(CodeChecksumMalformed, "the checksum file holds a %d-byte digest for %s, but the artifact's %s is %d bytes; expected the two to use the same algorithm", len(match.Digest), base, display, len(digest))
	}
	if !bytes.Equal(match.Digest, digest) {
		return fail(CodeChecksumMismatch, "checksum mismatch for %s: the checksum file says %s, but the artifact's %s is %s; the artifact or the checksum file is wrong: re-upload the artifact or regenerate the checksum file from it", base, hexPrefix(match.Digest), display, hexPrefix(digest))
	}
	return Verdict{
		Passed:  true,
		Status:  StatusNote,
		Code:    CodeChecksumOK,
		Message: fmt.Sprintf("the %s of %s matches the checksum file (%s)", display, base, hexPrefix(digest)),
	}
}

// CheckChecksumFile parses a checksum file and matches it against the
// artifact in one step, turning a malformed file into a failed Verdict and a
// misuse (unsupported algorithm) into an exception.
func CheckChecksumFile(data []byte, algo, artifactName string, digest []byte) Verdict {
	entries, err := ParseChecksumFile(data, algo)
	switch {
	case errors.Is(err, ErrUnsupportedAlgorithm):
		return Verdict{Status: StatusException, Code: CodeChecksumInternal, Message: err.Error()}
	case err != nil:
		return fail(CodeChecksumMalformed, "the checksum file for %s cannot be read: %v", path.Base(artifactName), err)
	}
	return MatchChecksum(entries, artifactName, digest)
}

func fail(code, format string, args ...any) Verdict {
	return Verdict{Status: StatusBlocker, Code: code, Message: fmt.Sprintf(format, args...)}
}

// normalizeEntryName strips the prefixes that tools put in front of a plain
// file name: GNU's binary marker and "./" from `sha512sum ./name`.
func normalizeEntryName(name string) string {
	name = strings.TrimPrefix(name, "*")
	return strings.TrimPrefix(name, "./")
}

// hexPrefix shows enough of a digest to tell two apart without flooding the
// message: the first 16 hex characters.
func hexPrefix(d []byte) string {
	s := hex.EncodeToString(d)
	if len(s) > 16 {
		return s[:16] + "..."
	}
	return s
}

func digestDisplay(size int) string {
	switch size {
	case 32:
		return "SHA-256"
	case 64:
		return "SHA-512"
	}
	return "digest"
}

// listNames names up to three entries, for messages.
func listNames(entries []ChecksumEntry) string {
	const max = 3
	var names []string
	for i, e := range entries {
		if i == max {
			names = append(names, fmt.Sprintf("and %d more", len(entries)-max))
			break
		}
		names = append(names, fmt.Sprintf("%q", shorten(e.Name)))
	}
	return strings.Join(names, ", ")
}
