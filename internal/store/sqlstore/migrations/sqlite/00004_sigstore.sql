-- +goose Up
-- Sigstore identities a project trusts (project_id set), or a user's own
-- personal identity (user_id set; the subject is one of the user's
-- addresses). spec is the JSON of the identity's fields.
CREATE TABLE sigstore_identities (
    id         INTEGER PRIMARY KEY,
    project_id INTEGER REFERENCES projects(id),
    user_id    INTEGER REFERENCES users(id),
    spec       TEXT    NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at BIGINT  NOT NULL,
    CHECK ((project_id IS NULL) <> (user_id IS NULL))
);
CREATE INDEX sigstore_identities_project ON sigstore_identities(project_id);
CREATE INDEX sigstore_identities_user ON sigstore_identities(user_id);

-- Public keys a project trusts for key-based Sigstore bundles.
CREATE TABLE sigstore_keys (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id),
    name        TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    pem         TEXT    NOT NULL,
    created_by  INTEGER NOT NULL REFERENCES users(id),
    created_at  BIGINT  NOT NULL,
    UNIQUE (project_id, fingerprint)
);

-- +goose Down
DROP TABLE sigstore_keys;
DROP TABLE sigstore_identities;
