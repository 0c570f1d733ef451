package core

import (
	"context"

	"trel/internal/domain"
	"trel/internal/sigstore"
)

// ManifestKey is one key of the committee's KEYS file when the release was
// published: a downloader accepts an OpenPGP signature only by one of
// them, so a key added to KEYS later cannot vouch for the release.
type ManifestKey struct {
	Fingerprint string `json:"fingerprint"`
	Owner       string `json:"owner"`
	// Historic: the key no longer counted for new releases but was kept
	// because it signed published ones.
	Historic bool `json:"historic,omitempty"`
}

// provenance completes a manifest with what `trel verify --release` needs
// beyond the files and the vote: the policy the final checks ran under,
// the committee's KEYS at publication, the public keys of key-based
// Sigstore signers, and what CI workflow runs did to the release
// (including this publication when a CI credential makes it).
func (s *Service) provenance(ctx context.Context, a *Actor, rel *domain.Release, m *Manifest, pol *domain.Policy) error {
	c, err := s.store.CommitteeByKey(ctx, rel.CommitteeKey)
	if err != nil {
		return err
	}
	entries, err := s.keysFileEntries(ctx, c)
	if err != nil {
		return err
	}
	m.Keys = []ManifestKey{}
	for _, e := range entries {
		m.Keys = append(m.Keys, ManifestKey{Fingerprint: e.Key.Fingerprint, Owner: e.Owner, Historic: e.Stale != ""})
	}
	rules := *pol
	m.Rules = &rules
	acts, err := s.store.WorkflowActions(ctx, rel.ID)
	if err != nil {
		return err
	}
	if a.Workload != nil {
		acts = append(acts, domain.WorkflowAction{Action: "publish", At: m.PublishedAt, Run: a.Workload.Run})
	}
	m.Workflows = acts
	return s.withSigstoreKeys(ctx, rel, m)
}

// withSigstoreKeys adds the PEM public key to each key-based Sigstore
// signer of the manifest (a key the project registered, or one derived
// from a key trel holds), so that its bundles verify from the manifest.
func (s *Service) withSigstoreKeys(ctx context.Context, rel *domain.Release, m *Manifest) error {
	pems := map[string]string{}
	registered, err := s.store.SigstoreKeys(ctx, rel.ProjectID)
	if err != nil {
		return err
	}
	for _, k := range registered {
		pems[k.Fingerprint] = k.PEM
	}
	members, err := s.store.Members(ctx, rel.CommitteeID)
	if err != nil {
		return err
	}
	var ids []int64
	for _, mb := range members {
		ids = append(ids, mb.UserID)
	}
	held, err := s.store.HeldSigstoreKeys(ctx, ids)
	if err != nil {
		return err
	}
	for _, k := range held {
		if pk, err := sigstore.ParsePublicKeyPEM(k.Fingerprint, []byte(k.PublicKey)); err == nil {
			pems[pk.Fingerprint] = k.PublicKey
		}
	}
	for i := range m.Files {
		for _, sg := range m.Files[i].Signers {
			if fp, _ := sg["key_fingerprint"].(string); fp != "" && pems[fp] != "" {
				sg["public_key"] = pems[fp]
			}
		}
	}
	return nil
}
