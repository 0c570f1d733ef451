package cli

import (
	"bufio"
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"trel/client"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/openpgp"
)

func signCmd(e *env) *cobra.Command {
	var keyFile, gpgKey, uploadTo string
	var useGPG bool
	var passFD int
	var sf sigstoreFlags
	c := &cobra.Command{
		Use:   "sign PATH... (--key FILE | --gpg [--local-user ID] | --sigstore) [--upload PROJECT/VERSION]",
		Short: "Sign files with your own OpenPGP key (PATH.asc) or keylessly with Sigstore (PATH.sigstore.json), and optionally upload them",
		Long: `Sign files on this machine; no private key leaves it.

  --key FILE   an armored or binary OpenPGP secret key (e.g. gpg --export-secret-keys --armor FPR);
               the newest valid signing subkey signs; expired and revoked keys are refused.
               The passphrase is asked on the terminal, or read from --passphrase-fd N.
  --gpg        let your GnuPG sign (its agent, smartcards and hardware tokens work as usual).
  --sigstore   sign keylessly: an OIDC identity token (--identity-token TOKEN|@FILE|-, else CI
               credentials: SIGSTORE_ID_TOKEN or GitHub Actions' id-token, else sign in with a
               browser, or with a code on another device when there is no display) gets a
               short-lived certificate from Fulcio; the signature is logged in Rekor and/or
               timestamped, as the instance's signing configuration says. Each PATH gets
               PATH.sigstore.json (bundle v0.3, a message signature over the SHA-256 digest, or
               with --dsse an in-toto statement naming the file), verified against the trusted
               root before it is written. The instance is Sigstore's public-good one, --staging,
               or a private one (--signing-config FILE --trusted-root FILE).

Existing signatures are never overwritten, and a failed signing writes nothing. With
--upload PROJECT/VERSION, an OpenPGP key is first checked to be registered for the
project's committee, proven and not revoked; then every signature, and every artifact the
release does not hold yet, are uploaded as one new revision (refused if someone else
changed the release meanwhile, or if the release holds another file of the same name).`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(c *cobra.Command, paths []string) error {
			if err := sf.misused(c); err != nil {
				return err
			}
			if sf.enabled {
				if keyFile != "" || useGPG {
					return usageError{errors.New("choose one of --key FILE, --gpg and --sigstore")}
				}
				return e.runSigstoreSign(c, &sf, paths, uploadTo)
			}
			if (keyFile == "") == !useGPG {
				return usageError{errors.New("choose exactly one of --key FILE, --gpg and --sigstore")}
			}
			if err := checkSignTargets(paths, ".asc"); err != nil {
				return err
			}
			var cl *client.Client
			project, version, err := splitUpload(uploadTo)
			if err != nil {
				return err
			}
			if uploadTo != "" {
				if cl, err = newClient(); err != nil {
					return err
				}
			}

			var sign func(path string) error
			fingerprint := ""
			if useGPG {
				sign = func(path string) error { return gpgSign(e, gpgKey, path) }
			} else {
				k, err := e.readSigningKey(keyFile, passFD)
				if err != nil {
					return err
				}
				fingerprint = k.Fingerprint
				sign = func(path string) error { return signWith(k, path) }
			}
			// Before signing anything: is this key allowed to count?
			if cl != nil && fingerprint != "" {
				if err := e.checkRegistered(c, cl, project, fingerprint); err != nil {
					return err
				}
			}
			var made []string
			for _, p := range paths {
				if err := sign(p); err != nil {
					return fmt.Errorf("signing %s: %w", p, err)
				}
				made = append(made, p+".asc")
			}
			if cl != nil && fingerprint == "" {
				// gpg chose the key: read it from the first signature.
				sig, err := os.ReadFile(made[0])
				if err != nil {
					return err
				}
				fingerprint = issuerOf(sig)
				if err := e.checkRegistered(c, cl, project, fingerprint); err != nil {
					return err
				}
			}
			if cl == nil {
				return e.out(map[string]any{"signatures": made, "key": fingerprint}, func() {
					for _, m := range made {
						fmt.Fprintf(e.stdout, "Wrote %s\n", m)
					}
				})
			}
			rev, err := cl.Revision(c.Context(), project, version, 0)
			if err != nil {
				return err
			}
			expect := rev.Number
			req := core.RevisionRequest{ExpectRevision: &expect, Description: fmt.Sprintf("signatures by %s", fingerprint)}
			// Every signature goes next to its artifact: one the release
			// does not hold yet is uploaded with it, in the same revision.
			var todo []localFile
			for i, m := range made {
				target, err := signatureTarget(rev, paths[i])
				if err != nil {
					return err
				}
				artifact := strings.TrimSuffix(target, ".asc")
				if err := sameContent(rev, artifact, paths[i], project, version); err != nil {
					return err
				}
				if !holds(rev, artifact) {
					todo = append(todo, localFile{local: paths[i], target: artifact, size: fileSize(paths[i])})
				}
				todo = append(todo, localFile{local: m, target: target, size: -1})
			}
			// The signatures stay written: `trel sign` again would refuse
			// to overwrite them, so the retry uploads them.
			if req.Changes, err = e.uploadAll(c.Context(), cl, project, version, todo, defaultParallelUploads, uploadCommands(project, version, todo)); err != nil {
				return err
			}
			return e.commit(c.Context(), cl, project, version, req)
		},
	}
	f := c.Flags()
	f.StringVar(&keyFile, "key", "", "OpenPGP secret key file")
	f.IntVar(&passFD, "passphrase-fd", -1, "read the passphrase from this file descriptor (automation)")
	f.BoolVar(&useGPG, "gpg", false, "sign with your GnuPG")
	f.StringVar(&gpgKey, "local-user", "", "with --gpg: the key to use (default: gpg's default key)")
	f.StringVar(&uploadTo, "upload", "", "upload the signatures to PROJECT/VERSION as one revision")
	sf.register(c)
	return c
}

// signatureTarget names the signature inside the release: next to the
// release's file of the same name, or at the root when there is none.
func signatureTarget(rev *domain.Revision, local string) (string, error) {
	base := filepath.Base(local)
	var found []string
	for _, f := range rev.Files {
		if path.Base(f.Path) == base {
			found = append(found, f.Path)
		}
	}
	switch len(found) {
	case 0:
		return base + ".asc", nil
	case 1:
		return found[0] + ".asc", nil
	}
	return "", usageError{fmt.Errorf("the release holds several files named %s (%s): sign and upload with `trel upload --to DIR` instead", base, strings.Join(found, ", "))}
}

func (e *env) readSigningKey(path string, passFD int) (*openpgp.SigningKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	var pass []byte
	if passFD >= 0 {
		f := os.NewFile(uintptr(passFD), "passphrase")
		if f == nil {
			return nil, usageError{fmt.Errorf("--passphrase-fd %d is not an open file descriptor", passFD)}
		}
		line, err := bufio.NewReader(f).ReadString('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading the passphrase: %w", err)
		}
		pass = []byte(strings.TrimRight(line, "\r\n"))
	}
	k, err := openpgp.ReadSecretKey(data, pass)
	if errors.Is(err, openpgp.ErrPassphrase) && passFD < 0 {
		in, ok := e.stdin.(*os.File)
		if !ok || !term.IsTerminal(int(in.Fd())) {
			return nil, usageError{errors.New("the key is protected by a passphrase: run on a terminal, or pass it with --passphrase-fd N")}
		}
		fmt.Fprint(e.stderr, "Passphrase for "+path+": ")
		pass, err = term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return nil, err
		}
		k, err = openpgp.ReadSecretKey(data, pass)
	}
	for i := range pass {
		pass[i] = 0
	}
	return k, err
}

// signWith writes path.asc, refusing to replace an existing file.
func signWith(k *openpgp.SigningKey, path string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	var buf bytes.Buffer
	if err := k.SignDetached(&buf, in); err != nil {
		return err
	}
	out, err := os.OpenFile(path+".asc", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s.asc: %w", path, err)
	}
	if _, err := out.Write(buf.Bytes()); err != nil {
		out.Close()
		os.Remove(path + ".asc")
		return err
	}
	return out.Close()
}

func gpgSign(e *env, key, path string) error {
	args := []string{"--armor", "--detach-sign", "--digest-algo", "SHA512", "--output", path + ".asc"}
	if key != "" {
		args = append(args, "--local-user", key)
	}
	cmd := exec.Command("gpg", append(args, path)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stderr, e.stderr
	if err := cmd.Run(); err != nil {
		os.Remove(path + ".asc")
		in, ok := e.stdin.(*os.File)
		if !ok || !isTerminal(in) || os.Getenv("GPG_TTY") == "" {
			return fmt.Errorf("gpg failed (%w). Without a terminal gpg cannot ask for your passphrase: "+
				"on a terminal, run `export GPG_TTY=$(tty)` first; in a script, unlock the key in gpg-agent beforehand "+
				"(for example `echo | gpg --local-user KEY --clearsign >/dev/null` on a terminal) or use `trel sign --key FILE --passphrase-fd N`", err)
		}
		return fmt.Errorf("gpg failed: %w", err)
	}
	return nil
}

// issuerOf returns the issuer fingerprint (or key ID) of a signature.
func issuerOf(sig []byte) string {
	for _, is := range openpgp.Issuers(sig) {
		if is.Fingerprint != "" {
			return is.Fingerprint
		}
		return is.KeyID
	}
	return ""
}

// checkRegistered makes sure the key (primary fingerprint, or a key ID)
// is registered for the project's committee, and says how to fix it.
func (e *env) checkRegistered(c *cobra.Command, cl *client.Client, project, fpr string) error {
	p, err := cl.Project(c.Context(), project)
	if err != nil {
		return err
	}
	keys, err := cl.ListKeys(c.Context(), p.CommitteeKey)
	if err != nil {
		return err
	}
	for _, k := range keys {
		match := k.Fingerprint == fpr || strings.HasSuffix(k.Fingerprint, fpr)
		for _, s := range k.Subkeys {
			match = match || s.Fingerprint == fpr || strings.HasSuffix(s.Fingerprint, fpr)
		}
		if match {
			if k.RevokedAt != nil {
				return fmt.Errorf("key %s was revoked on %s: trel does not count its signatures; sign with another key (`trel keys list` shows yours)",
					k.Fingerprint, k.RevokedAt.UTC().Format("2006-01-02"))
			}
			if k.Owner == "" {
				return fmt.Errorf("key %s is registered for committee %s but nobody proved to own it, so its signatures would not count: run `trel keys challenge %s` and `trel keys prove %s --signature FILE` first",
					k.Fingerprint, p.CommitteeKey, k.Fingerprint, k.Fingerprint)
			}
			return nil
		}
	}
	return fmt.Errorf("key %s is not registered for committee %s, so its signatures would not count: register it with `gpg --export --armor %s > key.asc && trel keys add key.asc --committee %s`, then prove you own it with `trel keys challenge`",
		fpr, p.CommitteeKey, fpr, p.CommitteeKey)
}

// holds reports whether a revision has a file at p.
func holds(rev *domain.Revision, p string) bool {
	for _, f := range rev.Files {
		if f.Path == p {
			return true
		}
	}
	return false
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return st.Size()
}

// sameContent refuses to upload a signature of a local file next to a
// release file of the same name but other content: the signature would
// not verify there.
func sameContent(rev *domain.Revision, target, local, project, version string) error {
	for _, f := range rev.Files {
		if f.Path != target {
			continue
		}
		fh, err := os.Open(local)
		if err != nil {
			return err
		}
		defer fh.Close()
		h := sha512.New()
		if _, err := io.Copy(h, fh); err != nil {
			return err
		}
		if hex.EncodeToString(h.Sum(nil)) != f.SHA512 {
			upload := fmt.Sprintf("trel upload %s %s %s", project, version, local)
			if dir := path.Dir(target); dir != "." {
				upload += " --to " + dir
			}
			return fmt.Errorf("%s in %s %s is not the file you signed (%s): upload yours first with `%s`, or sign the release's copy (`trel download %s %s %s`)",
				target, project, version, local, upload, project, version, target)
		}
	}
	return nil
}

// checkSignTargets checks the files to sign before anything is signed:
// regular files, each given once (also under another name), none with a
// signature (path+suffix) already next to it.
func checkSignTargets(paths []string, suffix string) error {
	var seen []os.FileInfo
	for i, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", p, err)
		}
		if !st.Mode().IsRegular() {
			return usageError{fmt.Errorf("%s is not a regular file", p)}
		}
		for j, prev := range seen {
			if os.SameFile(prev, st) {
				return usageError{fmt.Errorf("%s and %s are the same file: give each file once", paths[j], paths[i])}
			}
		}
		seen = append(seen, st)
		if _, err := os.Lstat(p + suffix); err == nil {
			return usageError{fmt.Errorf("%s%s already exists; trel never overwrites a signature: move it away first", p, suffix)}
		}
	}
	return nil
}
