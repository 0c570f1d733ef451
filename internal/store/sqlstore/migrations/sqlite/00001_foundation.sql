-- +goose Up
-- Times are stored as BIGINT microseconds since the Unix epoch, which SQLite
-- and PostgreSQL both handle the same way.
CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    username    TEXT    NOT NULL UNIQUE,
    email       TEXT    NOT NULL,
    name        TEXT    NOT NULL DEFAULT '',
    admin       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    label        TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    hash         BLOB    NOT NULL UNIQUE,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE committees (
    id         INTEGER PRIMARY KEY,
    key        TEXT   NOT NULL UNIQUE,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    committee_id INTEGER NOT NULL REFERENCES committees(id),
    user_id      INTEGER NOT NULL REFERENCES users(id),
    role         TEXT    NOT NULL CHECK (role IN ('member', 'committer')),
    since        BIGINT  NOT NULL,
    PRIMARY KEY (committee_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

CREATE TABLE projects (
    id           INTEGER PRIMARY KEY,
    key          TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    committee_id INTEGER NOT NULL REFERENCES committees(id),
    created_at   BIGINT  NOT NULL
);

CREATE TABLE releases (
    id         INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    version    TEXT    NOT NULL,
    phase      TEXT    NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at BIGINT  NOT NULL,
    UNIQUE (project_id, version)
);

CREATE TABLE blobs (
    sha256       TEXT    PRIMARY KEY,
    sha512       TEXT    NOT NULL,
    size         BIGINT  NOT NULL,
    sha256_state BLOB    NOT NULL,
    sha512_state BLOB    NOT NULL,
    created_at   BIGINT  NOT NULL
);

-- Which content was sent to which release, so that a revision can only
-- reference bytes its writers uploaded (a digest alone grants nothing).
CREATE TABLE release_uploads (
    release_id INTEGER NOT NULL REFERENCES releases(id),
    sha256     TEXT    NOT NULL REFERENCES blobs(sha256),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (release_id, sha256)
);

CREATE TABLE revisions (
    id          INTEGER PRIMARY KEY,
    release_id  INTEGER NOT NULL REFERENCES releases(id),
    number      INTEGER NOT NULL,
    parent      INTEGER NOT NULL,
    author_id   INTEGER NOT NULL REFERENCES users(id),
    created_at  BIGINT  NOT NULL,
    description TEXT    NOT NULL,
    UNIQUE (release_id, number)
);

CREATE TABLE revision_files (
    revision_id INTEGER NOT NULL REFERENCES revisions(id),
    path        TEXT    NOT NULL,
    sha256      TEXT    NOT NULL REFERENCES blobs(sha256),
    PRIMARY KEY (revision_id, path)
);

CREATE TABLE audit_events (
    id        INTEGER PRIMARY KEY,
    time      BIGINT  NOT NULL,
    actor_id  INTEGER,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    details   TEXT    NOT NULL,
    client_ip TEXT    NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE revision_files;
DROP TABLE revisions;
DROP TABLE release_uploads;
DROP TABLE blobs;
DROP TABLE releases;
DROP TABLE projects;
DROP TABLE memberships;
DROP TABLE committees;
DROP TABLE tokens;
DROP TABLE users;
