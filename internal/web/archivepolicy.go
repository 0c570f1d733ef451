package web

import (
	"net/http"
	"strconv"
	"strings"

	"trel/internal/domain"
)

// archivePolicyForm reads the archive and licence fields of the policy
// form (their own group, like domain.ArchivePolicy).
func archivePolicyForm(r *http.Request) (domain.ArchivePolicy, error) {
	lines := func(name string) []string {
		out := []string{}
		for _, l := range strings.Split(r.FormValue(name), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	a := domain.ArchivePolicy{
		License:    strings.TrimSpace(r.FormValue("license")),
		SourceRepo: strings.TrimSpace(r.FormValue("source_repo")), SourceTag: strings.TrimSpace(r.FormValue("source_tag")),
		SourceAllow: lines("source_allow"), HeaderIgnore: lines("header_ignore"),
	}
	a.AllowedLicenses = strings.FieldsFunc(r.FormValue("allowed_licenses"), func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\r' })
	for name, dst := range map[string]*int{"max_members": &a.MaxMembers, "max_ratio": &a.MaxRatio} {
		if v := strings.TrimSpace(r.FormValue(name)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return a, domain.Errorf(domain.KindInvalid, "%s must be a whole number (0: trel's limit)", strings.ReplaceAll(name, "_", " ")).On(name)
			}
			*dst = n
		}
	}
	if v := strings.TrimSpace(r.FormValue("max_unpacked_size")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return a, domain.Errorf(domain.KindInvalid, "max unpacked size must be a number of bytes (0: trel's limit)").On("max_unpacked_size")
		}
		a.MaxUnpackedSize = n
	}
	return a, nil
}
