package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"trel/client"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/idtoken"
	"trel/internal/sigstore"
)

// BundleSuffix is what `trel sign --sigstore` appends to a file's name.
const BundleSuffix = ".sigstore.json"

// sigstoreFlags are the Sigstore options of `trel sign`.
type sigstoreFlags struct {
	enabled       bool
	identityToken string
	signingConfig string
	trustedRoot   string
	staging       bool
	dsse          bool
	oidcFlow      string
}

func (f *sigstoreFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.BoolVar(&f.enabled, "sigstore", false, "sign keylessly with Sigstore: write PATH"+BundleSuffix)
	fl.StringVar(&f.identityToken, "identity-token", "", "with --sigstore: the OIDC identity token, @FILE to read it, or - for standard input (default: CI credentials, else sign in)")
	fl.StringVar(&f.signingConfig, "signing-config", "", "with --sigstore: signing_config v0.2 JSON of a private Sigstore instance")
	fl.StringVar(&f.trustedRoot, "trusted-root", "", "with --sigstore: trusted_root.json the bundles must verify against")
	fl.BoolVar(&f.staging, "staging", false, "with --sigstore: use Sigstore's staging instance")
	fl.BoolVar(&f.dsse, "dsse", false, "with --sigstore: sign an in-toto statement naming the file (DSSE) instead of the file's digest")
	fl.StringVar(&f.oidcFlow, "oidc-flow", "", "with --sigstore: how to sign in when no token is given: browser or device (default: browser when a display is available)")
}

// instance is the Sigstore instance the flags name; the embedded
// instances' material is replaced by what `trel sigstore update-root`
// fetched, unless a file is given.
func (f *sigstoreFlags) instance() (*sigstore.Instance, error) {
	o := sigstore.InstanceOptions{Staging: f.staging, SigningConfig: f.signingConfig, TrustedRoot: f.trustedRoot}
	if o.SigningConfig == "" && o.TrustedRoot == "" {
		name := sigstore.RootPublicGood
		if f.staging {
			name = sigstore.RootStaging
		}
		o.SigningConfig, o.TrustedRoot = refreshed(name, sigstore.SigningConfigTarget), refreshed(name, sigstore.TrustedRootTarget)
		o.Name = name
	}
	in, err := sigstore.LoadInstance(o)
	if err != nil {
		return nil, usageError{err}
	}
	return in, nil
}

// misused reports Sigstore flags given without --sigstore.
func (f *sigstoreFlags) misused(c *cobra.Command) error {
	if f.enabled {
		return nil
	}
	for _, name := range []string{"identity-token", "signing-config", "trusted-root", "staging", "dsse", "oidc-flow"} {
		if c.Flags().Changed(name) {
			return usageError{fmt.Errorf("--%s only goes with --sigstore", name)}
		}
	}
	return nil
}

// signedFile is one file signed with Sigstore.
type signedFile struct {
	File       string    `json:"file"`
	Bundle     string    `json:"bundle"`
	Identity   string    `json:"identity"`
	Issuer     string    `json:"issuer"`
	LogIndex   int64     `json:"log_index"`
	SignedAt   time.Time `json:"signed_at"`
	TimeSource string    `json:"time_source"`

	artifact sigstore.Artifact
	json     []byte
}

// getIdentityToken finds the identity token (given, CI, browser, device),
// says who is about to sign, and never prints the token.
func (e *env) getIdentityToken(ctx context.Context, in *sigstore.Instance, given, flow string) (string, error) {
	tok, how, err := idtoken.Get(ctx, idtoken.Options{Given: given, Issuer: in.OIDCIssuer(timeNow()), Flow: flow, Stdin: e.stdin, Messages: e.stderr})
	if err != nil {
		return "", err
	}
	info, err := idtoken.Inspect(tok)
	if err != nil {
		return "", err
	}
	if !e.json {
		fmt.Fprintf(e.stderr, "Signing as %s (issuer %s, token from %s) with Sigstore instance %s\n", info.Identity(), info.Issuer, how, in.Name)
	}
	return tok, nil
}

// signSigstore signs every file with one keyless signer (one Fulcio
// certificate) and returns the verified bundles; nothing is written.
func (e *env) signSigstore(ctx context.Context, in *sigstore.Instance, token string, files []*signedFile, dsse bool) error {
	s, err := in.NewSigner(ctx, sigstore.SignerOptions{IdentityToken: token})
	if err != nil {
		return err
	}
	// Files are signed in parallel: most of the time is the log's
	// batching (Rekor v2 publishes a checkpoint every second or so), and
	// one signer is safe for concurrent use.
	errs := make([]error, len(files))
	sem := make(chan struct{}, maxParallelSigning)
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = signOne(ctx, s, f, dsse)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// maxParallelSigning bounds the files signed at once.
const maxParallelSigning = 8

func signOne(ctx context.Context, s *sigstore.Signer, f *signedFile, dsse bool) error {
	var signed *sigstore.Signed
	var err error
	if dsse {
		st, err := sigstore.Statement(filepath.Base(f.File), f.artifact)
		if err != nil {
			return err
		}
		signed, err = s.SignStatement(ctx, st)
		if err != nil {
			return fmt.Errorf("signing %s: %w", f.File, err)
		}
	} else if signed, err = s.SignDigest(ctx, f.artifact.SHA256); err != nil {
		return fmt.Errorf("signing %s: %w", f.File, err)
	}
	r := signed.Result
	f.json, f.Identity, f.Issuer, f.LogIndex, f.SignedAt, f.TimeSource = signed.JSON, r.Identity, r.Issuer, r.LogIndex, r.SignedAt, r.TimeSource
	return nil
}

// writeBundles writes every bundle, never replacing a file; when one
// cannot be written, those already written are removed: all or nothing.
func writeBundles(files []*signedFile) error {
	var written []string
	for _, f := range files {
		if err := writeNew(f.Bundle, f.json); err != nil {
			for _, w := range written {
				os.Remove(w)
			}
			return err
		}
		written = append(written, f.Bundle)
	}
	return nil
}

func writeNew(name string, data []byte) error {
	out, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists; trel never overwrites a signature: move it away first", name)
		}
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if _, err := out.Write(data); err != nil {
		out.Close()
		os.Remove(name)
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := out.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// summary is the line printed for each signed file.
func (f *signedFile) summary() string {
	return fmt.Sprintf("Signed %s -> %s: %s (issuer %s), log index %d, %s (%s)",
		f.File, f.Bundle, f.Identity, f.Issuer, f.LogIndex, f.SignedAt.UTC().Format(time.RFC3339), f.TimeSource)
}

// uploadPlan says where each artifact and bundle goes in the release.
type uploadPlan struct {
	project, version string
	rev              *domain.Revision // latest; Number 0 when empty
	targets          []string         // artifact path in the release, per file
	upload           []bool           // the artifact is not in the release yet
}

// planSigstoreUpload decides, before anything is signed, where artifacts
// and bundles land: a bundle goes next to the release's file with the same
// name and content; an artifact the release does not hold yet is uploaded
// at the top. The same name with other content is refused.
func (e *env) planSigstoreUpload(ctx context.Context, cl *client.Client, project, version string, files []*signedFile) (*uploadPlan, error) {
	rel, err := cl.Release(ctx, project, version)
	if err != nil {
		return nil, err
	}
	p := &uploadPlan{project: project, version: version, rev: &domain.Revision{}}
	if rel.LatestRevision > 0 {
		if p.rev, err = cl.Revision(ctx, project, version, 0); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		base := filepath.Base(f.File)
		sum := hex.EncodeToString(f.artifact.SHA256)
		var same, other []string
		for _, rf := range p.rev.Files {
			if path.Base(rf.Path) != base {
				continue
			}
			if rf.SHA256 == sum {
				same = append(same, rf.Path)
			} else {
				other = append(other, rf.Path)
			}
		}
		switch {
		case len(same) == 1:
			p.targets, p.upload = append(p.targets, same[0]), append(p.upload, false)
		case len(same) > 1:
			return nil, usageError{fmt.Errorf("the release holds %s several times (%s): upload the bundle with `trel upload --to DIR` instead", base, strings.Join(same, ", "))}
		case len(other) > 0:
			return nil, usageError{fmt.Errorf("the release already holds %s with other content than %s: sign the file that is in the release (trel download), or remove it first", strings.Join(other, ", "), f.File)}
		default:
			p.targets, p.upload = append(p.targets, base), append(p.upload, true)
		}
		for _, rf := range p.rev.Files {
			if rf.Path == p.targets[len(p.targets)-1]+BundleSuffix {
				return nil, usageError{fmt.Errorf("the release already holds %s: remove it first (trel rm) to sign %s again", rf.Path, f.File)}
			}
		}
	}
	return p, nil
}

// uploadSigned uploads the new artifacts and every bundle as one revision,
// guarded by the revision the plan saw.
func (e *env) uploadSigned(ctx context.Context, cl *client.Client, p *uploadPlan, files []*signedFile) (*core.RevisionResult, error) {
	expect := p.rev.Number
	req := core.RevisionRequest{ExpectRevision: &expect, Description: fmt.Sprintf("Sigstore bundles by %s", files[0].Identity)}
	var todo []localFile
	for i, f := range files {
		if p.upload[i] {
			todo = append(todo, localFile{local: f.File, target: p.targets[i], size: fileSize(f.File)})
		}
		todo = append(todo, localFile{local: f.Bundle, target: p.targets[i] + BundleSuffix, size: -1})
	}
	// The bundles stay written: the retry uploads them.
	changes, err := e.uploadAll(ctx, cl, p.project, p.version, todo, defaultParallelUploads, uploadCommands(p.project, p.version, todo))
	if err != nil {
		return nil, err
	}
	req.Changes = changes
	res, err := cl.CreateRevision(ctx, p.project, p.version, req)
	if err == nil {
		forgetSessions(e.completedSessions...)
	}
	return res, err
}

// runSigstoreSign is `trel sign PATH... --sigstore`.
func (e *env) runSigstoreSign(c *cobra.Command, f *sigstoreFlags, paths []string, uploadTo string) error {
	ctx := c.Context()
	var files []*signedFile
	if err := checkSignTargets(paths, BundleSuffix); err != nil {
		return err
	}
	for _, p := range paths {
		files = append(files, &signedFile{File: p, Bundle: p + BundleSuffix})
	}
	in, err := f.instance()
	if err != nil {
		return err
	}
	var cl *client.Client
	var plan *uploadPlan
	project, version, err := splitUpload(uploadTo)
	if err != nil {
		return err
	}
	// Digests first: Fulcio certificates live about 10 minutes, and a big
	// file takes a while to read.
	for _, sf := range files {
		if !e.json {
			fmt.Fprintf(e.stderr, "Hashing %s\n", sf.File)
		}
		if sf.artifact, err = sigstore.DigestFile(sf.File); err != nil {
			return err
		}
	}
	if uploadTo != "" {
		if cl, err = newClient(); err != nil {
			return err
		}
		if plan, err = e.planSigstoreUpload(ctx, cl, project, version, files); err != nil {
			return err
		}
	}
	token, err := e.getIdentityToken(ctx, in, f.identityToken, f.oidcFlow)
	if err != nil {
		return err
	}
	if err := e.signSigstore(ctx, in, token, files, f.dsse); err != nil {
		return err
	}
	if err := writeBundles(files); err != nil {
		return err
	}
	if !e.json {
		for _, sf := range files {
			fmt.Fprintln(e.stdout, sf.summary())
		}
	}
	if cl == nil {
		return e.out(map[string]any{"signatures": files}, func() {})
	}
	res, err := e.uploadSigned(ctx, cl, plan, files)
	if err != nil {
		return fmt.Errorf("the bundles were written but not uploaded: %w", err)
	}
	return e.out(map[string]any{"signatures": files, "revision": res.Revision, "created": res.Created}, func() {
		fmt.Fprintf(e.stdout, "Created revision %d of %s %s (%d files).\n", res.Revision.Number, project, version, len(res.Revision.Files))
	})
}

// splitUpload parses --upload PROJECT/VERSION ("" is no upload).
func splitUpload(v string) (project, version string, err error) {
	if v == "" {
		return "", "", nil
	}
	project, version, ok := strings.Cut(v, "/")
	if !ok || project == "" || version == "" {
		return "", "", usageError{fmt.Errorf("--upload %q: use PROJECT/VERSION", v)}
	}
	return project, version, nil
}
