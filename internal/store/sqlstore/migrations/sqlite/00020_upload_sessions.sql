-- +goose Up
-- Resumable uploads (upload sessions): a large file sent in chunks over
-- several requests, from any replica. Each accepted chunk advances
-- received together with the hash and secret-scanner states, in one
-- conditional UPDATE, so that the content's digests continue across
-- requests, restarts and replicas without reading the bytes again.
-- state: open, completing (one complete request holds it), completed.
-- parts: the accepted parts of the blob engine, as JSON
-- ([{"n":1,"etag":"..."}]); next_part numbers each attempt. No foreign
-- key on release_id: abandoning a draft does not wait for its sessions,
-- which then fail and expire.
CREATE TABLE upload_sessions (
    id              TEXT    PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id),
    release_id      INTEGER NOT NULL,
    path            TEXT    NOT NULL,
    size            BIGINT  NOT NULL,
    chunk_size      BIGINT  NOT NULL,
    expect_sha512   TEXT    NOT NULL,
    expect_revision BIGINT,
    staging_key     TEXT    NOT NULL,
    received        BIGINT  NOT NULL,
    next_part       BIGINT  NOT NULL,
    parts           TEXT    NOT NULL,
    hash_state      BLOB    NOT NULL,
    scan_state      BLOB    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('open', 'completing', 'completed')),
    blob_sha256     TEXT    NOT NULL,
    revision        BIGINT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL
);
CREATE INDEX upload_sessions_user ON upload_sessions(user_id, state);
CREATE INDEX upload_sessions_release ON upload_sessions(release_id);
CREATE INDEX upload_sessions_expires ON upload_sessions(expires_at);

-- +goose Down
DROP TABLE upload_sessions;
