-- +goose Up
-- Keys trel generated and holds for server-side signing. sealed is the
-- vault's JSON (package signing): the secret key encrypted under a data key
-- wrapped by the server master key AND the owner's password. The database
-- alone signs nothing.
CREATE TABLE signing_keys (
    fingerprint     TEXT    PRIMARY KEY REFERENCES keys(fingerprint),
    user_id         INTEGER NOT NULL REFERENCES users(id),
    algorithm       TEXT    NOT NULL,
    sealed          TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    revoked_at      BIGINT,
    retired_at      BIGINT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until    BIGINT
);
CREATE INDEX signing_keys_user ON signing_keys(user_id);

-- A signing request: the transaction the release manager approves with a
-- passkey. Single use; expires.
CREATE TABLE signing_requests (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    fingerprint TEXT    NOT NULL REFERENCES signing_keys(fingerprint),
    release_id  INTEGER NOT NULL REFERENCES releases(id),
    revision    INTEGER NOT NULL,
    tx          TEXT    NOT NULL, -- canonical transaction JSON
    nonce       BLOB    NOT NULL,
    challenge   BLOB    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT
);

-- Every attempt and every signature, with the approval that allowed it.
CREATE TABLE signing_events (
    id             INTEGER PRIMARY KEY,
    time           BIGINT  NOT NULL,
    user_id        INTEGER NOT NULL REFERENCES users(id),
    client_ip      TEXT    NOT NULL,
    request_id     INTEGER,
    fingerprint    TEXT    NOT NULL,
    credential_id  BLOB,
    aaguid         BLOB,
    flags          INTEGER,
    sign_count     INTEGER,
    assertion      BLOB,
    tx             TEXT    NOT NULL,
    files          TEXT    NOT NULL, -- JSON: path, sha512, signature sha256, log index
    outcome        TEXT    NOT NULL  -- "signed" or the refusal
);
CREATE INDEX signing_events_key ON signing_events(fingerprint);

-- +goose Down
DROP TABLE signing_events;
DROP TABLE signing_requests;
DROP TABLE signing_keys;
