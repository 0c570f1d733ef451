package secrets

import (
	"bytes"
	"encoding/base64"
	"regexp"
)

// anchors are substrings one of which every secret line contains (or the
// line that starts a multi-line secret): other lines are not looked at.
var anchors = [][]byte{
	[]byte("PRIVATE KEY"), []byte("PuTTY-User-Key-File-"), []byte("private-key"),
	[]byte("_auth"), []byte("_password"), []byte("assword"), []byte("ASSWORD"),
	[]byte("[pypi"), []byte("[testpypi"), []byte("[distutils"), []byte("[server-login"),
	[]byte("ws_secret_access_key"), []byte("WS_SECRET_ACCESS_KEY"), []byte("ws_session_token"), []byte("WS_SESSION_TOKEN"),
	[]byte("machine"), []byte(`"auths"`),
	[]byte("ghp_"), []byte("gho_"), []byte("ghu_"), []byte("ghs_"), []byte("ghr_"), []byte("github_pat_"),
	[]byte("glpat-"), []byte("npm_"), []byte("pypi-AgEIcHlwaS5vcmc"), []byte("xox"), []byte("trel_"),
	[]byte("trelci_"),
	[]byte("AGE-SECRET-KEY-1"), []byte("untrusted comment:"), base64PEMStart,
}

// base64PEMStart is base64 of "-----BEGIN": a PEM file encoded again, as
// kubeconfig's client-key-data and many CI secrets hold them.
var base64PEMStart = []byte("LS0tLS1CRUdJTi")

func contains(l []byte, subs ...string) bool {
	for _, s := range subs {
		if bytes.Contains(l, []byte(s)) {
			return true
		}
	}
	return false
}

// Credential lines. Values that refer to the environment (${NPM_TOKEN})
// or are placeholders (<token>) hold no secret.
var (
	// A PEM or armor header of a private key, alone on its line.
	pemBegin = regexp.MustCompile(`^-{4,5} ?BEGIN ([A-Z0-9 ]*PRIVATE KEY( BLOCK)?) ?-{4,5}$`)
	// The same inside a string with escaped newlines (JSON, YAML).
	pemInline = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(\\r)?\\n[A-Za-z0-9+/=]{64}`)
	npmrc     = regexp.MustCompile(`^\s*(//\S*:)?(_authToken|_auth|_password)\s*=\s*("?)([^\s"$<][^\s"]*)`)
	pypiPass  = regexp.MustCompile(`(?i)^\s*password\s*[=:]\s*([^\s$%<][^\s<>]*)\s*$`)
	pypiHead  = regexp.MustCompile(`(?i)^\s*\[(pypi|testpypi|distutils|server-login)\]`)
	awsSecret = regexp.MustCompile(`(?i)(aws_secret_access_key|aws_session_token)\s*[=:]\s*["']?([A-Za-z0-9/+=]{40,})`)
	netrcHead = regexp.MustCompile(`^\s*(machine\s+\S+|default)((\s+(login|password|account|port)\s+\S+)*)\s*$`)
	netrcPass = regexp.MustCompile(`^\s*((login|account|port)\s+\S+\s+)*password\s+\S+(\s+(login|account|port)\s+\S+)*\s*$`)
	dockerKey = regexp.MustCompile(`"auth"\s*:\s*"([A-Za-z0-9+/=]{8,})"`)
	gpgAgent  = regexp.MustCompile(`^(Key:\s*)?\((protected-)?private-key\b`)
	putty     = regexp.MustCompile(`^PuTTY-User-Key-File-\d+:`)
	// minisign, rsign and signify key files start with this comment line;
	// the key follows in base64 on the next line.
	untrusted = regexp.MustCompile(`^untrusted comment: (\S+)( encrypted)? secret key`)
	ageSecret = regexp.MustCompile(`\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{50,}\b`)
)

// tokens are API tokens whose format is distinctive enough to find
// anywhere in text; group 1 is the random part, which must look random.
var tokens = []struct {
	prefix []string
	re     *regexp.Regexp
	kind   string
}{
	{[]string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}, regexp.MustCompile(`\bgh[pousr]_([A-Za-z0-9]{36})\b`), "a GitHub token"},
	{[]string{"github_pat_"}, regexp.MustCompile(`\bgithub_pat_([A-Za-z0-9_]{82})\b`), "a GitHub fine-grained token"},
	{[]string{"glpat-"}, regexp.MustCompile(`\bglpat-([A-Za-z0-9_-]{20,})\b`), "a GitLab token"},
	{[]string{"npm_"}, regexp.MustCompile(`\bnpm_([A-Za-z0-9]{36})\b`), "an npm token"},
	{[]string{"pypi-AgEIcHlwaS5vcmc"}, regexp.MustCompile(`\bpypi-AgEIcHlwaS5vcmc([A-Za-z0-9_-]{50,})`), "a PyPI token"},
	{[]string{"xox"}, regexp.MustCompile(`\bxox[baprs]-([0-9]{6,}-[0-9A-Za-z-]{10,})`), "a Slack token"},
	{[]string{"trel_"}, regexp.MustCompile(`\btrel_([A-Za-z0-9_-]{43})\b`), "a trel API token"},
	{[]string{"trelci_"}, regexp.MustCompile(`\btrelci_([A-Za-z0-9_-]{43})\b`), "a trel CI credential"},
}

// line checks one complete line (without its newline). Each rule first
// looks for a cheap substring, so that long texts cost little.
func (s *Scanner) line(l []byte) {
	l = bytes.TrimSuffix(l, []byte("\r"))
	if s.pem.active() {
		s.pem.next(s, l)
		if s.found != nil || s.pem.active() {
			return
		}
	}
	t := bytes.TrimSpace(l)
	if len(t) == 0 {
		return
	}
	found := func(kind string) { s.found = &Finding{Kind: kind} }
	switch t[0] {
	case '-':
		if m := pemBegin.FindSubmatch(t); m != nil {
			s.pem.start(string(m[1]))
			return
		}
	case 'P':
		if putty.Match(t) {
			found("a PuTTY private key")
			return
		}
	case '(', 'K':
		if gpgAgent.Match(t) {
			found("a GnuPG agent private key")
			return
		}
	case '[':
		s.pypi = pypiHead.Match(t)
	case 'u':
		if m := untrusted.FindSubmatch(t); m != nil {
			s.pem.start(string(m[1]) + " secret key")
			return
		}
	}
	if contains(l, "AGE-SECRET-KEY-1") && ageSecret.Match(l) {
		found("an age secret key (identity)")
		return
	}
	if !s.nested && bytes.Contains(l, base64PEMStart) {
		if kind := base64PEM(l); kind != "" {
			found(kind + ", encoded in base64")
			return
		}
	}
	if contains(l, "PRIVATE KEY-----") && pemInline.Match(l) {
		found("a private key embedded in text (escaped PEM)")
		return
	}
	if contains(l, "_auth", "_password") {
		if m := npmrc.FindSubmatch(l); m != nil {
			found("an npm registry credential (" + string(m[2]) + ")")
			return
		}
	}
	if s.pypi && contains(l, "assword", "ASSWORD") && pypiPass.Match(l) && !contains(l, "...") {
		found("a PyPI upload password (.pypirc)")
		return
	}
	if contains(l, "ws_secret_access_key", "WS_SECRET_ACCESS_KEY", "ws_session_token", "WS_SESSION_TOKEN") {
		if m := awsSecret.FindSubmatch(l); m != nil && !bytes.Contains(m[2], []byte("EXAMPLE")) {
			found("an AWS secret access key")
			return
		}
	}
	netrcStart := bytes.HasPrefix(t, []byte("machine")) || bytes.HasPrefix(t, []byte("default"))
	if m := netrcHead.FindSubmatch(t); netrcStart && m != nil {
		s.netrc = true
		if bytes.Contains(m[2], []byte("password")) {
			found("a .netrc password")
			return
		}
	} else if s.netrc {
		if netrcPass.Match(t) {
			found("a .netrc password")
			return
		}
		s.netrc = bytes.HasPrefix(t, []byte("login")) || bytes.HasPrefix(t, []byte("account")) || bytes.HasPrefix(t, []byte("macdef"))
	}
	if contains(l, `"auths"`) {
		s.dockerAuth = true
	}
	if s.dockerAuth && contains(l, `"auth"`) && dockerKey.Match(l) {
		found("a container registry credential (Docker config auths)")
		return
	}
	for _, tk := range tokens {
		if !contains(l, tk.prefix...) {
			continue
		}
		for _, m := range tk.re.FindAllSubmatch(l, 4) {
			if looksRandom(m[1]) {
				found(tk.kind)
				return
			}
		}
	}
}

// base64PEM decodes the base64 runs of l that start with base64PEMStart
// (at most four) and scans what they hold.
func base64PEM(l []byte) string {
	rest := l
	for range 4 {
		i := bytes.Index(rest, base64PEMStart)
		if i < 0 {
			return ""
		}
		run := rest[i:]
		if end := bytes.IndexFunc(run, func(r rune) bool { return !isBase64Char(byte(r)) || r >= 0x80 }); end >= 0 {
			run = run[:end]
		}
		run = run[:len(run)/4*4]
		dec := make([]byte, base64.StdEncoding.DecodedLen(len(run)))
		n, _ := base64.StdEncoding.Decode(dec, run)
		sub := NewScanner()
		sub.nested = true
		sub.Write(dec[:n])
		sub.Close()
		if sub.found != nil {
			return sub.found.Kind
		}
		rest = rest[i+len(base64PEMStart):]
	}
	return ""
}

// looksRandom tells a real token from a placeholder such as
// ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx: it needs digits, lower- and
// upper-case letters, and no character repeated for most of its length.
func looksRandom(b []byte) bool {
	var digit, lower, upper bool
	counts := map[byte]int{}
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		}
		counts[c]++
	}
	if !(digit && lower && upper) {
		return false
	}
	for _, n := range counts {
		if n*3 > len(b) {
			return false
		}
	}
	return len(counts) >= 8
}

// pemState follows a private key header to its body: a header line alone
// (in documentation, say) is not a key; 64 or more base64 characters after
// it are.
type pemState struct {
	kind    string // the armor type; "" when no header is pending
	base64  int    // base64 characters seen in the body
	headers int    // "Key: value" or blank lines seen before the body
}

func (p *pemState) active() bool { return p.kind != "" }

func (p *pemState) start(kind string) { *p = pemState{kind: kind} }

func (p *pemState) next(s *Scanner, l []byte) {
	t := bytes.TrimSpace(l)
	switch {
	case len(t) == 0 || (p.base64 == 0 && bytes.IndexByte(t, ':') > 0 && p.headers < 10):
		p.headers++
		if p.headers > 10 {
			p.kind = ""
		}
		return
	case isBase64Line(t):
		p.base64 += len(t)
		if p.base64 >= 64 {
			s.found = &Finding{Kind: "a private key (" + p.kind + ")"}
		}
		return
	}
	p.kind = "" // documentation, not a key
}

// end judges a header left pending at the end of the stream.
func (p *pemState) end(s *Scanner) {
	if p.kind != "" && p.base64 >= 64 {
		s.found = &Finding{Kind: "a private key (" + p.kind + ")"}
	}
	p.kind = ""
}

func isBase64Line(t []byte) bool {
	for _, c := range t {
		if !isBase64Char(c) {
			return false
		}
	}
	return len(t) > 0
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='
}
