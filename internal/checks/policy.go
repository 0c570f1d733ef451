package checks

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"trel/internal/checks/rules"
	"trel/internal/domain"
)

// conclude applies the project's policy to the other checkers' results:
// each artifact must carry the signature kinds the policy requires (only
// signatures that counted: valid, trusted and accepted) and a checksum file
// of every required algorithm that matched. It is cheap and always runs.
func conclude(in *Input, results []domain.CheckResult, now time.Time) []domain.CheckResult {
	pol := in.Policy
	if pol == nil {
		return nil
	}
	counted := map[string]bool{} // metadata path -> its result counts
	for _, r := range results {
		if r.Status == domain.StatusNote || r.Status == domain.StatusConcern {
			if !strings.Contains(r.Message, "does not count") {
				counted[r.Checker+":"+r.Path] = true
			}
		}
	}
	var artifacts []string
	for p := range in.Files {
		if rules.NeedsSignature(p, pol.Unsigned) {
			artifacts = append(artifacts, p)
		}
	}
	sort.Strings(artifacts)
	var out []domain.CheckResult
	add := func(p string, st domain.CheckStatus, msg string, details map[string]any) {
		out = append(out, domain.CheckResult{Checker: "policy", CheckerVersion: 1, Path: p, InputsHash: fmt.Sprintf("policy-v%d", pol.Version),
			Status: st, Message: msg, Details: details, CreatedAt: now})
	}
	meeting := 0
	for _, a := range artifacts {
		openpgpOK := counted["signature:"+a+".asc"]
		sigstoreOK := counted["sigstore:"+a+".sigstore"] || counted["sigstore:"+a+".sigstore.json"] || counted["sigstore:"+a+".bundle"]
		var missing []string
		switch pol.Require {
		case domain.RequireAny:
			if !(pol.AcceptOpenPGP && openpgpOK) && !(pol.AcceptSigstore && sigstoreOK) {
				missing = append(missing, "a signature that counts (OpenPGP .asc or Sigstore bundle)")
			}
		case domain.RequireOpenPGP:
			if !openpgpOK {
				missing = append(missing, "an OpenPGP signature that counts ("+path.Base(a)+".asc)")
			}
		case domain.RequireSigstore:
			if !sigstoreOK {
				missing = append(missing, "a Sigstore bundle that counts ("+path.Base(a)+".sigstore.json)")
			}
		case domain.RequireAll:
			if !openpgpOK {
				missing = append(missing, "an OpenPGP signature that counts")
			}
			if !sigstoreOK {
				missing = append(missing, "a Sigstore bundle that counts")
			}
		}
		for _, algo := range pol.ChecksumAlgorithms {
			if !counted["checksum:"+a+"."+algo] {
				missing = append(missing, "a matching "+algo+" checksum file ("+path.Base(a)+"."+algo+")")
			}
		}
		kind := "artifact"
		for _, pat := range pol.SourcePatterns {
			if ok, _ := path.Match(pat, path.Base(a)); ok {
				kind = "source"
			}
		}
		for _, pat := range pol.BinaryPatterns {
			if ok, _ := path.Match(pat, path.Base(a)); ok && kind == "artifact" {
				kind = "binary"
			}
		}
		which := fmt.Sprintf("the project's policy (version %d)", pol.Version)
		if pol.Version == 0 {
			which = "the default policy"
		}
		details := map[string]any{"kind": kind, "openpgp": openpgpOK, "sigstore": sigstoreOK, "policy_version": pol.Version}
		if len(missing) > 0 {
			add(a, domain.StatusBlocker, fmt.Sprintf("%s requires %s for %s (see `trel policy show %s`)", which, strings.Join(missing, " and "), a, in.Release.ProjectKey), details)
		} else {
			meeting++
			add(a, domain.StatusNote, fmt.Sprintf("%s meets %s", a, which), details)
		}
	}
	// A release of nothing but metadata and files allowed unsigned would
	// publish nothing anyone can verify.
	if meeting == 0 && len(in.Files) > 0 {
		add("", domain.StatusBlocker, fmt.Sprintf("the release has no signed artifact: at least one file must carry the signatures and checksums the policy requires (files allowed unsigned, signatures, checksums and SBOMs do not count); upload the release's artifacts with their signatures (see `trel policy show %s`)", in.Release.ProjectKey),
			map[string]any{"code": "release.no-signed-artifact", "artifacts": len(artifacts)})
	}
	return out
}
