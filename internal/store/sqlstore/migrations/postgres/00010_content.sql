-- +goose Up
-- Twin of ../sqlite/00010_content.sql (see README.md).
ALTER TABLE blobs ADD COLUMN touched_at BIGINT NOT NULL DEFAULT 0;
UPDATE blobs SET touched_at = created_at;

CREATE TABLE storage_usage (
    scope TEXT COLLATE "C" NOT NULL CHECK (scope IN ('release', 'user')),
    id    BIGINT           NOT NULL,
    bytes BIGINT           NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, id)
);
INSERT INTO storage_usage (scope, id, bytes)
    SELECT 'release', u.release_id, SUM(b.size) FROM release_uploads u JOIN blobs b ON b.sha256 = u.sha256 GROUP BY u.release_id;
INSERT INTO storage_usage (scope, id, bytes)
    SELECT 'user', u.user_id, SUM(b.size) FROM release_uploads u JOIN blobs b ON b.sha256 = u.sha256 GROUP BY u.user_id;

CREATE TABLE blob_scans (
    sha256     TEXT COLLATE "C" PRIMARY KEY,
    version    BIGINT           NOT NULL,
    scanned_at BIGINT           NOT NULL
);

CREATE TABLE release_publications (
    release_id    BIGINT           PRIMARY KEY REFERENCES releases(id),
    state         TEXT COLLATE "C" NOT NULL CHECK (state IN ('publishing', 'published')),
    revision      BIGINT           NOT NULL,
    manifest      TEXT COLLATE "C" NOT NULL,
    log_from      BIGINT           NOT NULL,
    log_index     BIGINT,
    started_by    BIGINT           REFERENCES users(id),
    started_at    BIGINT           NOT NULL,
    claimed_until BIGINT           NOT NULL,
    finished_at   BIGINT
);

-- +goose Down
DROP TABLE release_publications;
DROP TABLE blob_scans;
DROP TABLE storage_usage;
ALTER TABLE blobs DROP COLUMN touched_at;
