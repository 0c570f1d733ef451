-- +goose Up
CREATE TABLE keys (
    fingerprint       TEXT    PRIMARY KEY,
    key_id            TEXT    NOT NULL,
    algorithm         TEXT    NOT NULL,
    bits              INTEGER NOT NULL,
    curve             TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL,
    expires_at        BIGINT,
    revoked_at        BIGINT,
    revocation_reason TEXT    NOT NULL DEFAULT '',
    compromised       BOOLEAN NOT NULL DEFAULT FALSE,
    user_ids          TEXT    NOT NULL, -- JSON array
    emails            TEXT    NOT NULL, -- JSON array, lower case
    armored           TEXT    NOT NULL,
    owner_id          INTEGER REFERENCES users(id),
    proof             TEXT    NOT NULL DEFAULT '',
    proven_at         BIGINT,
    uploaded_by       INTEGER NOT NULL REFERENCES users(id),
    uploaded_at       BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    deleted_at        BIGINT,
    historic          BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX keys_key_id ON keys(key_id);
CREATE INDEX keys_owner ON keys(owner_id);

CREATE TABLE key_subkeys (
    fingerprint TEXT    PRIMARY KEY,
    primary_fpr TEXT    NOT NULL REFERENCES keys(fingerprint),
    key_id      TEXT    NOT NULL,
    algorithm   TEXT    NOT NULL,
    bits        INTEGER NOT NULL,
    curve       TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT,
    can_sign    BOOLEAN NOT NULL
);
CREATE INDEX key_subkeys_primary ON key_subkeys(primary_fpr);
CREATE INDEX key_subkeys_key_id ON key_subkeys(key_id);

CREATE TABLE committee_keys (
    committee_id INTEGER NOT NULL REFERENCES committees(id),
    fingerprint  TEXT    NOT NULL REFERENCES keys(fingerprint),
    automation   BOOLEAN NOT NULL DEFAULT FALSE,
    added_by     INTEGER NOT NULL REFERENCES users(id),
    added_at     BIGINT  NOT NULL,
    PRIMARY KEY (committee_id, fingerprint)
);
CREATE INDEX committee_keys_fpr ON committee_keys(fingerprint);

CREATE TABLE key_challenges (
    id          INTEGER PRIMARY KEY,
    fingerprint TEXT    NOT NULL REFERENCES keys(fingerprint),
    user_id     INTEGER NOT NULL REFERENCES users(id),
    text        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT
);
CREATE INDEX key_challenges_user ON key_challenges(user_id, fingerprint);

CREATE TABLE check_runs (
    revision_id INTEGER PRIMARY KEY REFERENCES revisions(id),
    state       TEXT    NOT NULL,
    generation  INTEGER NOT NULL,
    queued_at   BIGINT  NOT NULL,
    started_at  BIGINT,
    finished_at BIGINT
);
CREATE INDEX check_runs_state ON check_runs(state);

CREATE TABLE check_results (
    revision_id     INTEGER NOT NULL REFERENCES revisions(id),
    checker         TEXT    NOT NULL,
    checker_version INTEGER NOT NULL,
    path            TEXT    NOT NULL,
    idx             INTEGER NOT NULL, -- a checker may report several results for one path
    inputs_hash     TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    message         TEXT    NOT NULL,
    details         TEXT    NOT NULL, -- JSON object
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (revision_id, checker, path, idx)
);
CREATE INDEX check_results_inputs ON check_results(checker, checker_version, inputs_hash);

-- +goose Down
DROP TABLE check_results;
DROP TABLE check_runs;
DROP TABLE key_challenges;
DROP TABLE committee_keys;
DROP TABLE key_subkeys;
DROP TABLE keys;
