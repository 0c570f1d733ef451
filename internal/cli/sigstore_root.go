package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"trel/internal/sigstore"
)

// sigstoreDir is where `trel sigstore update-root` keeps what it fetched:
// sigstore/ next to the configuration file.
func sigstoreDir() (string, error) {
	p, err := configPath()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(p), "sigstore"), nil
}

// refreshed returns the path of a file `trel sigstore update-root` fetched
// for the embedded instance name (public-good, staging), or "".
func refreshed(name, target string) string {
	dir, err := sigstoreDir()
	if err != nil {
		return ""
	}
	p := filepath.Join(dir, name, target)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// refreshedRoot is the trusted root file to use instead of the embedded
// one, when an update fetched one: "" keeps the embedded root.
func refreshedRoot(staging bool) string {
	name := sigstore.RootPublicGood
	if staging {
		name = sigstore.RootStaging
	}
	return refreshed(name, sigstore.TrustedRootTarget)
}

func sigstoreUpdateRootCmd(e *env) *cobra.Command {
	var o sigstore.TUFOptions
	var rootFile string
	c := &cobra.Command{
		Use:   "update-root [--staging] [--tuf-url URL [--tuf-root FILE]]",
		Short: "Fetch the current Sigstore trusted root and signing configuration through TUF",
		Long: `Run a TUF update against Sigstore's repository (public-good, or --staging;
--tuf-url names a mirror, and with --tuf-root another repository, e.g. a private
instance's, whose material is kept as "private") and keep its
trusted_root.json and signing_config.v0.2.json next to trel's configuration. Every
file is checked against the TUF root before it is kept. From then on trel sign
--sigstore, trel sigstore sign-bundle, trel verify and trel sigstore verify-bundle use
them instead of the copies built into trel (an explicit --trusted-root or
--signing-config still wins). Servers take roots as files: trel serve --sigstore-root.`,
		Args: args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			if rootFile != "" && o.URL == "" {
				return usageError{errors.New("--tuf-root names the root of another repository: give its --tuf-url too")}
			}
			if rootFile != "" {
				data, err := readBoundedFile(rootFile, sigstore.MaxTrustedRootSize)
				if err != nil {
					return err
				}
				o.Root = data
			}
			dir, err := sigstoreDir()
			if err != nil {
				return err
			}
			o.CacheDir = dir
			got, err := sigstore.FetchFromTUF(o)
			if err != nil {
				return err
			}
			out := filepath.Join(dir, got.Name)
			if err := os.MkdirAll(out, 0o700); err != nil {
				return err
			}
			written := []string{}
			for target, data := range map[string][]byte{sigstore.TrustedRootTarget: got.TrustedRoot, sigstore.SigningConfigTarget: got.SigningConfig} {
				p := filepath.Join(out, target)
				if data == nil {
					if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
						return err
					}
					continue
				}
				if err := writeReplace(p, data); err != nil {
					return err
				}
				written = append(written, p)
			}
			return e.out(map[string]any{"instance": got.Name, "files": written}, func() {
				fmt.Fprintf(e.stdout, "Updated the %s trusted material through TUF:\n", got.Name)
				for _, p := range written {
					fmt.Fprintf(e.stdout, "  %s\n", p)
				}
			})
		},
	}
	f := c.Flags()
	f.BoolVar(&o.Staging, "staging", false, "Sigstore's staging instance")
	f.StringVar(&o.URL, "tuf-url", "", "a mirror of the repository, or with --tuf-root another repository")
	f.StringVar(&rootFile, "tuf-root", "", "the TUF root.json that anchors --tuf-url")
	return c
}

// writeReplace writes a file atomically (temporary file, then rename).
func writeReplace(p string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".update-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}
