package cli

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"trel/client"
	"trel/internal/core"
	"trel/internal/server"
	"trel/internal/signing"
	"trel/internal/translog"
)

// adminMasterKeyCmds are `trel admin create-master-key` and
// `trel admin rotate-master-key`.
func adminMasterKeyCmds(e *env, eng *server.Engines) []*cobra.Command {
	var out string
	create := &cobra.Command{
		Use:   "create-master-key --out FILE",
		Short: "Create a master key file (mode 0600) for server-side signing",
		Long: `Create a random master key for the keys trel holds. Keep the file outside the data
directory and its backups: a stolen database without it signs nothing. Start the server
with --master-key-file FILE (or TREL_MASTER_KEY_FILE).`,
		Args: args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			m, err := signing.NewMasterKey()
			if err != nil {
				return err
			}
			if err := signing.WriteMasterKeyFile(out, m); err != nil {
				return err
			}
			return e.out(map[string]string{"file": out, "id": m.ID()}, func() {
				fmt.Fprintf(e.stdout, "Wrote master key %s to %s (mode 0600). Start trel with --master-key-file %s\n", m.ID(), out, out)
			})
		},
	}
	create.Flags().StringVar(&out, "out", "", "file to create (required)")
	create.MarkFlagRequired("out")

	var oldFile, newFile string
	rotate := &cobra.Command{
		Use:   "rotate-master-key --old FILE --new FILE",
		Short: "Re-wrap every key trel holds from the old master key to the new one",
		Args:  args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			oldM, err := signing.LoadMasterKey(oldFile)
			if err != nil {
				return fmt.Errorf("--old: %w", err)
			}
			newM, err := signing.LoadMasterKey(newFile)
			if err != nil {
				return fmt.Errorf("--new: %w", err)
			}
			app, err := server.OpenEngines(c.Context(), *eng, core.Options{})
			if err != nil {
				return err
			}
			defer app.Close()
			n, err := app.Core.RotateMasterKey(c.Context(), oldM, newM)
			if err != nil {
				return err
			}
			return e.out(map[string]any{"keys": n, "new_master_key_id": newM.ID()}, func() {
				fmt.Fprintf(e.stdout, "Re-wrapped %d keys under master key %s. Restart the server with --master-key-file %s.\n", n, newM.ID(), newFile)
			})
		},
	}
	rotate.Flags().StringVar(&oldFile, "old", "", "current master key file (required)")
	rotate.Flags().StringVar(&newFile, "new", "", "new master key file (required)")
	rotate.MarkFlagRequired("old")
	rotate.MarkFlagRequired("new")
	return []*cobra.Command{create, rotate}
}

func signingKeyCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "signing-key", Short: "Keys trel holds and signs with, after your passkey approval"}
	var algo string
	var days int
	var committees []string
	create := &cobra.Command{
		Use:   "create [--algorithm eddsa|rsa4096] [--expiry-days N] [--committee C]...",
		Short: "Create a key held by trel; the password is asked (or read from stdin when piped)",
		Args:  args(cobra.NoArgs),
		RunE: run(func(c *cobra.Command, cl *client.Client, _ []string) error {
			pw, err := readSecret(e, "New signing password (at least 12 characters): ")
			if err != nil {
				return err
			}
			k, err := cl.CreateServerKey(c.Context(), core.NewServerKey{Password: pw, Algorithm: algo, ExpiryDays: days, Committees: committees})
			if err != nil {
				return err
			}
			return e.out(k, func() {
				fmt.Fprintf(e.stdout, "Created key %s (%s), held by trel; its public key is in your keys and the KEYS files of %s.\n",
					k.Fingerprint, k.Algorithm, strings.Join(committees, ", "))
			})
		}),
	}
	create.Flags().StringVar(&algo, "algorithm", "eddsa", "eddsa or rsa4096")
	create.Flags().IntVar(&days, "expiry-days", 0, "lifetime in days (default 2 years, at most 5)")
	create.Flags().StringArrayVar(&committees, "committee", nil, "add the public key to this committee's KEYS (repeatable)")
	list := &cobra.Command{
		Use: "list", Short: "Your keys held by trel", Args: args(cobra.NoArgs),
		RunE: run(func(c *cobra.Command, cl *client.Client, _ []string) error {
			ks, err := cl.ServerKeys(c.Context())
			if err != nil {
				return err
			}
			return e.out(ks, func() {
				var rows [][]string
				for _, k := range ks {
					state := "active"
					switch {
					case k.RevokedAt != nil:
						state = "revoked"
					case k.RetiredAt != nil:
						state = "retired"
					case k.LockedUntil != nil && timeNow().Before(*k.LockedUntil):
						state = "locked"
					}
					rows = append(rows, []string{k.Fingerprint, k.Algorithm, state, when(k.ExpiresAt)})
				}
				e.table([]string{"FINGERPRINT", "ALGORITHM", "STATE", "EXPIRES"}, rows)
			})
		}),
	}
	events := &cobra.Command{
		Use: "events FINGERPRINT", Short: "Every signing attempt with your key: spot one you did not ask for", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			evs, err := cl.SigningEvents(c.Context(), a[0])
			if err != nil {
				return err
			}
			return e.out(evs, func() {
				for _, ev := range evs {
					fmt.Fprintf(e.stdout, "%s  %-8s %s from %s: %d file(s)\n", when(ev.Time), ev.User, ev.Outcome, ev.ClientIP, len(ev.Files))
				}
			})
		}),
	}
	var reason string
	revoke := &cobra.Command{
		Use: "revoke FINGERPRINT [--reason retired|superseded|compromised]", Short: "Revoke the key; the revocation is published in KEYS", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			pw, err := readSecret(e, "Signing password: ")
			if err != nil {
				return err
			}
			if err := cl.RevokeServerKey(c.Context(), a[0], pw, reason); err != nil {
				return err
			}
			return e.out(map[string]any{"fingerprint": a[0], "revoked": true}, func() { fmt.Fprintf(e.stdout, "Revoked key %s\n", a[0]) })
		}),
	}
	revoke.Flags().StringVar(&reason, "reason", "retired", "retired, superseded or compromised")
	retire := &cobra.Command{
		Use: "retire FINGERPRINT", Short: "Stop signing with the key (it stays in KEYS)", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if err := cl.RetireServerKey(c.Context(), a[0]); err != nil {
				return err
			}
			return e.out(map[string]any{"fingerprint": a[0], "retired": true}, func() { fmt.Fprintf(e.stdout, "Retired key %s\n", a[0]) })
		}),
	}
	password := &cobra.Command{
		Use: "password FINGERPRINT", Short: "Change the key's signing password (old, then new, one per line on stdin when piped)", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			in := bufio.NewReader(e.stdin)
			read := func(prompt string) (string, error) {
				if f, ok := e.stdin.(*os.File); ok && isTerminal(f) {
					return readSecret(e, prompt)
				}
				line, err := in.ReadString('\n')
				if err != nil && line == "" {
					return "", usageError{errors.New("give the old and the new password, one per line, on standard input")}
				}
				return strings.TrimRight(line, "\r\n"), nil
			}
			oldPw, err := read("Current signing password: ")
			if err != nil {
				return err
			}
			newPw, err := read("New signing password: ")
			if err != nil {
				return err
			}
			if err := cl.ChangeServerKeyPassword(c.Context(), a[0], oldPw, newPw); err != nil {
				return err
			}
			return e.out(map[string]any{"fingerprint": a[0], "changed": true}, func() { fmt.Fprintf(e.stdout, "Changed the password of key %s\n", a[0]) })
		}),
	}
	checkPassword := &cobra.Command{
		Use: "check-password FINGERPRINT", Short: "Check that you remember the key's signing password (a wrong one counts toward the lockout)", Args: args(cobra.ExactArgs(1)),
		Example: "  trel signing-key check-password 3A4F...C9D2",
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			pw, err := readSecret(e, "Signing password: ")
			if err != nil {
				return err
			}
			if err := cl.CheckServerKeyPassword(c.Context(), a[0], pw); err != nil {
				return err
			}
			return e.out(map[string]any{"fingerprint": a[0], "password_ok": true}, func() { fmt.Fprintf(e.stdout, "The password opens key %s.\n", a[0]) })
		}),
	}
	sigstoreKeys := &cobra.Command{
		Use: "sigstore-keys", Short: "The Sigstore (ECDSA P-256) public keys of your held keys, for key-based bundles (known once a key signed one)", Args: args(cobra.NoArgs),
		RunE: run(func(c *cobra.Command, cl *client.Client, _ []string) error {
			ks, err := cl.HeldSigstoreKeys(c.Context())
			if err != nil {
				return err
			}
			return e.out(ks, func() {
				for _, k := range ks {
					fmt.Fprintf(e.stdout, "# key %s held for %s, Sigstore key %s\n%s", k.Fingerprint, k.Owner, k.KeyID, k.PublicKey)
				}
			})
		}),
	}
	c.AddCommand(create, list, events, revoke, retire, password, checkPassword, sigstoreKeys)
	return c
}

func logCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "log", Short: "Check trel's public log of the signatures it made"}
	var server, keyFile string
	verify := &cobra.Command{
		Use:   "verify FILE.asc|trel-release-manifest.json [--server URL]",
		Short: "Prove from the log's static files that trel logged this signature or release manifest",
		Long: `Fetch the log's checkpoint (signed by the log key published at /log/verifier-key),
find the entry for this signature, or the entry a published release manifest names
in its log_index, and verify its inclusion proof from the tiles alone. The last
checkpoint seen is kept next to the configuration, and each run proves the new
checkpoint consistent with it.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, a []string) error {
			lc, err := logClient(c.Context(), server, keyFile)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(a[0])
			if err != nil {
				return fmt.Errorf("cannot read %s: %w", a[0], err)
			}
			cp, err := lc.checkpoint(c.Context())
			if err != nil {
				return err
			}
			if logged, idx, err := translog.LoggedManifest(data); err == nil {
				return verifyManifest(c.Context(), e, lc, cp, a[0], logged, idx)
			}
			sum := sha256.Sum256(data)
			found, err := lc.c.FindBySignature(c.Context(), cp, hex.EncodeToString(sum[:]))
			if err != nil {
				return err
			}
			if len(found) == 0 {
				return fmt.Errorf("%s is not in the log (checkpoint of %d entries): trel did not make this signature, or it was made after that checkpoint", a[0], cp.Size)
			}
			for _, f := range found {
				if err := lc.c.ProveInclusion(c.Context(), f.Entry, f.Index, cp); err != nil {
					return fmt.Errorf("the inclusion proof of entry %d failed: %w", f.Index, err)
				}
			}
			f := found[0]
			return e.out(map[string]any{"index": f.Index, "entry": f.Entry, "checkpoint_size": cp.Size}, func() {
				fmt.Fprintf(e.stdout, "Logged: entry %d of %d, key %s, artifact SHA-512 %s…, signed %s. Inclusion proven from the log's static files.\n",
					f.Index, cp.Size, f.Entry.KeyFingerprint, f.Entry.ArtifactSHA512[:16], f.Entry.Time.UTC().Format("2006-01-02 15:04:05Z"))
			})
		},
	}
	var fpr string
	list := &cobra.Command{
		Use: "list --key FPR [--server URL]", Short: "Every signature the log holds for a key", Args: args(cobra.NoArgs),
		RunE: func(c *cobra.Command, a []string) error {
			lc, err := logClient(c.Context(), server, keyFile)
			if err != nil {
				return err
			}
			cp, err := lc.checkpoint(c.Context())
			if err != nil {
				return err
			}
			found, err := lc.c.FindByKey(c.Context(), cp, fpr)
			if err != nil {
				return err
			}
			return e.out(found, func() {
				if len(found) == 0 {
					fmt.Fprintf(e.stdout, "The log (%d entries) holds no signature by %s.\n", cp.Size, fpr)
				}
				for _, f := range found {
					fmt.Fprintf(e.stdout, "%6d  %s  artifact %s…  signature %s…\n", f.Index, f.Entry.Time.UTC().Format("2006-01-02 15:04:05Z"), f.Entry.ArtifactSHA512[:16], f.Entry.SignatureSHA256[:16])
				}
			})
		},
	}
	list.Flags().StringVar(&fpr, "key", "", "key fingerprint (required)")
	list.MarkFlagRequired("key")
	for _, cmd := range []*cobra.Command{verify, list} {
		cmd.Flags().StringVar(&server, "server", "", "trel server (default: TREL_SERVER or the login configuration)")
		cmd.Flags().StringVar(&keyFile, "log-key", "", "file with the log's verifier key (default: fetched from the server)")
	}
	c.AddCommand(verify, list)
	return c
}

// verifyManifest proves that the published manifest's entry, as logged
// before its log_index was filled in, is the entry at that index.
func verifyManifest(ctx context.Context, e *env, lc *logCheck, cp *translog.Checkpoint, name string, logged []byte, idx uint64) error {
	if idx >= cp.Size {
		return fmt.Errorf("%s names log entry %d, but the log's checkpoint covers %d entries: try again in a moment", name, idx, cp.Size)
	}
	entry, err := lc.c.Entry(ctx, cp, idx)
	if err != nil {
		return fmt.Errorf("reading log entry %d: %w", idx, err)
	}
	if !entry.Matches(logged) {
		return fmt.Errorf("log entry %d is not this manifest: %s was changed after it was published, or is not the one trel published", idx, name)
	}
	if err := lc.c.ProveInclusion(ctx, entry, idx, cp); err != nil {
		return fmt.Errorf("the inclusion proof of entry %d failed: %w", idx, err)
	}
	return e.out(map[string]any{"index": idx, "entry": entry, "checkpoint_size": cp.Size}, func() {
		fmt.Fprintf(e.stdout, "Logged: release manifest at entry %d of %d, SHA-512 %s…, logged %s. Inclusion proven from the log's static files.\n",
			idx, cp.Size, entry.ArtifactSHA512[:16], entry.Time.UTC().Format("2006-01-02 15:04:05Z"))
	})
}

type logCheck struct {
	c     *translog.Client
	state string // file keeping the last checkpoint seen
}

func logClient(ctx context.Context, server, keyFile string) (*logCheck, error) {
	if server == "" {
		cfg, _ := loadConfig()
		server = cfg.Server
		if v := os.Getenv("TREL_SERVER"); v != "" {
			server = v
		}
	}
	if server == "" {
		return nil, usageError{errors.New("no server: pass --server URL, set TREL_SERVER or run `trel login`")}
	}
	server = strings.TrimSuffix(server, "/")
	var key string
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, err
		}
		key = strings.TrimSpace(string(b))
	} else {
		var err error
		if key, err = fetchLogKey(server); err != nil {
			return nil, err
		}
	}
	fetch, err := translog.HTTPFetcher(server+"/log/", nil)
	if err != nil {
		return nil, err
	}
	c, err := translog.NewClient(fetch, key)
	if err != nil {
		return nil, fmt.Errorf("the log key: %w", err)
	}
	return &logCheck{c: c, state: logStateFile(server, "log-checkpoint")}, nil
}

// checkpoint fetches the current checkpoint and proves it consistent with
// the last one this client saw, then remembers it.
func (l *logCheck) checkpoint(ctx context.Context) (*translog.Checkpoint, error) {
	cp, err := l.c.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	if l.state == "" {
		return cp, nil
	}
	if old, err := os.ReadFile(l.state); err == nil {
		prev, err := l.c.ParseCheckpoint(old)
		if err != nil {
			return nil, fmt.Errorf("the checkpoint saved in %s is not valid: %w", l.state, err)
		}
		if err := l.c.ProveConsistency(ctx, prev, cp); err != nil {
			return nil, fmt.Errorf("the log is NOT consistent with the checkpoint seen before (%d entries): %w; report this", prev.Size, err)
		}
	}
	os.MkdirAll(filepath.Dir(l.state), 0o700)
	if err := os.WriteFile(l.state, cp.Raw, 0o600); err != nil {
		return nil, err
	}
	return cp, nil
}
