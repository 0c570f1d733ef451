package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"trel/internal/domain"
)

// ---- users and tokens

const userCols = `id, username, email, name, admin, created_at, suspended_at`

func scanUser(row interface{ Scan(...any) error }) (*domain.User, error) {
	var u userRow
	if err := row.Scan(u.dests()...); err != nil {
		return nil, err
	}
	return u.user(), nil
}

// userRow receives the userCols of a row.
type userRow struct {
	u         domain.User
	created   int64
	suspended sql.NullInt64
}

func (r *userRow) dests() []any {
	return []any{&r.u.ID, &r.u.Username, &r.u.Email, &r.u.Name, &r.u.Admin, &r.created, &r.suspended}
}

func (r *userRow) user() *domain.User {
	r.u.CreatedAt = fromMicros(r.created)
	r.u.SuspendedAt = fromNullMicros(r.suspended)
	return &r.u
}

func (s q) UserByUsername(ctx context.Context, username string) (*domain.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE username = $1`, username))
	if err != nil {
		return nil, notFound(err, "no user named %q", username)
	}
	return u, nil
}

func (s q) UserByID(ctx context.Context, id int64) (*domain.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "no user with id %d", id)
	}
	return u, nil
}

func (s q) ListUsers(ctx context.Context) ([]domain.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY username`)
	if err != nil {
		return nil, wrap("listing users", err)
	}
	defer rows.Close()
	var out []domain.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap("listing users", err)
		}
		out = append(out, *u)
	}
	return out, wrap("listing users", rows.Err())
}

func (s q) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, wrap("counting users", err)
}

func (s q) CreateUser(ctx context.Context, u *domain.User) error {
	err := s.db.QueryRowContext(ctx,
		`INSERT INTO users (username, email, name, admin, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		u.Username, u.Email, u.Name, u.Admin, micros(u.CreatedAt)).Scan(&u.ID)
	if isUniqueErr(err) {
		return domain.Errorf(domain.KindConflict, "a user named %q already exists", u.Username)
	}
	return wrap("creating user", err)
}

const tokenCols = `id, user_id, label, prefix, hash, created_at, expires_at, last_used_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (*domain.Token, error) {
	var t tokenRow
	if err := row.Scan(t.dests()...); err != nil {
		return nil, err
	}
	return t.token(), nil
}

// tokenRow receives the tokenCols of a row.
type tokenRow struct {
	t              domain.Token
	created        int64
	exp, used, rev sql.NullInt64
}

func (r *tokenRow) dests() []any {
	return []any{&r.t.ID, &r.t.UserID, &r.t.Label, &r.t.Prefix, &r.t.Hash, &r.created, &r.exp, &r.used, &r.rev}
}

func (r *tokenRow) token() *domain.Token {
	r.t.CreatedAt = fromMicros(r.created)
	r.t.ExpiresAt, r.t.LastUsedAt, r.t.RevokedAt = fromNullMicros(r.exp), fromNullMicros(r.used), fromNullMicros(r.rev)
	return &r.t
}

func (s q) TokenByHash(ctx context.Context, hash []byte) (*domain.Token, *domain.User, error) {
	var t tokenRow
	var u userRow
	err := s.db.QueryRowContext(ctx, `SELECT `+qualify("t", tokenCols)+`, `+qualify("u", userCols)+`
		FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = $1`, hash).Scan(append(t.dests(), u.dests()...)...)
	if err != nil {
		return nil, nil, notFound(err, "unknown token")
	}
	return t.token(), u.user(), nil
}

// qualify prefixes each column of a comma-separated list with a table
// alias.
func qualify(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func (s q) ListTokens(ctx context.Context, userID int64) ([]domain.Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE user_id = $1 ORDER BY id`, userID)
	if err != nil {
		return nil, wrap("listing tokens", err)
	}
	defer rows.Close()
	var out []domain.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, wrap("listing tokens", err)
		}
		out = append(out, *t)
	}
	return out, wrap("listing tokens", rows.Err())
}

func (s q) CreateToken(ctx context.Context, t *domain.Token) error {
	err := s.db.QueryRowContext(ctx,
		`INSERT INTO tokens (user_id, label, prefix, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		t.UserID, t.Label, t.Prefix, t.Hash, micros(t.CreatedAt), nullMicros(t.ExpiresAt)).Scan(&t.ID)
	return wrap("creating token", err)
}

func (s q) RevokeToken(ctx context.Context, userID, tokenID int64, at time.Time) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL`,
		micros(at), tokenID, userID)
	if err != nil {
		return wrap("revoking token", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return domain.Errorf(domain.KindNotFound, "you have no active token with id %d: see `trel token list`", tokenID)
	}
	return nil
}

// ---- committees, members, projects

func (s q) CommitteeByKey(ctx context.Context, key string) (*domain.Committee, error) {
	var c domain.Committee
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT id, key, name, created_at FROM committees WHERE key = $1`, key).
		Scan(&c.ID, &c.Key, &c.Name, &created)
	if err != nil {
		return nil, notFound(err, "no committee %q: see `trel committee list`", key)
	}
	c.CreatedAt = fromMicros(created)
	return &c, nil
}

func (s q) ListCommittees(ctx context.Context) ([]domain.Committee, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, key, name, created_at FROM committees ORDER BY key`)
	if err != nil {
		return nil, wrap("listing committees", err)
	}
	defer rows.Close()
	var out []domain.Committee
	for rows.Next() {
		var c domain.Committee
		var created int64
		if err := rows.Scan(&c.ID, &c.Key, &c.Name, &created); err != nil {
			return nil, wrap("listing committees", err)
		}
		c.CreatedAt = fromMicros(created)
		out = append(out, c)
	}
	return out, wrap("listing committees", rows.Err())
}

func (s q) CreateCommittee(ctx context.Context, c *domain.Committee) error {
	err := s.db.QueryRowContext(ctx,
		`INSERT INTO committees (key, name, created_at) VALUES ($1, $2, $3) RETURNING id`,
		c.Key, c.Name, micros(c.CreatedAt)).Scan(&c.ID)
	if isUniqueErr(err) {
		return domain.Errorf(domain.KindConflict, "committee %q already exists", c.Key)
	}
	return wrap("creating committee", err)
}

func (s q) Members(ctx context.Context, committeeID int64) ([]domain.Membership, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT c.key, u.username, u.id, m.role, m.since
		FROM memberships m JOIN users u ON u.id = m.user_id JOIN committees c ON c.id = m.committee_id
		WHERE m.committee_id = $1 ORDER BY u.username`, committeeID)
	if err != nil {
		return nil, wrap("listing members", err)
	}
	defer rows.Close()
	var out []domain.Membership
	for rows.Next() {
		var m domain.Membership
		var since int64
		if err := rows.Scan(&m.CommitteeKey, &m.Username, &m.UserID, &m.Role, &since); err != nil {
			return nil, wrap("listing members", err)
		}
		m.Since = fromMicros(since)
		out = append(out, m)
	}
	return out, wrap("listing members", rows.Err())
}

func (s q) Roles(ctx context.Context, userID int64) (map[int64]domain.Role, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT committee_id, role FROM memberships WHERE user_id = $1`, userID)
	if err != nil {
		return nil, wrap("reading roles", err)
	}
	defer rows.Close()
	out := map[int64]domain.Role{}
	for rows.Next() {
		var id int64
		var r domain.Role
		if err := rows.Scan(&id, &r); err != nil {
			return nil, wrap("reading roles", err)
		}
		out[id] = r
	}
	return out, wrap("reading roles", rows.Err())
}

func (s q) PutMembership(ctx context.Context, committeeID, userID int64, role domain.Role, since time.Time) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO memberships (committee_id, user_id, role, since) VALUES ($1, $2, $3, $4)
		ON CONFLICT (committee_id, user_id) DO UPDATE SET role = excluded.role`,
		committeeID, userID, string(role), micros(since))
	return wrap("adding member", err)
}

func (s q) DeleteMembership(ctx context.Context, committeeID, userID int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM memberships WHERE committee_id = $1 AND user_id = $2`, committeeID, userID)
	if err != nil {
		return wrap("removing member", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return domain.Errorf(domain.KindNotFound, "that user is not a member of the committee")
	}
	return nil
}

const projectCols = `p.id, p.key, p.name, p.committee_id, c.key, p.created_at`

func scanProject(row interface{ Scan(...any) error }) (*domain.Project, error) {
	var p domain.Project
	var created int64
	if err := row.Scan(&p.ID, &p.Key, &p.Name, &p.CommitteeID, &p.CommitteeKey, &created); err != nil {
		return nil, err
	}
	p.CreatedAt = fromMicros(created)
	return &p, nil
}

func (s q) ProjectByKey(ctx context.Context, key string) (*domain.Project, error) {
	p, err := scanProject(s.db.QueryRowContext(ctx,
		`SELECT `+projectCols+` FROM projects p JOIN committees c ON c.id = p.committee_id WHERE p.key = $1`, key))
	if err != nil {
		return nil, notFound(err, "no project %q: see `trel project list`", key)
	}
	return p, nil
}

func (s q) ListProjects(ctx context.Context, committeeID int64) ([]domain.Project, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+projectCols+` FROM projects p JOIN committees c ON c.id = p.committee_id
		 WHERE $1 = 0 OR p.committee_id = $1 ORDER BY p.key`, committeeID)
	if err != nil {
		return nil, wrap("listing projects", err)
	}
	defer rows.Close()
	var out []domain.Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, wrap("listing projects", err)
		}
		out = append(out, *p)
	}
	return out, wrap("listing projects", rows.Err())
}

func (s q) CreateProject(ctx context.Context, p *domain.Project) error {
	err := s.db.QueryRowContext(ctx,
		`INSERT INTO projects (key, name, committee_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		p.Key, p.Name, p.CommitteeID, micros(p.CreatedAt)).Scan(&p.ID)
	if isUniqueErr(err) {
		return domain.Errorf(domain.KindConflict, "project %q already exists", p.Key)
	}
	return wrap("creating project", err)
}

// ---- releases and revisions

const releaseCols = `r.id, r.project_id, p.key, p.committee_id, c.key, r.version, r.phase, u.username, r.created_at,
	COALESCE((SELECT max(number) FROM revisions v WHERE v.release_id = r.id), 0), ` + releaseStatusCols

const releaseFrom = ` FROM releases r JOIN projects p ON p.id = r.project_id
	JOIN committees c ON c.id = p.committee_id JOIN users u ON u.id = r.created_by ` + releaseStatusFrom

func scanRelease(row interface{ Scan(...any) error }) (*domain.Release, error) {
	var r domain.Release
	var created int64
	var st releaseStatusRow
	if err := row.Scan(append([]any{&r.ID, &r.ProjectID, &r.ProjectKey, &r.CommitteeID, &r.CommitteeKey, &r.Version, &r.Phase,
		&r.CreatedBy, &created, &r.LatestRevision}, st.dest()...)...); err != nil {
		return nil, err
	}
	r.CreatedAt = fromMicros(created)
	st.fill(&r.ReleaseStatus)
	return &r, nil
}

func (s q) ReleaseByVersion(ctx context.Context, projectID int64, version string) (*domain.Release, error) {
	r, err := scanRelease(s.db.QueryRowContext(ctx,
		`SELECT `+releaseCols+releaseFrom+` WHERE r.project_id = $1 AND r.version = $2`, projectID, version))
	if err != nil {
		return nil, notFound(err, "no release %q of this project: see `trel release list PROJECT`", version)
	}
	return r, nil
}

func (s q) ListReleases(ctx context.Context, projectID int64) ([]domain.Release, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+releaseCols+releaseFrom+` WHERE r.project_id = $1 ORDER BY r.created_at, r.id`, projectID)
	if err != nil {
		return nil, wrap("listing releases", err)
	}
	defer rows.Close()
	var out []domain.Release
	for rows.Next() {
		r, err := scanRelease(rows)
		if err != nil {
			return nil, wrap("listing releases", err)
		}
		out = append(out, *r)
	}
	return out, wrap("listing releases", rows.Err())
}

func (s q) CreateRelease(ctx context.Context, r *domain.Release) error {
	var by int64
	err := s.db.QueryRowContext(ctx, `SELECT id FROM users WHERE username = $1`, r.CreatedBy).Scan(&by)
	if err != nil {
		return notFound(err, "no user named %q", r.CreatedBy)
	}
	err = s.db.QueryRowContext(ctx,
		`INSERT INTO releases (project_id, version, phase, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		r.ProjectID, r.Version, string(r.Phase), by, micros(r.CreatedAt)).Scan(&r.ID)
	if isUniqueErr(err) {
		return domain.Errorf(domain.KindConflict, "release %s %s already exists: upload to it with `trel upload`", r.ProjectKey, r.Version)
	}
	return wrap("creating release", err)
}

// LockRelease takes the write lock. SQLite transactions already start with
// BEGIN IMMEDIATE, which serialises all writers, so touching the row is
// enough; PostgreSQL needs the row lock this UPDATE takes.
func (s q) LockRelease(ctx context.Context, releaseID int64) error {
	if s.pg {
		// FOR UPDATE first: it conflicts with the KEY SHARE locks that
		// foreign-key checks of concurrent inserts take on the row, so the
		// row never carries a multixact of key-share and no-key-update
		// lockers (PostgreSQL 15 then failed with "new multixact has more
		// than one updating member" under 20 concurrent writers).
		if _, err := s.db.ExecContext(ctx, `SELECT id FROM releases WHERE id = $1 FOR UPDATE`, releaseID); err != nil {
			return wrap("locking release", err)
		}
	}
	_, err := s.db.ExecContext(ctx, `UPDATE releases SET phase = phase WHERE id = $1`, releaseID)
	return wrap("locking release", err)
}

func (s q) Revision(ctx context.Context, releaseID int64, number int) (*domain.Revision, error) {
	var r domain.Revision
	var created int64
	err := s.db.QueryRowContext(ctx, `
		SELECT v.id, v.release_id, v.number, v.parent, u.username, v.author_id, v.created_at, v.description
		FROM revisions v JOIN users u ON u.id = v.author_id WHERE v.release_id = $1 AND v.number = $2`,
		releaseID, number).Scan(&r.ID, &r.ReleaseID, &r.Number, &r.Parent, &r.Author, &r.AuthorID, &created, &r.Description)
	if err != nil {
		return nil, notFound(err, "revision %d does not exist: see `trel revisions PROJECT VERSION`", number)
	}
	r.CreatedAt = fromMicros(created)
	rows, err := s.db.QueryContext(ctx, `
		SELECT f.path, b.sha256, b.sha512, b.size, b.sha256_state, b.sha512_state
		FROM revision_files f JOIN blobs b ON b.sha256 = f.sha256 WHERE f.revision_id = $1 ORDER BY f.path`, r.ID)
	if err != nil {
		return nil, wrap("reading revision files", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f domain.File
		if err := rows.Scan(&f.Path, &f.SHA256, &f.SHA512, &f.Size, &f.SHA256State, &f.SHA512State); err != nil {
			return nil, wrap("reading revision files", err)
		}
		r.Files = append(r.Files, f)
	}
	return &r, wrap("reading revision files", rows.Err())
}

func (s q) ListRevisions(ctx context.Context, releaseID int64) ([]domain.Revision, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT v.id, v.release_id, v.number, v.parent, u.username, v.author_id, v.created_at, v.description
		FROM revisions v JOIN users u ON u.id = v.author_id WHERE v.release_id = $1 ORDER BY v.number`, releaseID)
	if err != nil {
		return nil, wrap("listing revisions", err)
	}
	defer rows.Close()
	var out []domain.Revision
	for rows.Next() {
		var r domain.Revision
		var created int64
		if err := rows.Scan(&r.ID, &r.ReleaseID, &r.Number, &r.Parent, &r.Author, &r.AuthorID, &created, &r.Description); err != nil {
			return nil, wrap("listing revisions", err)
		}
		r.CreatedAt = fromMicros(created)
		out = append(out, r)
	}
	return out, wrap("listing revisions", rows.Err())
}

func (s q) CreateRevision(ctx context.Context, rev *domain.Revision) error {
	err := s.db.QueryRowContext(ctx, `
		INSERT INTO revisions (release_id, number, parent, author_id, created_at, description)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		rev.ReleaseID, rev.Number, rev.Parent, rev.AuthorID, micros(rev.CreatedAt), rev.Description).Scan(&rev.ID)
	if isUniqueErr(err) {
		return domain.Errorf(domain.KindConflict, "revision %d was created by someone else at the same moment: try again", rev.Number)
	}
	if err != nil {
		return wrap("creating revision", err)
	}
	for _, f := range rev.Files {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO revision_files (revision_id, path, sha256) VALUES ($1, $2, $3)`,
			rev.ID, f.Path, f.SHA256); err != nil {
			return wrap("creating revision", err)
		}
	}
	return nil
}

// ---- blobs

func (s q) Blob(ctx context.Context, sha string) (*domain.Blob, error) {
	var b domain.Blob
	err := s.db.QueryRowContext(ctx, `SELECT sha256, sha512, size, sha256_state, sha512_state FROM blobs WHERE sha256 = $1`, sha).
		Scan(&b.SHA256, &b.SHA512, &b.Size, &b.SHA256State, &b.SHA512State)
	if err != nil {
		return nil, notFound(err, "no content with SHA-256 %s", sha)
	}
	return &b, nil
}

func (s q) PutBlob(ctx context.Context, b domain.Blob) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO blobs (sha256, sha512, size, sha256_state, sha512_state, created_at, touched_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
		ON CONFLICT (sha256) DO NOTHING`,
		b.SHA256, b.SHA512, b.Size, b.SHA256State, b.SHA512State, micros(time.Now()))
	return wrap("recording blob", err)
}

// RecordUpload is ChargeUpload without quotas (content trel makes itself).
func (s q) RecordUpload(ctx context.Context, releaseID int64, sha string, userID int64, at time.Time) error {
	return s.ChargeUpload(ctx, releaseID, userID, sha, domain.Quota{}, at)
}

func (s q) UploadedTo(ctx context.Context, releaseID int64, sha string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM release_uploads WHERE release_id = $1 AND sha256 = $2`, releaseID, sha).Scan(&n)
	return n > 0, wrap("checking upload", err)
}

// ---- audit

func (s q) Audit(ctx context.Context, ev domain.AuditEvent) error {
	details, err := json.Marshal(ev.Details)
	if err != nil {
		return domain.Internal("encoding audit details", err)
	}
	var actorID sql.NullInt64
	if ev.ActorID != 0 {
		actorID = sql.NullInt64{Int64: ev.ActorID, Valid: true}
	}
	_, err = s.db.ExecContext(ctx, `
		INSERT INTO audit_events (time, actor_id, actor, action, target, details, client_ip) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		micros(ev.Time), actorID, ev.Actor, ev.Action, ev.Target, string(details), ev.ClientIP)
	return wrap("writing audit event", err)
}

func (s q) ListAudit(ctx context.Context, limit int) ([]domain.AuditEvent, error) {
	return queryAll(ctx, s.db, "reading audit log", scanAudit, `
		SELECT id, time, COALESCE(actor_id, 0), actor, action, target, details, client_ip
		FROM audit_events ORDER BY id DESC LIMIT $1`, limit)
}

func isUniqueErr(err error) bool { return err != nil && isUniqueViolation(err) }
