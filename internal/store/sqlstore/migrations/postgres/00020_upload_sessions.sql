-- +goose Up
-- Twin of sqlite/00020_upload_sessions.sql (see README.md in this directory).
CREATE TABLE upload_sessions (
    id              TEXT COLLATE "C" PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users(id),
    release_id      BIGINT NOT NULL,
    path            TEXT COLLATE "C" NOT NULL,
    size            BIGINT NOT NULL,
    chunk_size      BIGINT NOT NULL,
    expect_sha512   TEXT COLLATE "C" NOT NULL,
    expect_revision BIGINT,
    staging_key     TEXT COLLATE "C" NOT NULL,
    received        BIGINT NOT NULL,
    next_part       BIGINT NOT NULL,
    parts           TEXT COLLATE "C" NOT NULL,
    hash_state      BYTEA NOT NULL,
    scan_state      BYTEA NOT NULL,
    state           TEXT COLLATE "C" NOT NULL CHECK (state IN ('open', 'completing', 'completed')),
    blob_sha256     TEXT COLLATE "C" NOT NULL,
    revision        BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX upload_sessions_user ON upload_sessions(user_id, state);
CREATE INDEX upload_sessions_release ON upload_sessions(release_id);
CREATE INDEX upload_sessions_expires ON upload_sessions(expires_at);

-- +goose Down
DROP TABLE upload_sessions;
