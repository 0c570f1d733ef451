package core

import (
	"context"
	"encoding/json"
	"path"
	"sort"
	"strings"
	"time"

	"trel/internal/checks/rules"
	"trel/internal/domain"
)

// ReleaseSummary is what a downloader may know about a candidate, a
// release whose vote passed, or a published release: the files of the
// voted (or published) revision with their digests and signers, the vote
// and the policy versions. It is public.
type ReleaseSummary struct {
	Release  *domain.Release `json:"release"`
	Revision int             `json:"revision"`
	Files    []SummaryFile   `json:"files"`
	Vote     *domain.Tally   `json:"vote,omitempty"`
	// PolicyVersion counted the vote; ChecksPolicyVersion is the policy
	// version of the last checks (of the publication, when published).
	PolicyVersion       int        `json:"policy_version"`
	ChecksPolicyVersion int        `json:"checks_policy_version"`
	PublishedAt         *time.Time `json:"published_at,omitempty"`
	PublishedBy         string     `json:"published_by,omitempty"`
	// LogIndex is the public-log entry of the published manifest.
	LogIndex *uint64 `json:"log_index,omitempty"`
}

// SummaryFile is one file of a release summary.
type SummaryFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA512 string `json:"sha512"`
	// Artifact: the policy requires signatures and checksums for it.
	Artifact bool     `json:"artifact"`
	Signers  []Signer `json:"signers,omitempty"`
}

// Signer is one signature of an artifact that counts.
type Signer struct {
	Kind string `json:"kind"` // openpgp or sigstore
	File string `json:"file"` // the signature or bundle
	// OpenPGP: the key and its proven owner; Held when trel holds the key.
	Fingerprint string `json:"fingerprint,omitempty"`
	Owner       string `json:"owner,omitempty"`
	Held        bool   `json:"held,omitempty"`
	// Sigstore: the certificate's identity and issuer, or the registered
	// key of a key-based bundle.
	Identity string `json:"identity,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	KeyName  string `json:"key_name,omitempty"`
}

// Summary returns the public summary of a release. A draft has none: its
// files are not settled (the committee sees the draft itself).
func (s *Service) Summary(ctx context.Context, a *Actor, projectKey, version string) (*ReleaseSummary, error) {
	rel, err := s.release(ctx, a, OpReadDraft, projectKey, version)
	if err != nil {
		return nil, err
	}
	if rel.Phase == domain.PhaseDraft {
		return nil, domain.Errorf(domain.KindConflict, "release %s %s is a draft: it has a public page once its vote starts", rel.ProjectKey, rel.Version)
	}
	sum := &ReleaseSummary{Release: rel}
	if t, err := s.tally(ctx, rel); err == nil {
		sum.Vote, sum.Revision, sum.PolicyVersion = t, t.Round.Revision, t.Round.PolicyVersion
	} else if !domain.IsKind(err, domain.KindNotFound) {
		return nil, err
	}
	pol, err := s.store.Policy(ctx, rel.ProjectID)
	if err != nil {
		return nil, err
	}
	if rel.Phase == domain.PhaseReleased {
		if err := s.publishedSummary(ctx, rel, pol, sum); err != nil {
			return nil, err
		}
		return sum, nil
	}
	rev, err := s.store.Revision(ctx, rel.ID, sum.Revision)
	if err != nil {
		return nil, err
	}
	results, err := s.store.CheckResults(ctx, rev.ID)
	if err != nil {
		return nil, err
	}
	sum.ChecksPolicyVersion = pol.Version
	signers := countedSigners(results)
	for _, f := range rev.Files {
		sum.Files = append(sum.Files, SummaryFile{Path: f.Path, Size: f.Size, SHA512: f.SHA512,
			Artifact: rules.NeedsSignature(f.Path, pol.Unsigned), Signers: signers[f.Path]})
	}
	return sum, s.markHeld(ctx, sum)
}

// publishedSummary fills the summary from the manifest as published.
func (s *Service) publishedSummary(ctx context.Context, rel *domain.Release, pol *domain.Policy, sum *ReleaseSummary) error {
	pub, err := s.store.Publication(ctx, rel.ID)
	if err != nil {
		return err
	}
	var m Manifest
	if err := json.Unmarshal(pub.Manifest, &m); err != nil {
		return domain.Internal("reading the published manifest", err)
	}
	sum.Revision, sum.PolicyVersion, sum.ChecksPolicyVersion = m.Revision, m.Policy, m.ChecksPolicy
	sum.PublishedAt, sum.PublishedBy, sum.LogIndex = &m.PublishedAt, m.PublishedBy, pub.LogIndex
	if m.Vote != nil {
		sum.Vote = m.Vote
	}
	for _, f := range m.Files {
		sf := SummaryFile{Path: f.Path, Size: f.Size, SHA512: f.SHA512, Artifact: rules.NeedsSignature(f.Path, pol.Unsigned)}
		for _, sg := range f.Signers {
			str := func(k string) string { v, _ := sg[k].(string); return v }
			sf.Signers = append(sf.Signers, Signer{Kind: str("kind"), File: str("file"), Fingerprint: str("fingerprint"),
				Owner: str("owner"), Identity: str("identity"), Issuer: str("issuer")})
		}
		sum.Files = append(sum.Files, sf)
	}
	return s.markHeld(ctx, sum)
}

// countedSigners reads the signatures that count from a revision's check
// results, by artifact path.
func countedSigners(results []domain.CheckResult) map[string][]Signer {
	out := map[string][]Signer{}
	for _, r := range results {
		if r.Status != domain.StatusNote || strings.Contains(r.Message, "does not count") {
			continue
		}
		artifact, _, ok := rules.ArtifactOf(r.Path)
		if !ok {
			continue
		}
		str := func(k string) string { v, _ := r.Details[k].(string); return v }
		switch r.Checker {
		case "signature":
			if fpr := str("signer_fingerprint"); fpr != "" {
				out[artifact] = append(out[artifact], Signer{Kind: "openpgp", File: path.Base(r.Path), Fingerprint: fpr, Owner: str("owner")})
			}
		case "sigstore":
			sg := Signer{Kind: "sigstore", File: path.Base(r.Path), Identity: str("identity"), Issuer: str("issuer"), KeyName: str("key_name"), Owner: str("owner")}
			if held := str("held_key"); held != "" {
				sg.Fingerprint, sg.Held = held, true
			}
			out[artifact] = append(out[artifact], sg)
		}
	}
	for _, l := range out {
		sort.Slice(l, func(i, j int) bool { return l[i].File < l[j].File })
	}
	return out
}

// markHeld marks the OpenPGP signers whose key trel holds.
func (s *Service) markHeld(ctx context.Context, sum *ReleaseSummary) error {
	for i := range sum.Files {
		for j := range sum.Files[i].Signers {
			sg := &sum.Files[i].Signers[j]
			if sg.Kind != "openpgp" || sg.Fingerprint == "" {
				continue
			}
			_, err := s.store.ServerKey(ctx, sg.Fingerprint)
			switch {
			case err == nil:
				sg.Held = true
			case !domain.IsKind(err, domain.KindNotFound):
				return err
			}
		}
	}
	return nil
}
