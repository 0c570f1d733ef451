package verify

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"trel/internal/checks/rules"
	"trel/internal/domain"
	"trel/internal/sigstore"
	"trel/internal/translog"
)

// Verifying a whole published release, for downloaders: `trel verify
// --release URL`. The manifest trel published (and logged) is the anchor:
// it names every file with its SHA-512, the signers that counted, the
// policy, the committee's KEYS at publication and the vote. VerifyRelease
// proves the manifest is the one in trel's public log (against a pinned
// log key and the last checkpoint seen), reads every file once (from the
// origin, or a mirror's copy in a directory), and checks the digests, every
// signature, the policy's requirements per artifact and the vote tally.

// ManifestName is the file trel writes into a published release.
const ManifestName = "trel-release-manifest.json"

// StatusName is the file next to a published manifest that says what
// became of the release since (yanked, archived): the server's word, not
// part of the logged manifest.
const StatusName = "trel-release-status.json"

// Problem codes of a release verification (ReleaseReport.Problems).
const (
	ProblemTampered   = "tampered"           // a file's size or SHA-512 differs from the manifest
	ProblemMissing    = "missing"            // a file of the manifest could not be read
	ProblemNotLogged  = "not-in-log"         // the manifest is not the log's entry at its index
	ProblemLogFork    = "log-inconsistent"   // the log is not consistent with the checkpoint seen before
	ProblemLogKey     = "log-key"            // the log's checkpoint does not verify with the pinned key
	ProblemKeyAdded   = "key-not-in-keys"    // a signature by a key not in KEYS at publication
	ProblemSignature  = "signature"          // a signature does not verify
	ProblemPolicy     = "policy"             // an artifact lacks the signatures the policy requires
	ProblemVote       = "vote"               // the vote does not meet its rules
	ProblemNoArtifact = "no-signed-artifact" // nothing was verified
)

// ReleaseOptions say which release to verify and what to trust.
type ReleaseOptions struct {
	// URL is the release's downloads directory, e.g.
	// https://trel.example/downloads/COMMITTEE/PROJECT/VERSION/.
	URL string
	// Dir, when set, holds the release's files (a mirror's copy); the
	// manifest, KEYS and the log still come from URL's server.
	Dir string
	// LogKey is the verifier key of the server's public log (note
	// format), pinned by the caller.
	LogKey string
	// LastCheckpoint is the last checkpoint of that log the caller saw
	// (nil on first use): the log must be consistent with it.
	LastCheckpoint []byte
	// TrustedRoot is a Sigstore trusted_root.json; empty means the
	// embedded public-good root.
	TrustedRoot string
	// HTTP fetches from the server; nil means a client with a 10-minute
	// response-header timeout.
	HTTP *http.Client
	// Now is when signatures are judged; zero means now.
	Now time.Time
}

// ReleaseReport is the outcome of VerifyRelease.
type ReleaseReport struct {
	URL       string `json:"url"`
	Committee string `json:"committee"`
	Project   string `json:"project"`
	Version   string `json:"version"`
	Revision  int    `json:"revision"`
	// Files lists every file of the manifest with what was found.
	Files []FileCheck `json:"files"`
	// Artifacts is the policy verdict of each artifact.
	Artifacts []ArtifactCheck `json:"artifacts"`
	Vote      CheckLine       `json:"vote"`
	Log       LogCheck        `json:"log"`
	// Workflows are the CI runs that acted on the release.
	Workflows []domain.WorkflowAction `json:"workflow_runs,omitempty"`
	// Status is what the server says of the release now (nil when it
	// says nothing): a yanked release still verifies, but is reported.
	Status *ReleaseStatus `json:"status,omitempty"`
	Notes  []string       `json:"notes,omitempty"`
	// Problems are the causes of a NOT VERIFIED verdict.
	Problems []Problem `json:"problems"`
	OK       bool      `json:"ok"`
	Reason   string    `json:"reason"`
}

// FileCheck is one file of the release.
type FileCheck struct {
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	SHA512   string `json:"sha512"`
	OK       bool   `json:"ok"`
	Message  string `json:"message"`
	Artifact string `json:"artifact,omitempty"` // the artifact a signature or bundle is of
	// Verification is the signature's or bundle's check.
	Verification *Verification `json:"verification,omitempty"`
}

// ArtifactCheck is whether an artifact carries what the policy requires.
type ArtifactCheck struct {
	Path    string   `json:"path"`
	OK      bool     `json:"ok"`
	Signers []string `json:"signers"`
	Message string   `json:"message"`
}

// CheckLine is one verdict with its explanation.
type CheckLine struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// LogCheck is the proof of the manifest's inclusion in the public log.
type LogCheck struct {
	CheckLine
	Index          uint64 `json:"index"`
	CheckpointSize uint64 `json:"checkpoint_size"`
	// Checkpoint is the verified checkpoint (signed note) to remember as
	// the last one seen; empty when the log could not be trusted.
	Checkpoint []byte `json:"-"`
}

// Problem is one cause of NOT VERIFIED.
type Problem struct {
	Code    string `json:"code"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// ReleaseStatus is a published release's state as its server reports it
// in trel-release-status.json.
type ReleaseStatus struct {
	State      string     `json:"state"` // released, yanked or archived
	YankedAt   *time.Time `json:"yanked_at,omitempty"`
	YankReason string     `json:"yank_reason,omitempty"`
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
	FilesURL   string     `json:"files_url,omitempty"`
}

// releaseManifest is what VerifyRelease reads of a manifest (the core
// writes it; the JSON is the contract).
type releaseManifest struct {
	Committee   string    `json:"committee"`
	Project     string    `json:"project"`
	Version     string    `json:"version"`
	Revision    int       `json:"revision"`
	PublishedAt time.Time `json:"published_at"`
	VoteRules   struct {
		MinVoteHours       int `json:"min_vote_hours"`
		MinBindingPlusOnes int `json:"min_binding_plus_ones"`
	} `json:"vote_rules"`
	Files []struct {
		Path    string           `json:"path"`
		Size    int64            `json:"size"`
		SHA512  string           `json:"sha512"`
		Signers []map[string]any `json:"signers"`
	} `json:"files"`
	Vote  *domain.Tally  `json:"vote"`
	Rules *domain.Policy `json:"policy"`
	Keys  []struct {
		Fingerprint string `json:"fingerprint"`
		Owner       string `json:"owner"`
		Historic    bool   `json:"historic"`
	} `json:"keys"`
	Workflows []domain.WorkflowAction `json:"workflow_runs"`
}

// Limits on what is fetched besides the files.
const (
	maxManifestSize = 16 << 20
	maxMetadataFile = 2 << 20 // signatures, bundles, checksums kept in memory
)

// ServerOf returns the server root of a release's downloads URL (the part
// before /downloads/), where its KEYS, API and log are.
func ServerOf(releaseURL string) (string, error) {
	u, err := url.Parse(releaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("%w: --release needs the http(s) URL of a published release, like https://trel.example/downloads/COMMITTEE/PROJECT/VERSION/", ErrUsage)
	}
	i := strings.Index(u.Path, "/downloads/")
	if j := strings.Index(u.Path, "/archive/"); i < 0 || (j >= 0 && j < i) {
		i = j
	}
	if i < 0 {
		return "", fmt.Errorf("%w: %s is not a release's downloads directory (it has no /downloads/ or /archive/ in its path)", ErrUsage, releaseURL)
	}
	u.Path, u.RawQuery, u.Fragment = u.Path[:i], "", ""
	return strings.TrimSuffix(u.String(), "/"), nil
}

// VerifyRelease verifies a published release. An error means the release
// could not be judged (no manifest, a server that does not answer, wrong
// options); a failed verification is a report with OK false.
func VerifyRelease(ctx context.Context, opts ReleaseOptions) (*ReleaseReport, error) {
	server, err := ServerOf(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.LogKey == "" {
		return nil, fmt.Errorf("%w: no log key: pin the server's log key", ErrUsage)
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: 10 * time.Minute}}
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	base := strings.TrimSuffix(opts.URL, "/") + "/"
	rep := &ReleaseReport{URL: base, Files: []FileCheck{}, Artifacts: []ArtifactCheck{}, Problems: []Problem{}}
	if rep.Status = fetchStatus(ctx, opts.HTTP, base); rep.Status != nil {
		// An archived release's files moved to the archive tree of the
		// same server: verify them there.
		if moved := movedTo(server, base, rep.Status.FilesURL); moved != "" {
			rep.Notes = append(rep.Notes, fmt.Sprintf("the release was archived: its files moved from %s to %s", base, moved))
			base, rep.URL = moved, moved
		}
	}
	published, err := fetch(ctx, opts.HTTP, base+ManifestName, maxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("the release manifest: %w", err)
	}
	var m releaseManifest
	if err := json.Unmarshal(published, &m); err != nil || m.Project == "" || len(m.Files) == 0 {
		return nil, fmt.Errorf("%s%s is not a trel release manifest", base, ManifestName)
	}
	rep.Committee, rep.Project, rep.Version, rep.Revision, rep.Workflows = m.Committee, m.Project, m.Version, m.Revision, m.Workflows

	verifyLog(ctx, rep, server, published, opts)

	keysData, err := fetch(ctx, opts.HTTP, server+"/downloads/"+url.PathEscape(m.Committee)+"/KEYS", maxKeyFileSize)
	if err != nil {
		return nil, fmt.Errorf("the committee's KEYS: %w", err)
	}
	keys := &keySet{file: "KEYS of " + m.Committee, flag: "--keys"}
	if err := keys.load(keysData); err != nil {
		return nil, err
	}
	sv, err := sigstoreVerifier(opts.TrustedRoot)
	if err != nil {
		return nil, err
	}

	// One pass over every file: digests, and the bytes of the small
	// metadata files (signatures, bundles) the checks read.
	digestsOf := map[string]*digests{}
	matched := map[string]bool{}
	meta := map[string][]byte{}
	for _, f := range m.Files {
		fc := FileCheck{Path: f.Path, Size: f.Size, SHA512: f.SHA512}
		_, kind, isMeta := rules.ArtifactOf(f.Path)
		keep := isMeta && (kind == rules.KindSignature || kind == rules.KindSigstoreBundle)
		d, data, err := readFile(ctx, opts, base, f.Path, keep)
		if err != nil {
			fc.Message = "cannot be read: " + err.Error()
			rep.problem(ProblemMissing, f.Path, fmt.Sprintf("%s cannot be read: %v", f.Path, err))
			rep.Files = append(rep.Files, fc)
			continue
		}
		// What was read is kept either way: a replaced signature is still
		// checked, to say whose it is.
		digestsOf[f.Path] = d
		if keep {
			meta[f.Path] = data
		}
		if d.size != f.Size || !strings.EqualFold(hex.EncodeToString(d.sha512), f.SHA512) {
			fc.Message = fmt.Sprintf("does NOT match the manifest: %d bytes with SHA-512 %s…, the manifest says %d bytes with %s…", d.size, hex.EncodeToString(d.sha512)[:16], f.Size, short(f.SHA512))
			rep.problem(ProblemTampered, f.Path, fmt.Sprintf("%s is not the published file: its SHA-512 (or size) differs from the manifest's", f.Path))
		} else {
			fc.OK, fc.Message = true, "matches the manifest's SHA-512"
			matched[f.Path] = true
		}
		rep.Files = append(rep.Files, fc)
	}

	// Signatures and bundles, judged against the manifest's record.
	signerFiles := map[string]map[string]any{} // signature file -> its manifest signer entry
	for _, f := range m.Files {
		for _, sg := range f.Signers {
			if file, _ := sg["file"].(string); file != "" {
				signerFiles[file] = sg
			}
		}
	}
	inKeys := map[string]bool{}
	for _, k := range m.Keys {
		inKeys[k.Fingerprint] = true
	}
	counted := map[string][]string{} // artifact -> kinds of counted signatures
	signers := map[string][]string{}
	for i := range rep.Files {
		fc := &rep.Files[i]
		artifact, kind, isMeta := rules.ArtifactOf(fc.Path)
		data, have := meta[fc.Path]
		if !isMeta || !have {
			continue
		}
		fc.Artifact = artifact
		d := digestsOf[artifact]
		if d == nil {
			fc.Message += "; not checked, its artifact is missing"
			continue
		}
		// Only a published signature over a published artifact counts.
		genuine := matched[fc.Path] && matched[artifact]
		entry := signerFiles[fc.Path]
		switch kind {
		case rules.KindSignature:
			reopen := func() (io.ReadCloser, error) { return openRelease(ctx, opts, base, artifact) }
			v := verifyOpenPGP(fc.Path, data, keys, d, reopen, opts.Now)
			fc.Verification = &v
			if !v.OK {
				rep.problem(ProblemSignature, fc.Path, fmt.Sprintf("%s: %s", fc.Path, v.Message))
				continue
			}
			fpr := v.Details.SignerFingerprint
			named, _ := entry["fingerprint"].(string)
			switch {
			case !inKeys[fpr] && m.Keys != nil:
				rep.problem(ProblemKeyAdded, fc.Path, fmt.Sprintf("%s is signed by key %s, which was not in the committee's KEYS when the release was published (it was added later): it does not vouch for this release", fc.Path, fpr))
			case named != fpr:
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s: a good signature by %s, which did not count when the release was published", fc.Path, fpr))
			case !genuine:
			default:
				counted[artifact] = append(counted[artifact], "openpgp")
				signers[artifact] = append(signers[artifact], "OpenPGP "+fpr+ownerOf(v))
			}
		case rules.KindSigstoreBundle:
			v := verifyBundle(sv, fc.Path, data, d, entry)
			fc.Verification = &v
			if !v.OK {
				rep.problem(ProblemSignature, fc.Path, fmt.Sprintf("%s: %s", fc.Path, v.Message))
				continue
			}
			if entry == nil {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s: a valid bundle whose signer did not count when the release was published", fc.Path))
				continue
			}
			if !genuine {
				continue
			}
			counted[artifact] = append(counted[artifact], "sigstore")
			signers[artifact] = append(signers[artifact], "Sigstore "+v.Message)
		}
	}
	judgeArtifacts(rep, &m, counted, signers)
	judgeVote(rep, &m)
	rep.conclude()
	return rep, nil
}

func (r *ReleaseReport) problem(code, path, msg string) {
	r.Problems = append(r.Problems, Problem{Code: code, Path: path, Message: msg})
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

func ownerOf(v Verification) string {
	if v.Details != nil && v.Details.Owner != "" {
		return " (" + v.Details.Owner + ")"
	}
	return ""
}

// verifyLog proves that the published manifest, as logged, is the log's
// entry at its index, in a log consistent with the last checkpoint seen.
func verifyLog(ctx context.Context, rep *ReleaseReport, server string, published []byte, opts ReleaseOptions) {
	fail := func(code, msg string) {
		rep.Log.Message = msg
		rep.problem(code, ManifestName, msg)
	}
	logged, idx, err := translog.LoggedManifest(published)
	if err != nil {
		fail(ProblemNotLogged, "the manifest names no log entry: "+err.Error())
		return
	}
	rep.Log.Index = idx
	fetcher, err := translog.HTTPFetcher(server+"/log/", opts.HTTP)
	if err != nil {
		fail(ProblemNotLogged, err.Error())
		return
	}
	c, err := translog.NewClient(fetcher, opts.LogKey)
	if err != nil {
		fail(ProblemLogKey, "the pinned log key is not a log key: "+err.Error())
		return
	}
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		fail(ProblemLogKey, "the log's checkpoint does not verify with the pinned log key (the server's log changed keys, or this is not its log): "+err.Error())
		return
	}
	rep.Log.CheckpointSize = cp.Size
	if opts.LastCheckpoint != nil {
		prev, err := c.ParseCheckpoint(opts.LastCheckpoint)
		if err != nil {
			fail(ProblemLogFork, "the checkpoint seen before is not valid for this log key: "+err.Error())
			return
		}
		if err := c.ProveConsistency(ctx, prev, cp); err != nil {
			fail(ProblemLogFork, fmt.Sprintf("the log is NOT consistent with the checkpoint seen before (%d entries, root %x…): it now shows %d entries with root %x…, which do not extend them; the log was rewritten or forked: report this to the project",
				prev.Size, prev.Hash[:8], cp.Size, cp.Hash[:8]))
			return
		}
	}
	rep.Log.Checkpoint = cp.Raw // consistent: the caller remembers it
	if idx >= cp.Size {
		fail(ProblemNotLogged, fmt.Sprintf("the manifest names log entry %d, but the log holds %d entries: it is not (yet) in the log", idx, cp.Size))
		return
	}
	entry, err := c.Entry(ctx, cp, idx)
	if err != nil {
		fail(ProblemNotLogged, fmt.Sprintf("log entry %d cannot be read: %v", idx, err))
		return
	}
	if !entry.Matches(logged) {
		fail(ProblemNotLogged, fmt.Sprintf("log entry %d is not this manifest: the manifest was changed after it was published, or is not the one trel logged", idx))
		return
	}
	if err := c.ProveInclusion(ctx, entry, idx, cp); err != nil {
		fail(ProblemNotLogged, fmt.Sprintf("the inclusion proof of entry %d failed: %v", idx, err))
		return
	}
	rep.Log.OK = true
	rep.Log.Message = fmt.Sprintf("the manifest is entry %d of trel's public log (checkpoint of %d entries, consistent with the last one seen); inclusion proven", idx, cp.Size)
}

// verifyBundle verifies a Sigstore bundle over the artifact and checks its
// signer is the one the manifest names for this file.
func verifyBundle(sv *sigstore.Verifier, name string, data []byte, d *digests, entry map[string]any) Verification {
	v := Verification{Kind: KindSigstore, File: name}
	b, err := sigstore.LoadBundle(data)
	if err != nil {
		v.Code, v.Message = string(sigstore.ReasonBundleInvalid), "not a valid Sigstore bundle: "+err.Error()
		return v
	}
	var keys []sigstore.PublicKey
	if pemKey, _ := entry["public_key"].(string); pemKey != "" {
		pk, err := sigstore.ParsePublicKeyPEM("the manifest's key", []byte(pemKey))
		if err != nil {
			v.Message = "the manifest's public key for this bundle cannot be read: " + err.Error()
			return v
		}
		_, held := entry["held_key"].(string)
		pk.Unlogged = held // logged in trel's public log, with a signed timestamp
		keys = append(keys, pk)
	}
	res, err := sv.Verify(b, sigstore.Artifact{SHA256: d.sha256, SHA512: d.sha512}, keys)
	if err != nil {
		v.Message = "the Sigstore verifier failed: " + err.Error()
		return v
	}
	if !res.Valid {
		v.Code, v.Message = string(res.ReasonCode), "the bundle is not valid: "+res.Reason
		return v
	}
	v.Details = &Details{Identity: res.Identity, Issuer: res.Issuer, KeyFingerprint: res.KeyFingerprint, TrustedRoot: res.RootName,
		LogIndex: res.LogIndex, TimeSource: res.TimeSource, SignatureTime: res.SignedAt}
	wantID, _ := entry["identity"].(string)
	wantIss, _ := entry["issuer"].(string)
	wantKey, _ := entry["key_fingerprint"].(string)
	switch {
	case entry == nil:
		v.OK, v.Message = true, fmt.Sprintf("valid, by %s%s", res.Identity, res.KeyFingerprint)
	case res.KeyBased() && res.KeyFingerprint == wantKey:
		v.OK, v.Message = true, "key "+res.KeyFingerprint
	case !res.KeyBased() && res.Identity == wantID && res.Issuer == wantIss:
		v.OK, v.Message = true, fmt.Sprintf("%s (issuer %s)", res.Identity, res.Issuer)
	default:
		v.Code = "identity-mismatch"
		v.Message = fmt.Sprintf("the bundle is valid but signed by %s%s (issuer %s), not by the signer the manifest names (%s%s)", res.Identity, res.KeyFingerprint, res.Issuer, wantID, wantKey)
	}
	return v
}

// judgeArtifacts applies the policy recorded in the manifest: every file
// that is neither metadata nor allowed unsigned needs the required
// signatures, counted above.
func judgeArtifacts(rep *ReleaseReport, m *releaseManifest, counted, signers map[string][]string) {
	pol := m.Rules
	if pol == nil {
		def := domain.DefaultPolicy()
		pol = &def
		rep.Notes = append(rep.Notes, "the manifest predates trel recording the policy in it: any signature that counted at publication is enough")
	}
	for _, f := range m.Files {
		if _, _, meta := rules.ArtifactOf(f.Path); meta || rules.IsSBOM(f.Path) {
			continue
		}
		if _, ok := domain.MatchUnsigned(pol.Unsigned, f.Path); ok {
			continue
		}
		ac := ArtifactCheck{Path: f.Path, Signers: signers[f.Path]}
		if ac.Signers == nil {
			ac.Signers = []string{}
		}
		has := func(kind string) bool {
			for _, k := range counted[f.Path] {
				if k == kind {
					return true
				}
			}
			return false
		}
		var missing string
		switch pol.Require {
		case domain.RequireOpenPGP:
			if !has("openpgp") {
				missing = "an OpenPGP signature"
			}
		case domain.RequireSigstore:
			if !has("sigstore") {
				missing = "a Sigstore bundle"
			}
		case domain.RequireAll:
			if !has("openpgp") || !has("sigstore") {
				missing = "both an OpenPGP signature and a Sigstore bundle"
			}
		default:
			if len(counted[f.Path]) == 0 {
				missing = "a signature"
			}
		}
		if missing != "" {
			ac.Message = fmt.Sprintf("lacks %s the policy requires (require %s)", missing, pol.Require)
			rep.problem(ProblemPolicy, f.Path, fmt.Sprintf("%s %s", f.Path, ac.Message))
		} else {
			ac.OK, ac.Message = true, fmt.Sprintf("signed as the policy requires (require %s)", pol.Require)
		}
		rep.Artifacts = append(rep.Artifacts, ac)
	}
}

// judgeVote recounts the vote from its votes, against the rules recorded
// when it started.
func judgeVote(rep *ReleaseReport, m *releaseManifest) {
	t := m.Vote
	fail := func(msg string) {
		rep.Vote.Message = msg
		rep.problem(ProblemVote, "", msg)
	}
	if t == nil {
		fail("the manifest records no vote")
		return
	}
	plus, minus := 0, 0
	for _, v := range t.Votes {
		switch {
		case v.Binding && v.Value > 0:
			plus++
		case v.Binding && v.Value < 0:
			minus++
		}
	}
	need := m.VoteRules.MinBindingPlusOnes
	switch {
	case need < 1:
		fail("the manifest's vote rules need no binding vote at all")
	case t.Round.MinBindingPlusOnes != need || t.Round.MinHours != m.VoteRules.MinVoteHours:
		fail("the vote's round and the manifest's vote rules disagree")
	case plus < need:
		fail(fmt.Sprintf("the vote has %d binding +1 (of %d votes); its rules need at least %d", plus, len(t.Votes), need))
	case plus <= minus:
		fail(fmt.Sprintf("the vote has %d binding +1 and %d binding -1: it needs more +1 than -1", plus, minus))
	case t.Round.Passed == nil || !*t.Round.Passed:
		fail("the vote round is not recorded as passed")
	case t.Round.Revision != m.Revision:
		fail(fmt.Sprintf("the vote was on revision %d, the release is revision %d", t.Round.Revision, m.Revision))
	case t.Round.ResolvedAt == nil || t.Round.ResolvedAt.Sub(t.Round.StartedAt) < time.Duration(m.VoteRules.MinVoteHours)*time.Hour:
		fail(fmt.Sprintf("the vote was resolved before its minimum of %d hours", m.VoteRules.MinVoteHours))
	default:
		rep.Vote = CheckLine{OK: true, Message: fmt.Sprintf("passed with %d binding +1 and %d binding -1 (at least %d needed), open %s (at least %d hours)",
			plus, minus, need, t.Round.ResolvedAt.Sub(t.Round.StartedAt).Round(time.Minute), m.VoteRules.MinVoteHours)}
	}
}

func (r *ReleaseReport) conclude() {
	if len(r.Artifacts) == 0 && len(r.Problems) == 0 {
		r.problem(ProblemNoArtifact, "", "the release has no artifact that was verified")
	}
	if len(r.Problems) == 0 {
		r.OK = true
		r.Reason = fmt.Sprintf("all %d files match the logged manifest, %d artifacts carry the signatures the policy requires, and the vote passed under its rules", len(r.Files), len(r.Artifacts))
		return
	}
	var causes []string
	for _, p := range r.Problems {
		causes = append(causes, p.Message)
	}
	if len(causes) > 3 {
		causes = append(causes[:3], fmt.Sprintf("and %d more", len(causes)-3))
	}
	r.Reason = strings.Join(causes, "; ")
}

func sigstoreVerifier(rootFile string) (*sigstore.Verifier, error) {
	root := sigstore.PublicGoodRoot()
	if rootFile != "" {
		var err error
		if root, err = sigstore.LoadTrustedRootFile(base(rootFile), rootFile); err != nil {
			return nil, fmt.Errorf("--trusted-root: %w", err)
		}
	}
	return sigstore.NewVerifier(root)
}

// readFile reads one file of the release once: its digests, and its bytes
// when keep (small metadata, bounded).
func readFile(ctx context.Context, opts ReleaseOptions, base, path string, keep bool) (*digests, []byte, error) {
	rc, err := openRelease(ctx, opts, base, path)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	var buf *bytes.Buffer
	var r io.Reader = rc
	if keep {
		buf = &bytes.Buffer{}
		r = io.TeeReader(io.LimitReader(rc, maxMetadataFile+1), buf)
	}
	d, err := hashReader(r)
	if err != nil {
		return nil, nil, err
	}
	if keep {
		if buf.Len() > maxMetadataFile {
			return nil, nil, fmt.Errorf("larger than %d bytes, too large for a signature or bundle", maxMetadataFile)
		}
		return d, buf.Bytes(), nil
	}
	return d, nil, nil
}

// openRelease opens a file of the release in opts.Dir, or at the origin.
func openRelease(ctx context.Context, opts ReleaseOptions, base, path string) (io.ReadCloser, error) {
	if opts.Dir != "" {
		return os.OpenInRoot(opts.Dir, path)
	}
	var escaped []string
	for _, seg := range strings.Split(path, "/") {
		escaped = append(escaped, url.PathEscape(seg))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+strings.Join(escaped, "/"), nil)
	if err != nil {
		return nil, err
	}
	resp, err := opts.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("the server answered %s", resp.Status)
	}
	return resp.Body, nil
}

// fetchStatus reads the release's status next to its manifest (nil when
// the server has none: an older server, or no such release).
func fetchStatus(ctx context.Context, hc *http.Client, base string) *ReleaseStatus {
	data, err := fetch(ctx, hc, base+StatusName, 64<<10)
	if err != nil {
		return nil
	}
	var st ReleaseStatus
	if json.Unmarshal(data, &st) != nil || st.State == "" {
		return nil
	}
	return &st
}

// movedTo is the directory on server where the status says the files are,
// when it is another one than base ("" otherwise). Only the path of
// filesURL counts: the release is verified on the server it was asked of.
func movedTo(server, base, filesURL string) string {
	u, err := url.Parse(filesURL)
	if err != nil || !strings.HasSuffix(u.Path, "/") || (!strings.HasPrefix(u.Path, "/downloads/") && !strings.HasPrefix(u.Path, "/archive/")) {
		return ""
	}
	moved := server + u.EscapedPath()
	if moved == base {
		return ""
	}
	return moved
}

// fetch reads a small document.
func fetch(ctx context.Context, hc *http.Client, u string, max int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", u, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", u, max)
	}
	return data, nil
}
