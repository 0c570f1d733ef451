package checks

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"trel/internal/checks/rules"
	"trel/internal/domain"
	"trel/internal/openpgp"
)

// maxSignatureFile bounds the .asc files read (a detached signature is a
// few hundred bytes).
const maxSignatureFile = 1 << 20

// Signatures verifies each X.asc against the keys registered in trel and
// decides whether the signer may sign for the release's committee: the key
// must be linked to the committee and either be a registered automation
// key of it or have a proven owner who is a participant of it.
type Signatures struct{}

// Name implements Checker.
func (Signatures) Name() string { return "signature" }

// Plan implements Checker: one task per .asc whose artifact is present.
func (Signatures) Plan(ctx context.Context, in *Input) ([]Task, error) {
	var tasks []Task
	for _, f := range in.Revision.Files {
		artifactPath, kind, ok := rules.ArtifactOf(f.Path)
		if !ok || kind != rules.KindSignature {
			continue
		}
		artifact, ok := in.Files[artifactPath]
		if !ok {
			continue // the paths check reports metadata without artifact
		}
		t, err := planSignature(ctx, in, f, artifact)
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, t)
	}
	return tasks, nil
}

func planSignature(ctx context.Context, in *Input, sigFile, artifact domain.File) (Task, error) {
	task := Task{Checker: "signature", Version: 1, Path: sigFile.Path}
	sig, err := in.Read(ctx, sigFile, maxSignatureFile)
	if err != nil {
		task.Inputs = []string{sigFile.SHA256, "unreadable"}
		task.Run = func(context.Context) []Outcome {
			return []Outcome{{Status: domain.StatusBlocker, Message: "the signature file cannot be used: " + err.Error()}}
		}
		return task, nil
	}
	uploaded := in.UploadTimes[sigFile.SHA256]

	// Candidate keys: the committee's, plus any registered key the
	// signature names as issuer, so that the verdict can say why a known
	// key does not count.
	candidates := map[string]KeyInfo{}
	for _, k := range in.CommitteeKeys {
		candidates[k.Key.Fingerprint] = k
	}
	for _, is := range openpgp.Issuers(sig) {
		found, err := in.LookupKeys(ctx, is.KeyID)
		if err != nil {
			return task, err
		}
		for _, k := range found {
			if _, ok := candidates[k.Key.Fingerprint]; !ok {
				candidates[k.Key.Fingerprint] = k
			}
		}
	}
	var keyInputs []string
	var keys []KeyInfo
	for _, k := range candidates {
		keys = append(keys, k)
		keyInputs = append(keyInputs, k.fingerprintForInputs())
	}
	sort.Strings(keyInputs)
	sort.Slice(keys, func(i, j int) bool { return keys[i].Key.Fingerprint < keys[j].Key.Fingerprint })

	task.Inputs = append([]string{sigFile.SHA256, artifact.SHA256, uploaded.UTC().Format(time.RFC3339Nano), in.Release.CommitteeKey,
		signaturePolicyInputs(in)}, keyInputs...)
	task.Run = func(ctx context.Context) []Outcome {
		return judgeSignature(ctx, in, sig, artifact, uploaded, keys)
	}
	return task, nil
}

func judgeSignature(ctx context.Context, in *Input, sig []byte, artifact domain.File, uploaded time.Time, keys []KeyInfo) []Outcome {
	certs := make([]*openpgp.Cert, len(keys))
	byFpr := map[string]KeyInfo{}
	for i, k := range keys {
		certs[i] = k.Cert
		byFpr[k.Key.Fingerprint] = k
	}
	src := openpgp.StateSource{SHA256: artifact.SHA256State, SHA512: artifact.SHA512State,
		Fallback: openpgp.ReaderSource{Open: func() (io.ReadCloser, error) { return in.Open(ctx, artifact) }}}
	pol := in.Policy
	strength := &openpgp.StrengthPolicy{MinRSABits: pol.MinRSABits, GrandfatherBefore: domain.KeyGrandfatherBefore}
	res := openpgp.VerifyDetached(sig, certs, src, openpgp.VerifyOptions{Now: in.Now, UploadTime: uploaded, StrengthPolicy: strength})

	var all []map[string]any
	for _, s := range res.Signatures {
		all = append(all, map[string]any{
			"issuer_key_id": s.IssuerKeyID, "issuer_fingerprint": s.IssuerFingerprint, "signer_fingerprint": s.SignerFingerprint,
			"subkey_fingerprint": s.SubkeyFingerprint, "hash_algorithm": s.HashAlgorithm, "created": s.Created,
			"valid": s.Valid, "reason_code": s.ReasonCode, "reason": s.Reason, "after_upload": s.AfterUpload,
		})
	}
	details := map[string]any{"signatures": all, "artifact": artifact.Path}
	committee := in.Release.CommitteeKey

	var refusals []string
	for _, s := range res.Signatures {
		if !s.Valid {
			continue
		}
		k := byFpr[s.SignerFingerprint]
		if why := mayNotSign(k, committee, pol, in.ReleaseManagers); why != "" {
			refusals = append(refusals, why)
			continue
		}
		details["signer_fingerprint"] = s.SignerFingerprint
		details["subkey_fingerprint"] = s.SubkeyFingerprint
		details["owner"] = k.Key.Owner
		details["automation"] = k.Automation
		details["signature_time"] = s.Created
		details["hash_algorithm"] = s.HashAlgorithm
		who := "owner " + k.Key.Owner
		if k.Automation {
			who = "automation key of " + committee
		}
		by := s.SignerFingerprint
		if s.SubkeyFingerprint != "" {
			by += " (subkey " + s.SubkeyFingerprint + ")"
		}
		if !pol.AcceptOpenPGP {
			return []Outcome{{Status: domain.StatusNote, Details: details, Message: fmt.Sprintf(
				"valid signature by %s, %s, but the project's policy does not accept OpenPGP signatures, so it does not count", by, who)}}
		}
		if s.AfterUpload {
			return []Outcome{{Status: domain.StatusConcern, Details: details, Message: fmt.Sprintf(
				"valid signature by %s, %s, but it is dated %s, after the file was uploaded (%s): check the signer's clock and re-sign if in doubt",
				by, who, s.Created.UTC().Format(time.RFC3339), uploaded.UTC().Format(time.RFC3339))}}
		}
		return []Outcome{{Status: domain.StatusNote, Details: details, Message: fmt.Sprintf(
			"valid %s signature by %s, %s, made %s", s.HashAlgorithm, by, who, s.Created.UTC().Format(time.RFC3339))}}
	}
	if len(refusals) > 0 {
		return []Outcome{{Status: domain.StatusBlocker, Details: details, Message: "the signature is valid but does not count: " + strings.Join(refusals, "; ")}}
	}
	msg := res.Reason
	if res.ReasonCode == openpgp.CodeUnknownIssuer && len(res.Signatures) > 0 {
		issuer := res.Signatures[0].IssuerFingerprint
		if issuer == "" {
			issuer = "with key ID " + res.Signatures[0].IssuerKeyID
		}
		msg = fmt.Sprintf("the signature was made by key %s, which is not registered in trel: add the signer's public key with `trel keys add KEYFILE --committee %s`, then the owner proves it with `trel keys challenge`",
			issuer, committee)
	}
	details["reason_code"] = res.ReasonCode
	return []Outcome{{Status: domain.StatusBlocker, Details: details, Message: msg}}
}

// signaturePolicyInputs are the policy fields and release managers the
// signature verdict depends on.
func signaturePolicyInputs(in *Input) string {
	p := in.Policy
	ids := make([]string, 0, len(in.ReleaseManagers))
	for id := range in.ReleaseManagers {
		ids = append(ids, fmt.Sprint(id))
	}
	sort.Strings(ids)
	return fmt.Sprintf("openpgp=%v server=%v signers=%s rsa=%d rms=%s", p.AcceptOpenPGP, p.AcceptServerSigned, p.Signers, p.MinRSABits, strings.Join(ids, ","))
}

// SignerProblem says why a key that signed a file of rel no longer counts
// for it now, or "" when it does: revoked (for any reason), deleted, not
// linked to the committee, without a proven owner who participates in the
// committee (unless it is the committee's automation key), or, when the
// policy says so, not a release manager's. Publication asks it of every
// signer it is about to name in a manifest.
func SignerProblem(k domain.Key, rel *domain.Release, participants map[int64]bool, pol *domain.Policy, rms map[int64]string) string {
	ki := KeyInfo{Key: k, OwnerParticipant: k.OwnerID != 0 && participants[k.OwnerID]}
	for _, l := range k.Committees {
		if l.CommitteeID == rel.CommitteeID {
			ki.Linked, ki.Automation = true, l.Automation
		}
	}
	if k.RevokedAt != nil {
		why := ""
		if k.RevocationReason != "" {
			why = " (" + k.RevocationReason + ")"
		}
		return fmt.Sprintf("key %s was revoked on %s%s", k.Fingerprint, k.RevokedAt.UTC().Format("2006-01-02"), why)
	}
	return mayNotSign(ki, rel.CommitteeKey, pol, rms)
}

// mayNotSign says why a key that made a valid signature does not count for
// the committee under the project's policy, or "" when it does.
func mayNotSign(k KeyInfo, committee string, pol *domain.Policy, rms map[int64]string) string {
	fpr := k.Key.Fingerprint
	switch {
	case k.Key.Proof == "generated" && !pol.AcceptServerSigned:
		return fmt.Sprintf("key %s is held by trel (server-side signing), and the project's policy does not accept server-made signatures", fpr)
	case k.Key.DeletedAt != nil:
		return fmt.Sprintf("key %s was deleted from trel", fpr)
	case !k.Linked:
		return fmt.Sprintf("key %s is registered but not linked to committee %s: link it with `trel keys add KEYFILE --committee %s`", fpr, committee, committee)
	case k.Automation:
		return ""
	case k.Key.Owner == "":
		return fmt.Sprintf("nobody has proven to own key %s (it came from a KEYS file): its owner proves it with `trel keys challenge %s` and `trel keys prove %s --signature FILE`", fpr, fpr, fpr)
	case !k.OwnerParticipant:
		return fmt.Sprintf("key %s belongs to %s, who is not a member or committer of committee %s", fpr, k.Key.Owner, committee)
	case pol.Signers == domain.SignersReleaseManagers && rms[k.Key.OwnerID] == "":
		return fmt.Sprintf("key %s belongs to %s, who is not a release manager of this release, and the project's policy lets only release managers sign", fpr, k.Key.Owner)
	}
	return ""
}
