-- +goose Up
-- The web interface: passkeys (WebAuthn credentials), one-time enrollment
-- links, server-side browser sessions and pending WebAuthn ceremonies.
-- Secrets (enrollment tokens, session ids, ceremony ids) are stored only as
-- their SHA-256 hash: a copy of the database opens no session.

-- The WebAuthn user handle: random, so that it reveals nothing about the user.
CREATE TABLE webauthn_users (
    user_id INTEGER PRIMARY KEY REFERENCES users(id),
    handle  BLOB    NOT NULL UNIQUE
);

CREATE TABLE passkeys (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id),
    name            TEXT    NOT NULL,
    credential_id   BLOB    NOT NULL UNIQUE,
    sign_count      BIGINT  NOT NULL DEFAULT 0,
    backup_eligible BOOLEAN NOT NULL,
    backup_state    BOOLEAN NOT NULL,
    credential      TEXT    NOT NULL, -- the library's credential record, JSON
    created_at      BIGINT  NOT NULL,
    last_used_at    BIGINT
);
CREATE INDEX passkeys_user ON passkeys(user_id);

CREATE TABLE enrollments (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    hash       BLOB    NOT NULL UNIQUE,
    created_by TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT
);
CREATE INDEX enrollments_user ON enrollments(user_id);

CREATE TABLE web_sessions (
    hash         BLOB    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    client_ip    TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX web_sessions_user ON web_sessions(user_id);

CREATE TABLE webauthn_ceremonies (
    hash          BLOB    PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('register', 'login')),
    user_id       INTEGER NOT NULL DEFAULT 0,
    enrollment_id INTEGER NOT NULL DEFAULT 0,
    passkey_name  TEXT    NOT NULL DEFAULT '',
    data          TEXT    NOT NULL, -- the library's SessionData, JSON
    expires_at    BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE webauthn_ceremonies;
DROP TABLE web_sessions;
DROP TABLE enrollments;
DROP TABLE passkeys;
DROP TABLE webauthn_users;
