package cli

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/server"
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// parseSize reads sizes such as 4GiB, 500MiB, 1048576.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid size %q: use bytes or a unit such as 500MiB or 4GiB", s)
	}
	return n * mult, nil
}

func serveCmd(e *env) *cobra.Command {
	var dataDir, addr, maxSize, adminUser, adminEmail, logFormat, publicURL string
	var sigstoreRoots []string
	var sigstoreSigningConfig, sigstoreSigningRoot string
	var masterKeyFile, grandfather string
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the trel server on a data directory (SQLite + files)",
		Long: `Run the trel server. On an empty data directory it creates the database
and a first administrator, and prints how to get an administrator token and
the administrator's one-time passkey enrollment link for the web interface.

Environment: TREL_DATA, TREL_ADDR, TREL_MAX_FILE_SIZE, TREL_ADMIN_EMAIL, TREL_PUBLIC_URL.`,
		Args: args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			max, err := parseSize(maxSize)
			if err != nil {
				return usageError{err}
			}
			if grandfather != "" {
				d, err := time.Parse("2006-01-02", grandfather)
				if err != nil {
					return usageError{fmt.Errorf("--rsa-2048-before %q: use a date like 2026-01-01", grandfather)}
				}
				domain.KeyGrandfatherBefore = d
			}
			var h slog.Handler = slog.NewTextHandler(e.stderr, nil)
			if logFormat == "json" {
				h = slog.NewJSONHandler(e.stderr, nil)
			}
			return server.Serve(c.Context(), server.Config{
				DataDir: dataDir, Addr: addr, MaxFileSize: max,
				AdminUsername: adminUser, AdminEmail: adminEmail, Logger: slog.New(h), SigstoreRoots: sigstoreRoots,
				SigstoreSigningConfig: sigstoreSigningConfig, SigstoreSigningRoot: sigstoreSigningRoot,
				MasterKeyFile: masterKeyFile, MasterKeyEnv: "TREL_MASTER_KEY", PublicURL: publicURL,
			}, e.stdout)
		},
	}
	f := c.Flags()
	f.StringVar(&dataDir, "data", envOr("TREL_DATA", "./trel-data"), "data directory (database and files)")
	f.StringVar(&addr, "addr", envOr("TREL_ADDR", "localhost:8080"), "address to listen on")
	f.StringVar(&maxSize, "max-file-size", envOr("TREL_MAX_FILE_SIZE", strconv.FormatInt(core.DefaultMaxFileSize>>30, 10)+"GiB"), "largest file accepted")
	f.StringVar(&adminUser, "admin-username", "admin", "username of the first administrator (empty data directory only)")
	f.StringVar(&adminEmail, "admin-email", envOr("TREL_ADMIN_EMAIL", "admin@localhost"), "e-mail of the first administrator (empty data directory only)")
	f.StringVar(&publicURL, "public-url", envOr("TREL_PUBLIC_URL", "http://localhost:8080"), "URL browsers use to reach trel (its host is the passkey relying party id)")
	f.StringVar(&masterKeyFile, "master-key-file", envOr("TREL_MASTER_KEY_FILE", ""), "file holding the master key for keys trel holds (create with `trel admin create-master-key`); without it server-side signing is unavailable")
	f.StringVar(&grandfather, "rsa-2048-before", envOr("TREL_RSA_2048_BEFORE", ""), "RSA keys created before this date (YYYY-MM-DD) may have 2048 bits; newer ones need 4096 (default 2026-01-01)")
	f.StringArrayVar(&sigstoreRoots, "sigstore-root", nil, "extra Sigstore trusted root NAME=FILE (repeatable; the production root is built in)")
	f.StringVar(&sigstoreSigningConfig, "sigstore-signing-config", envOr("TREL_SIGSTORE_SIGNING_CONFIG", ""), "signing_config v0.2 JSON of the Sigstore instance whose timestamp authority dates bundles made by keys trel holds (default: public-good)")
	f.StringVar(&sigstoreSigningRoot, "sigstore-signing-root", envOr("TREL_SIGSTORE_SIGNING_ROOT", ""), "name of the trusted root (public-good or a --sigstore-root NAME) those bundles must verify against")
	f.StringVar(&logFormat, "log-format", envOr("TREL_LOG_FORMAT", "text"), "log format: text or json")
	return c
}
