package domain

import (
	"net/url"
	"path"
	"strings"
)

// ArchivePolicy is the policy group of the archive and licence checks: the
// project licence, the third-party licences allowed, where the tagged
// source lives, and limits tighter than trel's hard ones (zero: the hard
// limit).
type ArchivePolicy struct {
	License         string   `json:"license"`
	AllowedLicenses []string `json:"allowed_licenses"`
	// SourceRepo is a git URL (https, http, git or ssh); SourceTag a tag
	// pattern in which {version} is the release version.
	SourceRepo string `json:"source_repo,omitempty"`
	SourceTag  string `json:"source_tag,omitempty"`
	// SourceAllow: gitignore patterns of files that may differ between a
	// source archive and its tag (generated files).
	SourceAllow []string `json:"source_allow"`
	// HeaderIgnore: gitignore patterns of files exempt from licence headers.
	HeaderIgnore    []string `json:"header_ignore"`
	MaxUnpackedSize int64    `json:"max_unpacked_size,omitempty"`
	MaxMembers      int      `json:"max_members,omitempty"`
	MaxRatio        int      `json:"max_ratio,omitempty"`
}

// categoryA mirrors rules.CategoryA (domain cannot import checks).
var categoryA = []string{
	"Apache-2.0", "Apache-1.1", "PHP-3.01", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "PostgreSQL",
	"MIT", "MIT-0", "X11", "ISC", "SMLNJ", "ICU", "NCSA", "W3C", "W3C-19980720", "W3C-20150513",
	"Xnet", "Zlib", "Libpng", "libpng-2.0", "AFL-3.0", "MS-PL", "PDDL-1.0", "ODC-By-1.0",
	"PSF-2.0", "Python-2.0", "BSL-1.0", "Unicode-DFS-2015", "Unicode-DFS-2016", "Unicode-3.0",
	"UPL-1.0", "CC0-1.0", "WTFPL", "Unlicense", "CC-PDDC", "HPND",
}

// CategoryA returns the SPDX ids of the ASF's category A licences.
func CategoryA() []string { return append([]string(nil), categoryA...) }

// DefaultArchivePolicy: Apache-2.0, ASF category A, no source repository.
func DefaultArchivePolicy() ArchivePolicy {
	return ArchivePolicy{License: "Apache-2.0", AllowedLicenses: CategoryA(), SourceAllow: []string{}, HeaderIgnore: []string{}}
}

// SourceTagFor expands the tag pattern for a version.
func (a ArchivePolicy) SourceTagFor(version string) string {
	return strings.ReplaceAll(a.SourceTag, "{version}", version)
}

// Validate checks the archive policy group.
func (a ArchivePolicy) Validate() error {
	if !spdxID(a.License) {
		return Errorf(KindInvalid, "license %q is not an SPDX licence id (e.g. Apache-2.0, MIT)", a.License).On("license")
	}
	for _, id := range a.AllowedLicenses {
		if !spdxID(id) {
			return Errorf(KindInvalid, "allowed licence %q is not an SPDX licence id", id).On("allowed_licenses")
		}
	}
	if a.SourceRepo != "" {
		u, err := url.Parse(a.SourceRepo)
		if err != nil || u.Host == "" || strings.HasPrefix(a.SourceRepo, "-") {
			return Errorf(KindInvalid, "source repository %q is not a URL: use https://host/path.git", a.SourceRepo).On("source_repo")
		}
		if u.User != nil {
			_, password := u.User.Password()
			if password || u.Scheme == "https" || u.Scheme == "http" {
				// Not repeated: the user part may be a token.
				return Errorf(KindInvalid, "the source repository URL carries credentials (a user name or token before @): trel fetches public tags, and the policy is shown to every participant; give the URL without them, and revoke the token if it was a real one")
			}
		}
		switch u.Scheme {
		case "https", "http", "git", "ssh":
		default:
			return Errorf(KindInvalid, "source repository %q: use an https, http, git or ssh URL", a.SourceRepo).On("source_repo")
		}
		if !strings.Contains(a.SourceTag, "{version}") {
			return Errorf(KindInvalid, "with a source repository, the source tag pattern must contain {version} (e.g. v{version} or rel/{version})").On("source_tag")
		}
	}
	if t := a.SourceTagFor("1.0"); a.SourceTag != "" && (strings.ContainsAny(t, " ~^:?*[\\") || strings.HasPrefix(t, "-") || strings.Contains(t, "..") || path.Clean(t) != t) {
		return Errorf(KindInvalid, "source tag pattern %q is not a valid git tag name", a.SourceTag).On("source_tag")
	}
	for field, pats := range map[string][]string{"source_allow": a.SourceAllow, "header_ignore": a.HeaderIgnore} {
		for _, p := range pats {
			if p == "" || len(p) > 1024 || strings.ContainsAny(p, "\n\r") {
				return Errorf(KindInvalid, "pattern %q: one gitignore-style pattern per entry, at most 1024 bytes", p).On(field)
			}
		}
	}
	if a.MaxUnpackedSize < 0 || a.MaxMembers < 0 || a.MaxRatio < 0 {
		return Errorf(KindInvalid, "archive limits cannot be negative (0 means trel's hard limit)").On("max_unpacked_size")
	}
	return nil
}

func spdxID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '+') {
			return false
		}
	}
	return true
}
