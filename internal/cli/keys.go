package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"trel/client"
	"trel/internal/core"
	"trel/internal/domain"
)

// readInput reads a file argument, "-" meaning standard input, bounded.
func readInput(e *env, name string, max int64) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = e.stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", name, err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", name, err)
	}
	if int64(len(data)) > max {
		return nil, usageError{fmt.Errorf("%s is larger than %d bytes", name, max)}
	}
	return data, nil
}

func keysCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "keys", Short: "OpenPGP keys: add, import KEYS, prove ownership, list, export"}

	var committees []string
	var automation bool
	add := &cobra.Command{
		Use:   "add FILE [--committee C]... [--automation]",
		Short: "Add public key(s) from FILE (\"-\" for stdin), optionally to committees",
		Args:  args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			data, err := readInput(e, a[0], 5<<20)
			if err != nil {
				return err
			}
			rep, err := cl.AddKeys(c.Context(), data, committees, automation)
			if err != nil {
				return err
			}
			return e.printKeyReport(rep)
		}),
	}
	add.Flags().StringArrayVar(&committees, "committee", nil, "link the key to this committee (repeatable)")
	add.Flags().BoolVar(&automation, "automation", false, "register as the committee's automation (CI) key (committee members)")

	var into string
	imp := &cobra.Command{
		Use:   "import KEYS --committee C",
		Short: "Import a committee's KEYS file; every block is reported",
		Args:  args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			data, err := readInput(e, a[0], 5<<20)
			if err != nil {
				return err
			}
			rep, err := cl.ImportKEYS(c.Context(), into, data)
			if err != nil {
				return err
			}
			return e.printKeyReport(rep)
		}),
	}
	imp.Flags().StringVar(&into, "committee", "", "committee whose KEYS file this is (required)")
	imp.MarkFlagRequired("committee")

	var rev int
	impRel := &cobra.Command{
		Use:   "import-release PROJECT VERSION PATH [--revision N]",
		Short: "Import a KEYS file that was uploaded into a draft into its committee",
		Args:  args(cobra.ExactArgs(3)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			rep, err := cl.ImportReleaseKEYS(c.Context(), a[0], a[1], a[2], rev)
			if err != nil {
				return err
			}
			return e.printKeyReport(rep)
		}),
	}
	impRel.Flags().IntVar(&rev, "revision", 0, "revision (default: the latest)")

	var of string
	var deleted bool
	list := &cobra.Command{
		Use: "list [--committee C | --deleted]", Short: "List your keys, your deleted keys, or a committee's linked keys", Args: args(cobra.NoArgs),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if deleted && of != "" {
				return usageError{fmt.Errorf("give --committee or --deleted, not both")}
			}
			var ks []domain.Key
			var err error
			if deleted {
				ks, err = cl.DeletedKeys(c.Context())
			} else {
				ks, err = cl.ListKeys(c.Context(), of)
			}
			if err != nil {
				return err
			}
			return e.out(ks, func() {
				if len(ks) == 0 {
					fmt.Fprintln(e.stdout, "No keys. Add one with `trel keys add KEYFILE --committee C`.")
					return
				}
				var rows [][]string
				for _, k := range ks {
					owner := k.Owner
					if owner == "" {
						owner = "(unproven)"
					}
					rows = append(rows, []string{k.Fingerprint, k.Algorithm + " " + strengthOf(k), owner, keyState(k), firstOr(k.UserIDs, "")})
				}
				e.table([]string{"FINGERPRINT", "ALGORITHM", "OWNER", "STATE", "USER ID"}, rows)
			})
		}),
	}
	list.Flags().StringVar(&of, "committee", "", "list this committee's keys (its KEYS file holds only those that count: `trel keys export`)")
	list.Flags().BoolVar(&deleted, "deleted", false, "list your deleted keys (restore one by proving it again: `trel keys challenge FPR`)")

	show := &cobra.Command{
		Use: "show FINGERPRINT", Short: "Show a key with its subkeys", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			k, err := cl.Key(c.Context(), a[0])
			if err != nil {
				return err
			}
			return e.out(k, func() {
				fmt.Fprintf(e.stdout, "Fingerprint: %s\nAlgorithm:   %s %s\nCreated:     %s\nExpires:     %s\nState:       %s\n",
					k.Fingerprint, k.Algorithm, strengthOf(*k), when(k.CreatedAt), whenPtr(k.ExpiresAt), keyState(*k))
				owner := "nobody has proven to own this key"
				if k.Owner != "" {
					owner = k.Owner + " (proven by " + k.Proof + ")"
				}
				fmt.Fprintf(e.stdout, "Owner:       %s\n", owner)
				for _, u := range k.UserIDs {
					fmt.Fprintf(e.stdout, "User ID:     %s\n", u)
				}
				for _, l := range k.Committees {
					kind := ""
					if l.Automation {
						kind = " (automation key)"
					}
					fmt.Fprintf(e.stdout, "Committee:   %s%s\n", l.CommitteeKey, kind)
				}
				for _, s := range k.Subkeys {
					fmt.Fprintf(e.stdout, "Subkey:      %s %s, sign=%v, expires %s\n", s.Fingerprint, s.Algorithm, s.CanSign, whenPtr(s.ExpiresAt))
				}
			})
		}),
	}

	challenge := &cobra.Command{
		Use:   "challenge FINGERPRINT",
		Short: "Print exactly the bytes to sign to prove you own a key",
		Long: `Print the one-time challenge text (valid 30 minutes) on stdout. Sign it with the
key and submit the signature with "trel keys prove":

  trel keys challenge FPR > challenge.txt
  gpg --local-user FPR --armor --detach-sign challenge.txt
  trel keys prove FPR --signature challenge.txt.asc`,
		Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			text, err := cl.KeyChallenge(c.Context(), a[0])
			if err != nil {
				return err
			}
			if e.json {
				return e.out(map[string]string{"challenge": text}, nil)
			}
			_, err = io.WriteString(e.stdout, text)
			return err
		}),
	}

	var sigFile string
	prove := &cobra.Command{
		Use: "prove FINGERPRINT --signature FILE", Short: "Prove you own a key with a signature of its challenge", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			sig, err := readInput(e, sigFile, 1<<20)
			if err != nil {
				return err
			}
			k, err := cl.ProveKey(c.Context(), a[0], sig)
			if err != nil {
				return err
			}
			return e.out(k, func() {
				fmt.Fprintf(e.stdout, "You (%s) now own key %s: its signatures count for the committees it is registered with.\n", k.Owner, k.Fingerprint)
			})
		}),
	}
	prove.Flags().StringVar(&sigFile, "signature", "", "detached signature of the challenge (required)")
	prove.MarkFlagRequired("signature")

	restore := &cobra.Command{
		Use:   "restore FINGERPRINT",
		Short: "Restore a deleted key (administrators)",
		Long: `Restore a deleted key, with its owner and committee links (administrators).
A key's owner restores their own key by proving it again instead:

  trel keys challenge FPR > challenge.txt
  gpg --local-user FPR --armor --detach-sign challenge.txt
  trel keys prove FPR --signature challenge.txt.asc

Uploading a deleted key again never restores it (a revocation in it is kept).`,
		Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			k, err := cl.RestoreKey(c.Context(), a[0])
			if err != nil {
				return err
			}
			return e.out(k, func() { fmt.Fprintf(e.stdout, "Restored key %s\n", k.Fingerprint) })
		}),
	}

	del := &cobra.Command{
		Use: "delete FINGERPRINT", Short: "Delete a key (keys that signed published releases stay in KEYS as historic)", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			if err := cl.DeleteKey(c.Context(), a[0]); err != nil {
				return err
			}
			return e.out(map[string]any{"fingerprint": a[0], "deleted": true}, func() { fmt.Fprintf(e.stdout, "Deleted key %s\n", a[0]) })
		}),
	}

	export := &cobra.Command{
		Use: "export COMMITTEE", Short: "Print a committee's KEYS file", Args: args(cobra.ExactArgs(1)),
		RunE: run(func(c *cobra.Command, cl *client.Client, a []string) error {
			data, err := cl.KEYSFile(c.Context(), a[0])
			if err != nil {
				return err
			}
			if e.json {
				return e.out(map[string]string{"committee": a[0], "keys": string(data)}, nil)
			}
			_, err = e.stdout.Write(data)
			return err
		}),
	}
	c.AddCommand(add, imp, impRel, list, show, challenge, prove, del, restore, export)
	return c
}

// printKeyReport prints what an import did; it fails (exit 1) when no
// key was added or refreshed, so that a script notices an import that
// changed nothing.
func (e *env) printKeyReport(rep *core.KeyReport) error {
	if err := e.keyReport(rep); err != nil {
		return err
	}
	if rep.Added+rep.Refreshed == 0 {
		return exitCodeError{exitError, fmt.Sprintf("no key was added or refreshed (%d unchanged, %d rejected)", rep.Unchanged, rep.Rejected)}
	}
	return nil
}

func (e *env) keyReport(rep *core.KeyReport) error {
	return e.out(rep, func() {
		for _, b := range rep.Blocks {
			for _, k := range b.Keys {
				fpr := k.Fingerprint
				if fpr == "" {
					fpr = "(unknown key)"
				}
				line := fmt.Sprintf("block %d: %-9s %s", b.Index, k.Status, fpr)
				if len(k.UserIDs) > 0 {
					line += "  " + k.UserIDs[0]
				}
				if k.Reason != "" {
					line += "\n          " + k.Reason
				}
				fmt.Fprintln(e.stdout, line)
			}
		}
		fmt.Fprintf(e.stdout, "%d added, %d refreshed, %d unchanged, %d rejected\n", rep.Added, rep.Refreshed, rep.Unchanged, rep.Rejected)
		if rep.Added > 0 {
			fmt.Fprintln(e.stdout, "Owners prove their keys with `trel keys challenge FPR` and `trel keys prove FPR --signature FILE`.")
		}
	})
}

func strengthOf(k domain.Key) string {
	if k.Curve != "" {
		return k.Curve
	}
	return fmt.Sprintf("%d", k.Bits)
}

func keyState(k domain.Key) string {
	var s []string
	if k.DeletedAt != nil {
		s = append(s, "deleted")
	}
	if k.Historic {
		s = append(s, "historic")
	}
	if k.RevokedAt != nil {
		s = append(s, "revoked")
	}
	if k.ExpiresAt != nil && k.ExpiresAt.Before(timeNow()) {
		s = append(s, "expired")
	}
	if len(s) == 0 {
		return "valid"
	}
	return strings.Join(s, ",")
}

func firstOr(s []string, def string) string {
	if len(s) == 0 {
		return def
	}
	return s[0]
}
