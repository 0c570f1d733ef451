-- +goose Up
-- Storage hygiene, secret scanning and recoverable publication (issue 12).

-- When content was last uploaded (to any release): unreferenced content is
-- collected only once this is older than the grace period.
ALTER TABLE blobs ADD COLUMN touched_at BIGINT NOT NULL DEFAULT 0;
UPDATE blobs SET touched_at = created_at;

-- Bytes counted against each release and each user (the first uploader of
-- each content to each release), kept in the transaction that records an
-- upload, so that quotas are enforced by one conditional UPDATE.
CREATE TABLE storage_usage (
    scope TEXT    NOT NULL CHECK (scope IN ('release', 'user')),
    id    INTEGER NOT NULL,
    bytes BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, id)
);
INSERT INTO storage_usage (scope, id, bytes)
    SELECT 'release', u.release_id, SUM(b.size) FROM release_uploads u JOIN blobs b ON b.sha256 = u.sha256 GROUP BY u.release_id;
INSERT INTO storage_usage (scope, id, bytes)
    SELECT 'user', u.user_id, SUM(b.size) FROM release_uploads u JOIN blobs b ON b.sha256 = u.sha256 GROUP BY u.user_id;

-- Content the secret scanner read at upload and found clean, by scanner
-- version. Content without a row (stored before scanning existed) is
-- scanned by the paths check.
CREATE TABLE blob_scans (
    sha256     TEXT    PRIMARY KEY,
    version    INTEGER NOT NULL,
    scanned_at BIGINT  NOT NULL
);

-- A publication in progress or done. The row is written before the
-- downloads tree, so that an interrupted publication is finished at
-- start-up; manifest is the manifest as logged (before its log_index).
CREATE TABLE release_publications (
    release_id    INTEGER PRIMARY KEY REFERENCES releases(id),
    state         TEXT    NOT NULL CHECK (state IN ('publishing', 'published')),
    revision      INTEGER NOT NULL,
    manifest      TEXT    NOT NULL,
    log_from      BIGINT  NOT NULL, -- the log's next index when the publication started
    log_index     BIGINT,
    started_by    INTEGER REFERENCES users(id),
    started_at    BIGINT  NOT NULL,
    claimed_until BIGINT  NOT NULL,
    finished_at   BIGINT
);

-- +goose Down
DROP TABLE release_publications;
DROP TABLE blob_scans;
DROP TABLE storage_usage;
ALTER TABLE blobs DROP COLUMN touched_at;
