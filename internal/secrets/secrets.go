// Package secrets recognises private key material and credential files, so
// that trel never stores or publishes them: OpenPGP secret keys (armored or
// binary), PEM private keys (PKCS#1, PKCS#8, EC, DSA, OpenSSH, encrypted),
// DER private keys, PKCS#12 and Java key stores, PuTTY and GnuPG agent key
// files, and credential files (.npmrc tokens, .pypirc passwords, AWS
// credentials, .netrc passwords, Docker auths, API tokens of GitHub,
// GitLab, npm, PyPI, Slack and trel).
//
// A Scanner is fed the bytes of an upload as they stream past (in the same
// pass that hashes them) and keeps a bounded amount of state: the first 16
// KiB, to recognise binary formats by their structure, and for text files
// the current line (at most 4 KiB of it). Text saved as UTF-16 (by
// Windows tools), with a UTF-8 byte order mark or with CR line ends is
// read as the lines it holds; base64 of a PEM key (kubeconfig's
// client-key-data) is decoded. Binary files (a NUL byte in the first 16
// KiB) are judged by their start only: archives are not opened here. A
// Finding never carries any byte of the secret.
package secrets

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Version identifies the rules; a stored scan result of an older version
// is not trusted.
const Version = 3 // 2: age, minisign, signify, encodings; 3: trel CI credentials (trelci_)

const (
	prefixSize = 16 << 10 // bytes kept to judge a file by its start
	maxLine    = 4 << 10  // longest line kept across writes
)

// ErrSecret is matched (errors.Is) by every *Finding.
var ErrSecret = errors.New("private key material or credentials")

// Finding says what kind of secret was found. It never holds the secret.
type Finding struct {
	Kind string // e.g. "an OpenSSH private key", "an npm token"
}

func (f *Finding) Error() string {
	return "this file holds " + f.Kind + "; it was not stored. Anything that has seen it must be considered to have a copy: " +
		"treat the key or token as compromised, revoke it and create a new one. Upload only public keys, signatures and release files"
}

// Is makes errors.Is(err, ErrSecret) true.
func (f *Finding) Is(target error) bool { return target == ErrSecret }

// Scanner looks for secrets in a stream written to it. Write returns the
// *Finding as its error as soon as one is found; Close judges the end of
// the stream. The zero value is not usable: call NewScanner.
type Scanner struct {
	prefix  []byte
	decided bool // prefix judged: binary or text
	text    bool
	found   *Finding

	carry    []byte // the current, incomplete line (at most maxLine bytes)
	carryCut bool   // the current line was longer than maxLine

	enc    textEncoding
	pend   []byte // UTF-16 bytes carried to the next write (half a unit or a surrogate pair)
	nested bool   // scanning decoded base64: no further decoding

	pem        pemState
	pypi       bool // inside a .pypirc section
	netrc      bool // after a .netrc "machine" line
	dockerAuth bool // after a Docker config's "auths"
}

// NewScanner returns a Scanner for one stream.
func NewScanner() *Scanner { return &Scanner{prefix: make([]byte, 0, prefixSize)} }

// Found returns the finding, or nil.
func (s *Scanner) Found() *Finding { return s.found }

// Done reports whether the rest of the stream cannot change the verdict:
// a secret was found, or the file is binary and its start was judged.
func (s *Scanner) Done() bool { return s.found != nil || (s.decided && !s.text) }

// Write implements io.Writer. It never fails for any other reason than a
// finding.
func (s *Scanner) Write(p []byte) (int, error) {
	if s.found != nil {
		return 0, s.found
	}
	n := len(p)
	if !s.decided {
		take := min(len(p), prefixSize-len(s.prefix))
		s.prefix = append(s.prefix, p[:take]...)
		p = p[take:]
		if len(s.prefix) < prefixSize {
			return n, nil
		}
		s.decide()
		if s.found != nil {
			return 0, s.found
		}
	}
	if s.text && len(p) > 0 {
		s.lines(s.decode(p))
	}
	if s.found != nil {
		return 0, s.found
	}
	return n, nil
}

// Close judges what remains at the end of the stream and returns the
// finding, if any.
func (s *Scanner) Close() error {
	if s.found == nil && !s.decided {
		s.decide()
	}
	if s.found == nil && s.text && (len(s.carry) > 0 || s.carryCut) {
		s.line(s.carry)
		s.carry, s.carryCut = s.carry[:0], false
	}
	if s.found == nil {
		s.pem.end(s)
	}
	if s.found != nil {
		return s.found
	}
	return nil
}

// decide judges the buffered start of the stream, then feeds it to the
// line scanner when it is text.
func (s *Scanner) decide() {
	s.decided = true
	if kind := binaryKind(s.prefix, len(s.prefix) < prefixSize); kind != "" {
		s.found = &Finding{Kind: kind}
		return
	}
	b := s.prefix
	s.prefix = nil
	switch enc, bom := utf16Of(b); {
	case enc != utf8Text:
		s.text, s.enc = true, enc
		b = b[bom:]
	case bytes.IndexByte(b, 0) >= 0:
		return // binary
	default:
		s.text = true
		b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		if bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') >= 0 {
			s.enc = crText
		}
	}
	s.lines(s.decode(b))
}

// textEncoding says how the bytes of a text file become UTF-8 lines.
type textEncoding int

const (
	utf8Text textEncoding = iota
	crText                // lines end with CR alone
	utf16LE
	utf16BE
)

// utf16Of recognises UTF-16 text by its byte order mark, or without one by
// its first characters being ASCII with a zero high byte; bom is the
// length of the mark.
func utf16Of(b []byte) (enc textEncoding, bom int) {
	switch {
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}):
		return utf16LE, 2
	case bytes.HasPrefix(b, []byte{0xfe, 0xff}):
		return utf16BE, 2
	case len(b) < 8:
		return utf8Text, 0
	}
	le, be := true, true
	for i := 0; i+1 < min(len(b), 64); i += 2 {
		ascii := func(c byte) bool { return c == '\t' || c == '\n' || c == '\r' || (c >= 0x20 && c < 0x7f) }
		le = le && ascii(b[i]) && b[i+1] == 0
		be = be && b[i] == 0 && ascii(b[i+1])
	}
	switch {
	case le:
		return utf16LE, 0
	case be:
		return utf16BE, 0
	}
	return utf8Text, 0
}

// decode turns the bytes of a text file into UTF-8 with '\n' line ends.
func (s *Scanner) decode(p []byte) []byte {
	switch s.enc {
	case crText:
		return bytes.ReplaceAll(p, []byte("\r"), []byte("\n"))
	case utf16LE, utf16BE:
	default:
		return p
	}
	if len(s.pend) > 0 {
		p = append(append([]byte(nil), s.pend...), p...)
	}
	unit := func(i int) rune {
		if s.enc == utf16LE {
			return rune(p[i]) | rune(p[i+1])<<8
		}
		return rune(p[i])<<8 | rune(p[i+1])
	}
	out := make([]byte, 0, len(p))
	i := 0
	for ; i+1 < len(p); i += 2 {
		r := unit(i)
		if utf16.IsSurrogate(r) && r < 0xdc00 {
			if i+3 >= len(p) {
				break // the low half comes with the next write
			}
			r = utf16.DecodeRune(r, unit(i+2))
			i += 2
		}
		out = utf8.AppendRune(out, r)
	}
	s.pend = append(s.pend[:0], p[i:]...)
	return out
}

// lines splits p into lines, joining the carried partial line, and checks
// the complete ones.
func (s *Scanner) lines(p []byte) {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		s.keep(p)
		return
	}
	if len(s.carry) > 0 || s.carryCut {
		s.keep(p[:i])
		s.line(s.carry)
		s.carry, s.carryCut = s.carry[:0], false
	} else {
		s.line(p[:i])
	}
	p = p[i+1:]
	last := bytes.LastIndexByte(p, '\n')
	if last >= 0 {
		s.complete(p[:last+1])
		p = p[last+1:]
	}
	s.keep(p)
}

// complete checks the lines of full (complete lines, each ending with
// '\n'): every line while a multi-line state is pending, otherwise only
// the lines holding an anchor. Each anchor's next occurrence is searched
// forward only, so a piece costs one pass per anchor.
func (s *Scanner) complete(full []byte) {
	next := make([]int, len(anchors)) // absolute position of each anchor's next occurrence; -1: none left
	for i := range next {
		next[i] = -2 // not searched yet
	}
	for off := 0; off < len(full) && s.found == nil; {
		start := off
		if !(s.pem.active() || s.netrc || s.dockerAuth) {
			nearest := -1
			for i, a := range anchors {
				if next[i] == -1 {
					continue
				}
				if next[i] < off {
					j := bytes.Index(full[off:], a)
					if j < 0 {
						next[i] = -1
						continue
					}
					next[i] = off + j
				}
				if nearest < 0 || next[i] < nearest {
					nearest = next[i]
				}
			}
			if nearest < 0 {
				return
			}
			start = max(off, bytes.LastIndexByte(full[:nearest], '\n')+1)
		}
		end := start + bytes.IndexByte(full[start:], '\n')
		s.line(full[start:end])
		off = end + 1
	}
}

// keep appends to the carried line, up to maxLine bytes.
func (s *Scanner) keep(p []byte) {
	room := maxLine - len(s.carry)
	if len(p) > room {
		p, s.carryCut = p[:max(room, 0)], true
	}
	s.carry = append(s.carry, p...)
}

// Scan judges a whole file held in memory (key uploads, tests).
func Scan(data []byte) *Finding {
	s := NewScanner()
	s.Write(data)
	s.Close()
	return s.found
}

// Reader passes a stream through while scanning it. At the end of the
// stream it judges the rest, and returns the finding instead of io.EOF, so
// that whoever copies the stream (the blob store) fails before keeping
// anything.
type Reader struct {
	r io.Reader
	s *Scanner
}

// NewReader wraps r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r, s: NewScanner()} }

// Found returns the finding, or nil.
func (r *Reader) Found() *Finding { return r.s.found }

// drainLimit bounds what Reader reads after a finding, so that an HTTP
// client that is still sending gets the refusal instead of a reset.
const drainLimit = 64 << 20

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if r.s.found != nil {
		return 0, r.s.found
	}
	n, err := r.r.Read(p)
	if n > 0 {
		if _, werr := r.s.Write(p[:n]); werr != nil {
			io.Copy(io.Discard, io.LimitReader(r.r, drainLimit))
			return 0, werr
		}
	}
	if err == io.EOF {
		if cerr := r.s.Close(); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

// SecretName recognises file names that are private keys or credential
// files whatever they hold: SSH identities (id_rsa, id_ed25519, ... but not
// their .pub), PuTTY keys, GnuPG secret keyrings, and the credential files
// of npm, PyPI, netrc and git. Names that may as well hold public data
// (.p12 trust stores, .jks, .pem) are judged by their content at upload.
func SecretName(base string) (kind string, ok bool) {
	lower := strings.ToLower(base)
	switch lower {
	case ".npmrc":
		return "an npm configuration file (.npmrc), which holds registry tokens", true
	case ".pypirc":
		return "a PyPI configuration file (.pypirc), which holds upload passwords and tokens", true
	case ".netrc", "_netrc":
		return "a .netrc file, which holds passwords", true
	case ".git-credentials":
		return "a git credentials file", true
	case "secring.gpg", "secring.skr":
		return "a GnuPG secret keyring", true
	}
	if strings.HasPrefix(lower, "id_") && !strings.Contains(lower, ".") {
		for _, k := range []string{"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", "id_xmss"} {
			if lower == k || strings.HasPrefix(lower, k+"_") || strings.HasPrefix(lower, k+"-") {
				return "an SSH private key (" + k + ")", true
			}
		}
	}
	if strings.HasSuffix(lower, ".ppk") && len(lower) > 4 {
		return "a PuTTY private key", true
	}
	return "", false
}
