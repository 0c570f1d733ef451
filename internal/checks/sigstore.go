package checks

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"trel/internal/checks/rules"
	"trel/internal/domain"
	"trel/internal/sigstore"
)

// maxBundleFile bounds the Sigstore bundles read.
const maxBundleFile = 2 << 20

// Sigstore verifies Sigstore bundles (X.sigstore, X.sigstore.json,
// X.bundle) offline against the configured trusted roots, using the
// artifact's digests computed at upload, and decides whether the signer is
// one the project trusts: one of its identities, a registered key, or the
// personal identity of a committee participant.
type Sigstore struct {
	Verifier *sigstore.Verifier
}

// Name implements Checker.
func (Sigstore) Name() string { return "sigstore" }

// Plan implements Checker: one task per bundle whose artifact is present.
func (c Sigstore) Plan(ctx context.Context, in *Input) ([]Task, error) {
	ids := append([]domain.SigstoreIdentity(nil), in.SigstoreIdentities...)
	ids = append(ids, in.PersonalIdentities...)
	spec, _ := json.Marshal(ids)
	var keyFprs []string
	for _, k := range in.SigstoreKeys {
		keyFprs = append(keyFprs, k.Fingerprint)
	}
	for _, k := range in.HeldSigstoreKeys {
		keyFprs = append(keyFprs, fmt.Sprintf("held:%s:%s:%v:%v", k.KeyID, k.Owner, k.RevokedAt, k.RetiredAt))
	}
	sort.Strings(keyFprs)
	var tasks []Task
	for _, f := range in.Revision.Files {
		artifactPath, kind, ok := rules.ArtifactOf(f.Path)
		if !ok || kind != rules.KindSigstoreBundle {
			continue
		}
		artifact, ok := in.Files[artifactPath]
		if !ok {
			continue
		}
		bundleFile := f
		tasks = append(tasks, Task{
			Checker: "sigstore", Version: 3, Path: f.Path, // 3: identity patterns open to a chosen owner match nobody
			Inputs: []string{bundleFile.SHA256, artifact.SHA256, artifact.SHA512, string(spec), strings.Join(keyFprs, ","),
				strings.Join(c.Verifier.RootNames(), ","), in.Release.ProjectKey, fmt.Sprint(in.Policy.AcceptSigstore),
				signaturePolicyInputs(in)},
			Run: func(ctx context.Context) []Outcome { return c.judge(ctx, in, bundleFile, artifact, ids) },
		})
	}
	return tasks, nil
}

func (c Sigstore) judge(ctx context.Context, in *Input, bundleFile, artifact domain.File, ids []domain.SigstoreIdentity) []Outcome {
	data, err := in.Read(ctx, bundleFile, maxBundleFile)
	if err != nil {
		return []Outcome{{Status: domain.StatusBlocker, Message: "the Sigstore bundle cannot be used: " + err.Error()}}
	}
	b, err := sigstore.LoadBundle(data)
	if err != nil {
		return []Outcome{{Status: domain.StatusBlocker, Message: "not a valid Sigstore bundle: " + err.Error()}}
	}
	var keys []sigstore.PublicKey
	for _, k := range in.SigstoreKeys {
		pk, err := sigstore.ParsePublicKeyPEM(k.Name, []byte(k.PEM))
		if err != nil {
			return []Outcome{{Status: domain.StatusException, Message: fmt.Sprintf("registered key %q cannot be read: %v", k.Name, err)}}
		}
		keys = append(keys, pk)
	}
	held := map[string]domain.HeldSigstoreKey{}
	for _, k := range in.HeldSigstoreKeys {
		pk, err := sigstore.ParsePublicKeyPEM("held by trel for "+k.Owner+" ("+k.Fingerprint+")", []byte(k.PublicKey))
		if err != nil {
			return []Outcome{{Status: domain.StatusException, Message: fmt.Sprintf("the Sigstore key of held key %s cannot be read: %v", k.Fingerprint, err)}}
		}
		pk.Unlogged = true
		keys = append(keys, pk)
		held[pk.Fingerprint] = k
	}
	policy := make([]sigstore.Identity, len(ids))
	for i, id := range ids {
		policy[i] = sigstore.Identity{Issuer: id.Issuer, Subject: id.Subject, SubjectRegexp: id.SubjectRegexp,
			SourceRepository: id.SourceRepository, Ref: id.Ref, RefRegexp: id.RefRegexp, Workflow: id.Workflow,
			RunnerEnvironment: id.RunnerEnvironment, ReusableWorkflowRepository: id.ReusableWorkflowRepository}
	}
	a := sigstore.Artifact{}
	a.SHA256, _ = hex.DecodeString(artifact.SHA256)
	a.SHA512, _ = hex.DecodeString(artifact.SHA512)
	v, err := c.Verifier.Check(b, a, policy, keys)
	if err != nil {
		return []Outcome{{Status: domain.StatusException, Message: "the Sigstore verifier failed internally; this says nothing about the bundle: " + err.Error()}}
	}
	r := v.Result
	details := map[string]any{"artifact": artifact.Path, "bundle_version": r.BundleVersion, "root": r.RootName,
		"identity": r.Identity, "issuer": r.Issuer, "extensions": r.Extensions, "time_source": r.TimeSource,
		"signed_at": r.SignedAt, "log_index": r.LogIndex, "reason_code": r.ReasonCode}
	if r.KeyBased() {
		details["key_name"], details["key_fingerprint"] = r.KeyName, r.KeyFingerprint
	}
	switch {
	case !r.Valid:
		return []Outcome{{Status: domain.StatusBlocker, Details: details, Message: "the Sigstore bundle is not valid: " + r.Reason}}
	case !v.Trusted:
		msg := v.Explanation
		if !r.KeyBased() {
			cmd := strings.Replace(sigstore.SuggestIdentity(r).AddCommand(), "identity add", "identity add "+in.Release.ProjectKey, 1)
			msg = fmt.Sprintf("the bundle is valid, but it was signed by %s (issuer %s), whom project %s does not trust; if it should, run: %s",
				r.Identity, r.Issuer, in.Release.ProjectKey, cmd)
		}
		return []Outcome{{Status: domain.StatusBlocker, Details: details, Message: msg}}
	}
	who := r.Identity
	if r.KeyBased() {
		who = fmt.Sprintf("registered key %q (%s)", r.KeyName, r.KeyFingerprint)
	}
	for _, id := range ids {
		if id.User != "" && strings.EqualFold(id.Subject, r.Identity) && id.Issuer == r.Issuer {
			details["owner"] = id.User
			who += " (personal identity of " + id.User + ")"
		}
	}
	if k, ok := held[r.KeyFingerprint]; ok && r.KeyBased() {
		details["held_key"], details["owner"] = k.Fingerprint, k.Owner
		if why := heldMayNotSign(k, r.SignedAt, in); why != "" {
			return []Outcome{{Status: domain.StatusBlocker, Details: details, Message: "the Sigstore bundle is valid but does not count: " + why}}
		}
		who = fmt.Sprintf("key %s held by trel for %s (Sigstore key %s)", k.Fingerprint, k.Owner, r.KeyFingerprint)
	}
	if !in.Policy.AcceptSigstore {
		return []Outcome{{Status: domain.StatusNote, Details: details, Message: fmt.Sprintf(
			"valid Sigstore signature by %s, but the project's policy does not accept Sigstore bundles, so it does not count", who)}}
	}
	if r.LogIndex < 0 { // a held key's bundle: in trel's public log, not Rekor
		return []Outcome{{Status: domain.StatusNote, Details: details, Message: fmt.Sprintf(
			"valid Sigstore signature by %s, time from %s (recorded in trel's public log)", who, r.TimeSource)}}
	}
	return []Outcome{{Status: domain.StatusNote, Details: details, Message: fmt.Sprintf(
		"valid Sigstore signature by %s, issuer %s, time from %s (log index %d)", who, r.Issuer, r.TimeSource, r.LogIndex)}}
}

// heldMayNotSign says why a bundle made by a key trel holds does not count
// under the project's policy, or "" when it does. The owner is a
// participant (HeldSigstoreKeys lists only theirs).
func heldMayNotSign(k domain.HeldSigstoreKey, signedAt time.Time, in *Input) string {
	switch {
	case !in.Policy.AcceptServerSigned:
		return fmt.Sprintf("it was made by key %s held by trel (server-side signing), and the project's policy does not accept server-made signatures", k.Fingerprint)
	case k.RevokedAt != nil:
		return fmt.Sprintf("held key %s was revoked on %s", k.Fingerprint, k.RevokedAt.UTC().Format(time.RFC3339))
	case k.RetiredAt != nil && !signedAt.Before(*k.RetiredAt):
		return fmt.Sprintf("held key %s was retired on %s, before this bundle was made", k.Fingerprint, k.RetiredAt.UTC().Format(time.RFC3339))
	case in.Policy.Signers == domain.SignersReleaseManagers && in.ReleaseManagers[k.UserID] == "":
		return fmt.Sprintf("held key %s belongs to %s, who is not a release manager of this release, and the project's policy lets only release managers sign", k.Fingerprint, k.Owner)
	}
	return ""
}
