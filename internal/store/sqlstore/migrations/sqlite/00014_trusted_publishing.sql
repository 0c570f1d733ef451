-- +goose Up
-- Trusted publishing (issue 15). The publishers themselves live in the
-- project policy (versioned, audited); the tables here index them, remember
-- the ID tokens already exchanged, hold the short-lived credentials, and
-- record which workflow run did what.

-- OIDC issuers whose ID tokens trel accepts; GitHub Actions and GitLab.com
-- are known out of the box (an administrator may remove them).
CREATE TABLE oidc_issuers (
    url      TEXT   PRIMARY KEY,
    kind     TEXT   NOT NULL CHECK (kind IN ('github', 'gitlab')),
    web_url  TEXT   NOT NULL,
    added_by TEXT   NOT NULL,
    added_at BIGINT NOT NULL
);
INSERT INTO oidc_issuers (url, kind, web_url, added_by, added_at) VALUES
    ('https://token.actions.githubusercontent.com', 'github', 'https://github.com', 'built-in', 0),
    ('https://gitlab.com', 'gitlab', 'https://gitlab.com', 'built-in', 0);

-- Which project trusts which repository at which issuer: the exchange's
-- lookup, rewritten with each publisher change of the project's policy.
CREATE TABLE trusted_publishers (
    project_id   INTEGER NOT NULL REFERENCES projects(id),
    publisher_id INTEGER NOT NULL,
    issuer       TEXT    NOT NULL,
    repository   TEXT    NOT NULL,
    PRIMARY KEY (project_id, publisher_id)
);
CREATE INDEX trusted_publishers_repository ON trusted_publishers(issuer, repository);

-- ID tokens exchanged, by issuer and jti, until they expire: a replay is
-- refused by the primary key, on every replica.
CREATE TABLE oidc_token_uses (
    issuer     TEXT   NOT NULL,
    jti        TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX oidc_token_uses_expiry ON oidc_token_uses(expires_at);

-- A workflow run that exchanged a token (domain.WorkflowRun as JSON).
CREATE TABLE workflow_runs (
    id           INTEGER PRIMARY KEY,
    project_id   INTEGER NOT NULL REFERENCES projects(id),
    publisher_id INTEGER NOT NULL,
    run          TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL
);

-- Credentials (stored hashed) of at most 15 minutes.
CREATE TABLE publisher_credentials (
    id         INTEGER PRIMARY KEY,
    hash       BLOB    NOT NULL UNIQUE,
    run_id     INTEGER NOT NULL REFERENCES workflow_runs(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    actions    TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX publisher_credentials_expiry ON publisher_credentials(expires_at);

-- What a workflow run did to a release: release.start, revision (number
-- = revision), vote.start and vote.resolve (number = round), publish.
CREATE TABLE workflow_actions (
    release_id INTEGER NOT NULL REFERENCES releases(id),
    action     TEXT    NOT NULL,
    number     INTEGER NOT NULL,
    run_id     INTEGER NOT NULL REFERENCES workflow_runs(id),
    at         BIGINT  NOT NULL,
    PRIMARY KEY (release_id, action, number)
);

-- +goose Down
DROP TABLE workflow_actions;
DROP TABLE publisher_credentials;
DROP TABLE workflow_runs;
DROP TABLE oidc_token_uses;
DROP TABLE trusted_publishers;
DROP TABLE oidc_issuers;
