package cli

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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

// parseQuota reads a quota: a size, or 0 for no limit.
func parseQuota(flag, s string) (int64, error) {
	if strings.TrimSpace(s) == "0" || s == "unlimited" {
		return 0, nil
	}
	n, err := parseSize(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w (or 0 for no limit)", flag, err)
	}
	return n, nil
}

func serveCmd(e *env) *cobra.Command {
	var addr, maxSize, adminUser, adminEmail, logFormat, publicURL string
	var sigstoreRoots []string
	var masterKeyFile, grandfather, rescueAfter string
	var eng server.Engines
	var releaseQuota, userQuota, blobGrace string
	var trustedProxies []string
	var maxServerKeys, uploadsPerUser int
	var metricsAddr, metricsTokenFile string
	var sigstoreSigningConfig, sigstoreSigningRoot string
	var notify server.NotifyConfig
	var deliveryRetry, uploadChunkSize string
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the trel server on a data directory (SQLite + files)",
		Long: `Run the trel server. On an empty data directory it creates the database
and a first administrator, and prints how to get an administrator token and
the administrator's one-time passkey enrollment link for the web interface.

Without --database and --blobs everything lives in the data directory (SQLite and
files). With --database postgres://USER@HOST:PORT/DB --blobs s3://BUCKET?endpoint=URL&region=R
--log-dir DIR, several replicas serve the same platform: the data directory then holds
only this replica's scratch. S3 credentials come from AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY.

Its database files are created readable by their owner only; trel warns
at start when the data directory itself is open to other users.

Environment: TREL_DATA, TREL_DATABASE, TREL_BLOBS, TREL_LOG_DIR, TREL_ADDR,
TREL_MAX_FILE_SIZE, TREL_ADMIN_EMAIL, TREL_PUBLIC_URL,
TREL_RELEASE_QUOTA, TREL_USER_QUOTA, TREL_BLOB_GRACE, TREL_TRUSTED_PROXY (comma-separated),
TREL_METRICS_ADDR, TREL_METRICS_TOKEN_FILE, TREL_SMTP, TREL_MAIL_FROM, TREL_SMTP_PASSWORD
(the relay's password: never a flag), TREL_WEBHOOK_ALLOW_PRIVATE, TREL_DELIVERY_RETRY,
TREL_UPLOAD_CHUNK_SIZE.

Mail: with --smtp smtp://[USER@]HOST:PORT (STARTTLS whenever the relay offers it;
smtps:// for TLS from the first byte) and --mail-from ADDRESS, trel sends each
project's [VOTE], ballots, reminder, [RESULT] and [ANNOUNCE] mail to the lists its
policy names, and receipts to voters. Without them mail is off and the pages say so.`,
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
			rescue := time.Duration(0)
			if rescueAfter != "" {
				if rescue, err = time.ParseDuration(rescueAfter); err != nil || rescue < time.Second {
					return usageError{fmt.Errorf("--job-rescue-after %q: use a duration such as 35m", rescueAfter)}
				}
			}
			var quota domain.Quota
			if quota.Release, err = parseQuota("--release-quota", releaseQuota); err != nil {
				return usageError{err}
			}
			if quota.User, err = parseQuota("--user-quota", userQuota); err != nil {
				return usageError{err}
			}
			grace, err := time.ParseDuration(blobGrace)
			if err != nil || grace < time.Second {
				return usageError{fmt.Errorf("--blob-grace %q: give a duration such as 24h", blobGrace)}
			}
			proxies, err := server.ParseTrustedProxies(trustedProxies)
			if err != nil {
				return usageError{err}
			}
			metricsToken := ""
			if metricsTokenFile != "" {
				b, err := os.ReadFile(metricsTokenFile)
				if err != nil {
					return fmt.Errorf("--metrics-token-file: %w", err)
				}
				if metricsToken = strings.TrimSpace(string(b)); len(metricsToken) < 16 {
					return usageError{fmt.Errorf("--metrics-token-file %s: the token must have at least 16 characters", metricsTokenFile)}
				}
			}
			if deliveryRetry != "" {
				if notify.RetryBase, err = time.ParseDuration(deliveryRetry); err != nil || notify.RetryBase < time.Millisecond {
					return usageError{fmt.Errorf("--delivery-retry %q: give a duration such as 30s", deliveryRetry)}
				}
			}
			notify.SMTPPassword = server.SMTPPasswordFromEnv()
			chunk, err := parseSize(uploadChunkSize)
			if err != nil || chunk < core.MinSessionChunkSize || chunk > core.MaxSessionChunkSize {
				return usageError{fmt.Errorf("--upload-chunk-size %q: give a size from 5MiB to 1GiB, such as 64MiB", uploadChunkSize)}
			}
			if maxServerKeys < 1 || uploadsPerUser < 1 {
				return usageError{fmt.Errorf("--max-server-keys and --uploads-per-user must be at least 1")}
			}
			var h slog.Handler = slog.NewTextHandler(e.stderr, nil)
			if logFormat == "json" {
				h = slog.NewJSONHandler(e.stderr, nil)
			}
			return server.Serve(c.Context(), server.Config{
				DataDir: eng.DataDir, Database: eng.Database, Blobs: eng.Blobs, LogDir: eng.LogDir, JobRescueAfter: rescue,
				Addr: addr, MaxFileSize: max,
				AdminUsername: adminUser, AdminEmail: adminEmail, Logger: slog.New(h), SigstoreRoots: sigstoreRoots,
				SigstoreSigningConfig: sigstoreSigningConfig, SigstoreSigningRoot: sigstoreSigningRoot,
				MasterKeyFile: masterKeyFile, MasterKeyEnv: "TREL_MASTER_KEY", PublicURL: publicURL,
				Quota: quota, BlobGrace: grace,
				TrustedProxies: proxies, Limits: core.Limits{MaxServerKeys: maxServerKeys}, UploadsPerUser: uploadsPerUser,
				UploadChunkSize: chunk, MetricsAddr: metricsAddr, MetricsToken: metricsToken, Notify: notify,
			}, e.stdout)
		},
	}
	f := c.Flags()
	engineFlags(f, &eng)
	f.StringVar(&eng.LogDir, "log-dir", envOr("TREL_LOG_DIR", ""), "directory of the public log and its key, shared by every replica (default: the data directory)")
	f.StringVar(&rescueAfter, "job-rescue-after", envOr("TREL_JOB_RESCUE_AFTER", ""), "how long a background job may run before another replica takes it for abandoned (default 35m)")
	f.StringVar(&addr, "addr", envOr("TREL_ADDR", "localhost:8080"), "address to listen on")
	f.StringVar(&maxSize, "max-file-size", envOr("TREL_MAX_FILE_SIZE", strconv.FormatInt(core.DefaultMaxFileSize>>30, 10)+"GiB"), "largest file accepted")
	f.StringVar(&adminUser, "admin-username", "admin", "username of the first administrator (empty data directory only)")
	f.StringVar(&adminEmail, "admin-email", envOr("TREL_ADMIN_EMAIL", "admin@localhost"), "e-mail of the first administrator (empty data directory only)")
	f.StringVar(&publicURL, "public-url", envOr("TREL_PUBLIC_URL", "http://localhost:8080"), "URL browsers use to reach trel (its host is the passkey relying party id)")
	f.StringVar(&masterKeyFile, "master-key-file", envOr("TREL_MASTER_KEY_FILE", ""), "file holding the master key for keys trel holds (create with `trel admin create-master-key`); without it server-side signing is unavailable")
	f.StringVar(&grandfather, "rsa-2048-before", envOr("TREL_RSA_2048_BEFORE", ""), "RSA keys created before this date (YYYY-MM-DD) may have 2048 bits; newer ones need 4096 (default 2026-01-01)")
	f.StringArrayVar(&sigstoreRoots, "sigstore-root", nil, "extra Sigstore trusted root NAME=FILE (repeatable; the production root is built in)")
	f.StringVar(&releaseQuota, "release-quota", envOr("TREL_RELEASE_QUOTA", strconv.FormatInt(core.DefaultReleaseQuota>>30, 10)+"GiB"), "most content stored for one release (0: no limit)")
	f.StringVar(&userQuota, "user-quota", envOr("TREL_USER_QUOTA", strconv.FormatInt(core.DefaultUserQuota>>30, 10)+"GiB"), "most content one user uploads, over all releases (0: no limit)")
	f.StringVar(&blobGrace, "blob-grace", envOr("TREL_BLOB_GRACE", core.DefaultBlobGrace.String()), "how long uploaded content that no revision uses is kept before the storage sweep removes it")
	f.StringVar(&sigstoreSigningConfig, "sigstore-signing-config", envOr("TREL_SIGSTORE_SIGNING_CONFIG", ""), "signing_config v0.2 JSON of the Sigstore instance whose timestamp authority dates bundles made by keys trel holds (default: public-good)")
	f.StringVar(&sigstoreSigningRoot, "sigstore-signing-root", envOr("TREL_SIGSTORE_SIGNING_ROOT", ""), "name of the trusted root (public-good or a --sigstore-root NAME) those bundles must verify against")
	f.StringVar(&logFormat, "log-format", envOr("TREL_LOG_FORMAT", "text"), "log format: text or json")
	var proxyDefault []string
	if v := os.Getenv("TREL_TRUSTED_PROXY"); v != "" {
		proxyDefault = strings.Split(v, ",")
	}
	f.StringArrayVar(&trustedProxies, "trusted-proxy", proxyDefault, "network (CIDR) or address of a reverse proxy whose X-Forwarded-For names the client, for rate limits and audit addresses (repeatable); without it forwarded headers are ignored")
	f.IntVar(&maxServerKeys, "max-server-keys", core.DefaultMaxServerKeys, "active signing keys trel may hold for one user")
	f.IntVar(&uploadsPerUser, "uploads-per-user", core.DefaultUploadsPerUser, "concurrent uploads one user may make (counted across all replicas)")
	f.StringVar(&uploadChunkSize, "upload-chunk-size", envOr("TREL_UPLOAD_CHUNK_SIZE", strconv.FormatInt(core.DefaultSessionChunkSize>>20, 10)+"MiB"), "chunk size of resumable uploads (5MiB to 1GiB): what an interruption can cost at most")
	f.StringVar(&metricsAddr, "metrics-addr", envOr("TREL_METRICS_ADDR", ""), "serve /metrics only on this address (e.g. 127.0.0.1:9090) instead of the main one")
	f.StringVar(&notify.SMTP, "smtp", envOr("TREL_SMTP", ""), "mail relay: smtp://[USER@]HOST:PORT (STARTTLS when offered) or smtps://...; the password comes from TREL_SMTP_PASSWORD (default: mail is off)")
	f.StringVar(&notify.MailFrom, "mail-from", envOr("TREL_MAIL_FROM", ""), "sender of trel's mail, e.g. 'trel <trel@example.org>'")
	f.BoolVar(&notify.WebhookAllowPrivate, "webhook-allow-private", os.Getenv("TREL_WEBHOOK_ALLOW_PRIVATE") == "true", "let project webhooks call loopback and private addresses (an internal CI); off, only public addresses are called")
	f.StringVar(&deliveryRetry, "delivery-retry", envOr("TREL_DELIVERY_RETRY", ""), "first retry delay of a mail or webhook call that failed for now (doubles each time, at most 1h; default 30s)")
	f.StringVar(&metricsTokenFile, "metrics-token-file", envOr("TREL_METRICS_TOKEN_FILE", ""), "file holding a bearer token that /metrics requires")

	return c
}

// engineFlags adds --data, --database and --blobs (see server.Engines).
func engineFlags(f *pflag.FlagSet, eng *server.Engines) {
	f.StringVar(&eng.DataDir, "data", envOr("TREL_DATA", "./trel-data"), "data directory (database and files; with --database and --blobs only local scratch)")
	f.StringVar(&eng.Database, "database", envOr("TREL_DATABASE", ""), "postgres://USER@HOST:PORT/DB (default: SQLite in the data directory)")
	f.StringVar(&eng.Blobs, "blobs", envOr("TREL_BLOBS", ""), "s3://BUCKET[/PREFIX]?endpoint=http://HOST:PORT&region=R, credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (default: the data directory)")
}
