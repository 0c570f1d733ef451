package rules

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"trel/internal/domain"
	"trel/internal/secrets"
)

// ArtifactSuffixes lists the file name endings of well-known artifact
// types (archives and packages). Every file that is not metadata needs a
// signature and a checksum, whatever its suffix; this list only says which
// files are recognisably artifacts, so that messages and the downloads tree
// can treat the others (scripts, documents, unknown types) with suspicion.
// Matching ignores case.
var ArtifactSuffixes = []string{
	".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar.zst", ".tar",
	".zip", ".jar", ".war", ".whl", ".gem", ".nupkg", ".crate",
	".rpm", ".deb", ".dmg", ".msi", ".exe", ".pkg", ".apk",
}

// SBOMSuffixes are the file name endings of software bills of materials
// (CycloneDX, SPDX): metadata that needs no signature of its own.
var SBOMSuffixes = []string{".cdx.json", ".cdx.xml", ".spdx.json", ".spdx", ".spdx.yaml", ".spdx.yml", ".spdx.rdf"}

// Kinds of metadata file returned by ArtifactOf.
const (
	// KindSignature is an ASCII-armored OpenPGP signature, X.asc.
	KindSignature = "signature"
	// KindSigstoreBundle is a Sigstore bundle: X.sigstore, X.sigstore.json
	// or X.bundle.
	KindSigstoreBundle = "sigstore-bundle"
	// KindChecksum is a SHA-2 checksum file, X.sha256 or X.sha512.
	KindChecksum = "checksum"
	// KindDeprecatedChecksum is a SHA-1 checksum file, X.sha1 (a concern).
	KindDeprecatedChecksum = "deprecated-checksum"
	// KindForbiddenChecksum is an MD5 checksum file, X.md5 (a blocker).
	KindForbiddenChecksum = "forbidden-checksum"
	// KindBinarySignature is a binary OpenPGP signature, X.sig (a blocker).
	KindBinarySignature = "binary-signature"
)

// metadataSuffixes maps metadata suffixes to their kind. Matching ignores
// case and the first match wins, so a suffix must come before any shorter
// suffix that ends it.
var metadataSuffixes = []struct{ suffix, kind string }{
	{".sigstore.json", KindSigstoreBundle},
	{".sigstore", KindSigstoreBundle},
	{".bundle", KindSigstoreBundle},
	{".asc", KindSignature},
	{".sha512", KindChecksum},
	{".sha256", KindChecksum},
	{".sha1", KindDeprecatedChecksum},
	{".md5", KindForbiddenChecksum},
	{".sig", KindBinarySignature},
}

// Codes carried by a path Finding.
const (
	CodePathInvalid           = "path.invalid"
	CodePathDotfile           = "path.dotfile"
	CodePathKeysFile          = "path.keys-file"
	CodePathMD5Forbidden      = "path.md5-forbidden"
	CodePathSigForbidden      = "path.sig-forbidden"
	CodePathSHA1Deprecated    = "path.sha1-deprecated"
	CodePathOrphanMetadata    = "path.orphan-metadata"
	CodePathBadName           = "path.bad-name"
	CodePathReserved          = "path.reserved"
	CodePathCollision         = "path.case-collision"
	CodePathSecret            = "path.secret"
	CodePathSBOM              = "path.sbom"
	CodePathUnsigned          = "path.unsigned-allowed"
	CodeArtifactNoSignature   = "artifact.no-signature"
	CodeArtifactNoChecksum    = "artifact.no-checksum"
	CodeArtifactSHA1Only      = "artifact.sha1-only"
	CodeArtifactSignedOpenPGP = "artifact.signature-openpgp"
	CodeArtifactSigstore      = "artifact.signature-sigstore"
)

// Finding is one result of CheckPaths about one path of a revision.
type Finding struct {
	Path    string // the path the finding is about
	Status  string // StatusBlocker, StatusConcern, StatusSuggestion or StatusNote
	Code    string // a stable machine-readable reason (one of the CodePath/CodeArtifact constants)
	Message string // what is wrong and what to do, in plain English
}

// ArtifactOf maps a metadata path to the artifact it belongs to, in the same
// directory: "dist/a.tar.gz.asc" gives "dist/a.tar.gz" and KindSignature.
// ok is false when the path is not metadata (no known suffix, or nothing
// before the suffix). The artifact's case is kept as written.
func ArtifactOf(p string) (artifact string, kind string, ok bool) {
	base := p[strings.LastIndexByte(p, '/')+1:]
	for _, m := range metadataSuffixes {
		if hasSuffixFold(base, m.suffix) {
			return p[:len(p)-len(m.suffix)], m.kind, true
		}
	}
	return "", "", false
}

// IsKnownArtifact reports whether the path's file name ends with one of
// ArtifactSuffixes, with something before the suffix.
func IsKnownArtifact(p string) bool {
	base := p[strings.LastIndexByte(p, '/')+1:]
	for _, s := range ArtifactSuffixes {
		if hasSuffixFold(base, s) {
			return true
		}
	}
	return false
}

// IsSBOM reports whether the path's file name ends with one of
// SBOMSuffixes, with something before the suffix.
func IsSBOM(p string) bool {
	base := p[strings.LastIndexByte(p, '/')+1:]
	for _, s := range SBOMSuffixes {
		if hasSuffixFold(base, s) {
			return true
		}
	}
	return false
}

// IsArtifact reports whether a file needs signatures and checksums before
// its unsigned rules are applied: every file that is not metadata (a
// signature, checksum, Sigstore bundle or SBOM), whatever its suffix. A
// file with no name before a known suffix counts as an artifact too.
func IsArtifact(p string) bool {
	if _, _, meta := ArtifactOf(p); meta {
		return false
	}
	return !IsSBOM(p)
}

// NeedsSignature reports whether the policy requires signatures and
// checksums for p: IsArtifact, and no unsigned rule covers it.
func NeedsSignature(p string, unsigned []domain.UnsignedRule) bool {
	if !IsArtifact(p) {
		return false
	}
	_, allowed := domain.MatchUnsigned(unsigned, p)
	return !allowed
}

// ChecksumAlgorithm returns "sha256" or "sha512" for a checksum file path,
// the algo argument ParseChecksumFile expects.
func ChecksumAlgorithm(p string) (algo string, ok bool) {
	base := p[strings.LastIndexByte(p, '/')+1:]
	for _, a := range []string{"sha256", "sha512"} {
		if hasSuffixFold(base, "."+a) {
			return a, true
		}
	}
	return "", false
}

// hasSuffixFold reports whether name ends with suffix, ignoring case, and
// has at least one character before it.
func hasSuffixFold(name, suffix string) bool {
	return len(name) > len(suffix) && strings.EqualFold(name[len(name)-len(suffix):], suffix)
}

// metaFile is a metadata file found next to an artifact.
type metaFile struct{ path, kind string }

// CheckPaths applies the release layout rules to the paths of one revision
// (relative, '/'-separated) and returns findings sorted by path. Duplicate
// paths are checked once. Metadata files that are fine and have their
// artifact produce no finding; each signature found for an artifact produces
// a note saying which kind it is. Every other file needs a signature and a
// checksum unless one of the policy's unsigned rules covers it.
func CheckPaths(paths []string, unsigned ...domain.UnsignedRule) []Finding {
	sorted := slices.Clone(paths)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)

	present := make(map[string]bool, len(sorted))
	for _, p := range sorted {
		present[p] = true
	}
	// Index metadata by artifact once, so each artifact's lookup is O(1).
	meta := make(map[string][]metaFile)
	for _, p := range sorted {
		if a, kind, ok := ArtifactOf(p); ok {
			meta[a] = append(meta[a], metaFile{path: p, kind: kind})
		}
	}

	// The second spelling of a name that folds together with another.
	collides := map[string]string{}
	for _, pair := range domain.FoldCollisions(sorted) {
		if _, ok := collides[pair[1]]; !ok {
			collides[strings.TrimSuffix(pair[1], "/")] = strings.TrimSuffix(pair[0], "/")
		}
	}

	findings := make([]Finding, 0, len(sorted))
	for _, p := range sorted {
		if other, ok := collides[p]; ok {
			findings = append(findings, Finding{Path: p, Status: StatusBlocker, Code: CodePathCollision,
				Message: fmt.Sprintf("%q and %q are the same name on Windows and macOS (they differ only in case or Unicode normalization), so one would overwrite the other: remove or rename one of them", other, p)})
		}
		findings = checkPath(findings, p, present, meta, unsigned)
	}
	slices.SortStableFunc(findings, func(a, b Finding) int { return strings.Compare(a.Path, b.Path) })
	return findings
}

// checkPath appends the findings for one path.
func checkPath(out []Finding, p string, present map[string]bool, meta map[string][]metaFile, unsigned []domain.UnsignedRule) []Finding {
	add := func(status, code, format string, args ...any) {
		out = append(out, Finding{Path: p, Status: status, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	base := path.Base(p)

	// Structural problems first: the remaining rules assume a sane path.
	if reason := invalidPathReason(p); reason != "" {
		add(StatusBlocker, CodePathInvalid, "%q is not a valid release path: %s; rename it to a relative path with '/' between directories", p, reason)
		return out
	}
	if kind, ok := secrets.SecretName(base); ok {
		add(StatusBlocker, CodePathSecret, "%s looks like %s; private keys and credentials must never be published: remove it, and treat the key or token in it as compromised (revoke it and make a new one)", p, kind)
		return out
	}
	if seg := dotSegment(p); seg != "" {
		add(StatusBlocker, CodePathDotfile, "%s is a hidden file or directory (%q starts with a dot); files such as .DS_Store, .git or .htaccess must not be published: remove it from the release", p, seg)
		return out
	}
	for _, r := range domain.ReservedNames {
		if strings.EqualFold(base, r) {
			add(StatusBlocker, CodePathReserved, "%s has the name of the file trel writes when it publishes the release (%s): rename or remove it", p, r)
			return out
		}
	}
	if why := domain.PathProblem(p); why != "" {
		add(StatusBlocker, CodePathBadName, "%s: rename it", why)
		return out
	}
	if strings.EqualFold(base, "KEYS") {
		add(StatusBlocker, CodePathKeysFile, "%s is a KEYS file; trel serves each committee's KEYS file itself, built from the keys registered with the committee, so a copy inside a release would go stale: remove it and register any missing key with the committee instead", p)
		return out
	}

	if artifact, kind, ok := ArtifactOf(p); ok {
		a := path.Base(artifact)
		switch kind {
		case KindForbiddenChecksum:
			add(StatusBlocker, CodePathMD5Forbidden, "%s is an MD5 checksum, which is forbidden because MD5 is broken and gives downloaders false assurance: remove it and publish %s.sha512 (or %s.sha256) instead", p, a, a)
		case KindBinarySignature:
			add(StatusBlocker, CodePathSigForbidden, "%s is a binary signature, which is forbidden because downloaders and trel expect ASCII-armored OpenPGP signatures: remove it and publish %s.asc (gpg --armor --detach-sign %s) or a Sigstore bundle %s.sigstore.json instead", p, a, a, a)
		case KindDeprecatedChecksum:
			add(StatusConcern, CodePathSHA1Deprecated, "%s is a SHA-1 checksum, which is deprecated because SHA-1 is no longer collision resistant: replace it with %s.sha512 (sha512sum %s > %s.sha512)", p, a, a, a)
		}
		if !present[artifact] {
			add(StatusBlocker, CodePathOrphanMetadata, "%s is %s for %s, but %s is not in this revision: upload %s or remove %s", p, kindDescription(kind), artifact, artifact, artifact, base)
		}
		return out
	}

	if IsSBOM(p) {
		add(StatusNote, CodePathSBOM, "%s is a software bill of materials; it is published as metadata and needs no signature of its own (sign it too if downloaders should rely on it)", p)
		return out
	}
	if r, ok := domain.MatchUnsigned(unsigned, p); ok {
		add(StatusNote, CodePathUnsigned, "%s may be published without signature or checksum: the policy allows %q (%s); to sign it anyway, publish %s.asc and %s.sha512", p, r.Pattern, r.Reason, base, base)
		return out
	}
	return checkArtifact(out, p, meta[p])
}

// checkArtifact appends the signature and checksum findings of one artifact,
// given the metadata files found next to it.
func checkArtifact(out []Finding, p string, files []metaFile) []Finding {
	a := path.Base(p)
	var signed, sha2, sha1, md5, sig bool
	for _, m := range files {
		switch m.kind {
		case KindSignature:
			signed = true
			out = append(out, Finding{Path: p, Status: StatusNote, Code: CodeArtifactSignedOpenPGP,
				Message: fmt.Sprintf("%s has an OpenPGP signature (%s); the signature check verifies it against the committee's keys", p, path.Base(m.path))})
		case KindSigstoreBundle:
			signed = true
			out = append(out, Finding{Path: p, Status: StatusNote, Code: CodeArtifactSigstore,
				Message: fmt.Sprintf("%s has a Sigstore bundle (%s); the signature check verifies it against the project's trusted identities", p, path.Base(m.path))})
		case KindChecksum:
			sha2 = true
		case KindDeprecatedChecksum:
			sha1 = true
		case KindForbiddenChecksum:
			md5 = true
		case KindBinarySignature:
			sig = true
		}
	}

	if !signed {
		msg := fmt.Sprintf("%s has no signature: publish an OpenPGP signature %s.asc (gpg --armor --detach-sign %s) or a Sigstore bundle %s.sigstore.json", p, a, a, a)
		if sig {
			msg += fmt.Sprintf("; %s.sig does not count because binary signatures are not accepted", a)
		}
		if !IsKnownArtifact(p) {
			msg += fmt.Sprintf(". Every file that is not a signature, checksum or SBOM needs one; if %s needs none (release notes, for example), a committee member can allow it with `trel policy set PROJECT --unsigned '%s=WHY'`", a, a)
		}
		out = append(out, Finding{Path: p, Status: StatusBlocker, Code: CodeArtifactNoSignature, Message: msg})
	}

	switch {
	case sha2:
	case sha1:
		out = append(out, Finding{Path: p, Status: StatusConcern, Code: CodeArtifactSHA1Only,
			Message: fmt.Sprintf("%s only has a deprecated SHA-1 checksum (%s.sha1): publish %s.sha512 (sha512sum %s > %s.sha512)", p, a, a, a, a)})
	default:
		msg := fmt.Sprintf("%s has no checksum: publish %s.sha512 (sha512sum %s > %s.sha512) or %s.sha256", p, a, a, a, a)
		if md5 {
			msg += fmt.Sprintf("; %s.md5 does not count because MD5 is broken", a)
		}
		out = append(out, Finding{Path: p, Status: StatusBlocker, Code: CodeArtifactNoChecksum, Message: msg})
	}
	return out
}

// kindDescription names a metadata kind for messages.
func kindDescription(kind string) string {
	switch kind {
	case KindSignature:
		return "an OpenPGP signature"
	case KindSigstoreBundle:
		return "a Sigstore bundle"
	case KindChecksum:
		return "a checksum"
	case KindDeprecatedChecksum:
		return "a SHA-1 checksum"
	case KindForbiddenChecksum:
		return "an MD5 checksum"
	case KindBinarySignature:
		return "a binary signature"
	}
	return "metadata"
}

// invalidPathReason says why p is not a clean relative path, or returns "".
// Upload validation should already refuse these; checking again keeps this
// package safe on its own.
func invalidPathReason(p string) string {
	switch {
	case p == "":
		return "it is empty"
	case !utf8.ValidString(p):
		return "it is not valid UTF-8"
	case strings.ContainsFunc(p, unicode.IsControl):
		return "it contains a control character"
	case strings.Contains(p, `\`):
		return "it contains a backslash"
	case strings.HasPrefix(p, "/"):
		return "it is absolute"
	}
	// Walk the segments by hand: path.Clean would allocate for every path.
	for rest := p; ; {
		seg, after, more := strings.Cut(rest, "/")
		switch seg {
		case "":
			return "it has an empty segment (a doubled or trailing '/')"
		case ".":
			return "it has a '.' segment"
		case "..":
			return "it climbs out of the release with '..'"
		}
		if !more {
			return ""
		}
		rest = after
	}
}

// dotSegment returns the first segment of p that starts with a dot, or "".
func dotSegment(p string) string {
	for seg := range strings.SplitSeq(p, "/") {
		if strings.HasPrefix(seg, ".") {
			return seg
		}
	}
	return ""
}
