package cli

import (
	"github.com/spf13/pflag"

	"trel/internal/domain"
)

// archiveFlags are the `trel policy set` flags of the archive and licence
// checks (a group of their own).
type archiveFlags struct {
	license, sourceRepo, sourceTag         string
	allowed, binary, source, allow, header []string
	maxUnpacked                            string
	maxMembers, maxRatio                   int
}

func (a *archiveFlags) register(f *pflag.FlagSet) {
	f.StringVar(&a.license, "license", "", "the project licence, an SPDX id (default Apache-2.0)")
	f.StringSliceVar(&a.allowed, "allowed-licenses", nil, "SPDX ids allowed for third-party code (default: the ASF category A list)")
	f.StringArrayVar(&a.binary, "binary-pattern", nil, "glob naming binary artifacts (repeatable; replaces the list)")
	f.StringArrayVar(&a.source, "source-pattern", nil, "glob naming source artifacts (repeatable; replaces the list)")
	f.StringVar(&a.sourceRepo, "source-repo", "", "git URL of the project's repository (\"\" to stop comparing)")
	f.StringVar(&a.sourceTag, "source-tag", "", "tag pattern, {version} is the release version, e.g. v{version}")
	f.StringArrayVar(&a.allow, "source-allow", nil, "gitignore pattern of files that may differ from the tag (repeatable; replaces the list)")
	f.StringArrayVar(&a.header, "header-ignore", nil, "gitignore pattern of files that need no licence header (repeatable; replaces the list)")
	f.StringVar(&a.maxUnpacked, "max-unpacked-size", "", "largest unpacked size of an archive, e.g. 2GiB (0: trel's limit)")
	f.IntVar(&a.maxMembers, "max-members", 0, "most members of an archive (0: trel's limit)")
	f.IntVar(&a.maxRatio, "max-ratio", 0, "largest compression ratio (0: trel's limit)")
}

// apply copies the given flags into p and reports whether any was given.
func (a *archiveFlags) apply(f *pflag.FlagSet, p *domain.Policy) (bool, error) {
	changed := false
	set := func(name string, fn func()) {
		if f.Changed(name) {
			fn()
			changed = true
		}
	}
	ap := &p.Archive
	set("license", func() { ap.License = a.license })
	set("allowed-licenses", func() { ap.AllowedLicenses = a.allowed })
	set("binary-pattern", func() { p.BinaryPatterns = a.binary })
	set("source-pattern", func() { p.SourcePatterns = a.source })
	set("source-repo", func() { ap.SourceRepo = a.sourceRepo })
	set("source-tag", func() { ap.SourceTag = a.sourceTag })
	set("source-allow", func() { ap.SourceAllow = a.allow })
	set("header-ignore", func() { ap.HeaderIgnore = a.header })
	var err error
	set("max-unpacked-size", func() {
		if a.maxUnpacked == "0" {
			ap.MaxUnpackedSize = 0
			return
		}
		ap.MaxUnpackedSize, err = parseSize(a.maxUnpacked)
	})
	set("max-members", func() { ap.MaxMembers = a.maxMembers })
	set("max-ratio", func() { ap.MaxRatio = a.maxRatio })
	return changed, err
}
