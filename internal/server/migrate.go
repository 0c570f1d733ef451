package server

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"trel/internal/blob"
	"trel/internal/blob/s3"
	"trel/internal/downloads"
	"trel/internal/store/sqlstore"
)

// MigrateConfig is what `trel admin migrate-storage` copies: an embedded
// installation (FromData) to PostgreSQL, S3 and a log directory.
type MigrateConfig struct {
	FromData string
	Database string
	Blobs    string
	LogDir   string
	// Resume continues an interrupted copy (or repeats a finished one):
	// rows and blobs already there are kept, the rest is copied.
	Resume bool
}

// MigrateStorage copies every table (driven by the schema: a table the
// target does not know fails the copy, naming it), every blob (each
// verified by reading it back and hashing it), the downloads tree and the
// public log. It refuses a target that already holds data unless Resume.
func MigrateStorage(ctx context.Context, cfg MigrateConfig, out io.Writer) error {
	if cfg.FromData == "" || cfg.Database == "" || cfg.Blobs == "" || cfg.LogDir == "" {
		return errors.New("migrate-storage needs --from-data, --database, --blobs and --log-dir")
	}
	if err := (Engines{Database: cfg.Database, Blobs: cfg.Blobs}).Check(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(cfg.FromData, "trel.db")); err != nil {
		return fmt.Errorf("--from-data %s holds no trel database (trel.db): %w", cfg.FromData, err)
	}
	src, err := sqlstore.OpenSQLite(ctx, filepath.Join(cfg.FromData, "trel.db"))
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := sqlstore.OpenPostgres(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer dst.Close()
	bucket, err := s3.Open(ctx, cfg.Blobs)
	if err != nil {
		return fmt.Errorf("--blobs: %w", err)
	}
	var users int
	if err := dst.SQL().QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&users); err != nil {
		return fmt.Errorf("reading the target database: %w", err)
	}
	if users > 0 && !cfg.Resume {
		return errors.New("the target database already holds data: give --resume to continue an interrupted copy (rows already there are kept)")
	}
	if err := copyTables(ctx, src, dst, out); err != nil {
		return err
	}
	disk, err := blob.NewDisk(filepath.Join(cfg.FromData, "blobs"))
	if err != nil {
		return err
	}
	if err := copyBlobs(ctx, cfg.FromData, disk, bucket, out); err != nil {
		return err
	}
	for _, tree := range []string{"downloads", "archive"} {
		if err := copyDownloads(ctx, filepath.Join(cfg.FromData, tree), bucket.Bucket(tree), out); err != nil {
			return err
		}
	}
	if err := copyLog(cfg.FromData, cfg.LogDir, out); err != nil {
		return err
	}
	fmt.Fprintln(out, "Copy complete. Start every replica with --database, --blobs and --log-dir as given here.")
	return nil
}

// copyOrder sorts tables so that each comes after the tables it references.
func copyOrder(tables []sqlstore.Table) ([]sqlstore.Table, error) {
	byName := map[string]sqlstore.Table{}
	for _, t := range tables {
		byName[t.Name] = t
	}
	var order []sqlstore.Table
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(n string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("the foreign keys of table %s form a cycle", n)
		case 2:
			return nil
		}
		state[n] = 1
		for _, r := range byName[n].References {
			if r == n {
				continue // a row refers to earlier rows: copied in id order
			}
			if err := visit(r); err != nil {
				return err
			}
		}
		state[n] = 2
		order = append(order, byName[n])
		return nil
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func copyTables(ctx context.Context, src, dst *sqlstore.DB, out io.Writer) error {
	from, err := src.Schema(ctx)
	if err != nil {
		return err
	}
	to, err := dst.Schema(ctx)
	if err != nil {
		return err
	}
	target := map[string]sqlstore.Table{}
	for _, t := range to {
		target[t.Name] = t
	}
	for _, t := range from {
		tt, ok := target[t.Name]
		if !ok {
			return fmt.Errorf("table %s exists in the SQLite database but not in PostgreSQL: this trel lacks its PostgreSQL migration; nothing of it was copied", t.Name)
		}
		have := map[string]bool{}
		for _, c := range tt.Columns {
			have[c.Name] = true
		}
		for _, c := range t.Columns {
			if !have[c.Name] {
				return fmt.Errorf("column %s.%s exists in SQLite but not in PostgreSQL: this trel lacks its PostgreSQL migration", t.Name, c.Name)
			}
		}
	}
	order, err := copyOrder(from)
	if err != nil {
		return err
	}
	for _, t := range order {
		n, err := copyTable(ctx, src.SQL(), dst, t)
		if err != nil {
			return fmt.Errorf("copying table %s: %w", t.Name, err)
		}
		fmt.Fprintf(out, "table %-22s %6d rows\n", t.Name, n)
	}
	return nil
}

// copyTable copies every row of t (ON CONFLICT DO NOTHING: a resumed copy
// keeps the rows already there) in one transaction, then moves the
// identity sequence past the largest id.
func copyTable(ctx context.Context, src *sql.DB, dst *sqlstore.DB, t sqlstore.Table) (int, error) {
	var names, params []string
	for i, c := range t.Columns {
		names = append(names, `"`+c.Name+`"`)
		params = append(params, fmt.Sprintf("$%d", i+1))
	}
	cols := strings.Join(names, ", ")
	query := `SELECT ` + cols + ` FROM "` + t.Name + `"`
	if t.Identity != "" && slices.Contains(t.References, t.Name) {
		query += ` ORDER BY "` + t.Identity + `"` // parents before children
	}
	rows, err := src.QueryContext(ctx, query)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	insert := `INSERT INTO "` + t.Name + `" (` + cols + `) VALUES (` + strings.Join(params, ", ") + `) ON CONFLICT DO NOTHING`
	tx, err := dst.SQL().BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, insert)
	if err != nil {
		return 0, err
	}
	n := 0
	vals := make([]any, len(t.Columns))
	ptrs := make([]any, len(t.Columns))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, c := range t.Columns {
			vals[i] = convert(vals[i], c.Type)
		}
		if _, err := stmt.ExecContext(ctx, vals...); err != nil {
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	if t.Identity != "" {
		q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', '%s'), COALESCE((SELECT max("%s") FROM "%s"), 0) + 1, false)`,
			t.Name, t.Identity, t.Identity, t.Name)
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return n, err
		}
	}
	return n, tx.Commit()
}

// convert turns SQLite's value into what PostgreSQL's column takes:
// booleans are stored as 0/1 in SQLite, text may come back as bytes.
func convert(v any, family string) any {
	switch family {
	case "bool":
		if i, ok := v.(int64); ok {
			return i != 0
		}
	case "text":
		if b, ok := v.([]byte); ok {
			return string(b)
		}
	case "bytes":
		if s, ok := v.(string); ok {
			return []byte(s)
		}
	}
	return v
}

// copyBlobs copies every blob not yet in the bucket, then reads every blob
// back from the bucket and checks its SHA-256 against its name.
func copyBlobs(ctx context.Context, dataDir string, disk *blob.Disk, bucket *s3.Store, out io.Writer) error {
	var names []string
	root := filepath.Join(dataDir, "blobs", "objects")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			names = append(names, d.Name())
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("listing blobs: %w", err)
	}
	copied := 0
	for _, sha := range names {
		if err := blob.CheckDigest(sha); err != nil {
			return fmt.Errorf("blobs: unexpected file %s: %w", sha, err)
		}
		if ok, err := bucket.Exists(ctx, sha); err != nil {
			return err
		} else if ok {
			continue
		}
		f, err := disk.Open(ctx, sha)
		if err != nil {
			return err
		}
		b, err := bucket.Put(ctx, f, 1<<62)
		f.Close()
		if err != nil {
			return fmt.Errorf("copying blob %s: %w", sha, err)
		}
		if b.SHA256 != sha {
			return fmt.Errorf("blob %s on disk has SHA-256 %s: the source is damaged", sha, b.SHA256)
		}
		copied++
	}
	for _, sha := range names {
		r, err := bucket.Open(ctx, sha)
		if err != nil {
			return fmt.Errorf("verifying blob %s: %w", sha, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, r)
		r.Close()
		if err != nil {
			return fmt.Errorf("verifying blob %s: %w", sha, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != sha {
			return fmt.Errorf("blob %s reads back from the bucket with SHA-256 %s", sha, got)
		}
	}
	fmt.Fprintf(out, "blobs: %d copied, %d verified by SHA-256 in the bucket\n", copied, len(names))
	return nil
}

// copyDownloads copies the published tree, each release's manifest after
// its files (the bucket tree serves a release only once its manifest is
// there).
func copyDownloads(ctx context.Context, root string, b *s3.Bucket, out io.Writer) error {
	var files, manifests []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != root {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			if d.Name() == downloads.ManifestName {
				manifests = append(manifests, filepath.ToSlash(rel))
			} else {
				files = append(files, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("listing the downloads tree: %w", err)
	}
	for _, rel := range append(files, manifests...) {
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err == nil {
			err = b.PutFile(ctx, rel, f, fi.Size())
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("copying downloads/%s: %w", rel, err)
		}
	}
	fmt.Fprintf(out, "downloads: %d files, %d release manifests\n", len(files), len(manifests))
	return nil
}

// copyLog copies DATA/log and DATA/log-signer.key into the log directory.
func copyLog(dataDir, logDir string, out io.Writer) error {
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	n := 0
	srcLog := filepath.Join(dataDir, "log")
	err := filepath.WalkDir(srcLog, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dataDir, p)
		target := filepath.Join(logDir, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		n++
		return copyFile(p, target, 0o644)
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("copying the public log: %w", err)
	}
	key := filepath.Join(dataDir, "log-signer.key")
	if _, err := os.Stat(key); err == nil {
		if err := copyFile(key, filepath.Join(logDir, "log-signer.key"), 0o600); err != nil {
			return fmt.Errorf("copying the log's key: %w", err)
		}
	}
	fmt.Fprintf(out, "log: %d files\n", n)
	return nil
}

// copyFile writes src to dst through a temporary file and a rename.
func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".copy-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
