-- +goose Up
-- Each policy change is a new version; the newest applies.
CREATE TABLE project_policies (
    project_id INTEGER NOT NULL REFERENCES projects(id),
    version    INTEGER NOT NULL,
    spec       TEXT    NOT NULL, -- JSON of domain.Policy's rules
    updated_by INTEGER NOT NULL REFERENCES users(id),
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (project_id, version)
);

CREATE TABLE release_managers (
    release_id INTEGER NOT NULL REFERENCES releases(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    added_at   BIGINT  NOT NULL,
    PRIMARY KEY (release_id, user_id)
);

-- A release manager's acknowledgement of one concern, for its exact inputs.
CREATE TABLE check_acks (
    revision_id INTEGER NOT NULL REFERENCES revisions(id),
    checker     TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    inputs_hash TEXT    NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    comment     TEXT    NOT NULL,
    acked_at    BIGINT  NOT NULL,
    PRIMARY KEY (revision_id, checker, path, inputs_hash)
);

CREATE TABLE vote_rounds (
    release_id     INTEGER NOT NULL REFERENCES releases(id),
    round          INTEGER NOT NULL,
    revision       INTEGER NOT NULL,
    started_by     INTEGER NOT NULL REFERENCES users(id),
    started_at     BIGINT  NOT NULL,
    min_hours      INTEGER NOT NULL,
    policy_version INTEGER NOT NULL,
    resolved_at    BIGINT,
    resolved_by    INTEGER REFERENCES users(id),
    passed         BOOLEAN,
    PRIMARY KEY (release_id, round)
);

CREATE TABLE votes (
    release_id INTEGER NOT NULL REFERENCES releases(id),
    round      INTEGER NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    value      INTEGER NOT NULL CHECK (value IN (-1, 0, 1)),
    binding    BOOLEAN NOT NULL,
    comment    TEXT    NOT NULL,
    cast_at    BIGINT  NOT NULL,
    PRIMARY KEY (release_id, round, user_id)
);

ALTER TABLE releases ADD COLUMN published_at BIGINT;

-- +goose Down
ALTER TABLE releases DROP COLUMN published_at;
DROP TABLE votes;
DROP TABLE vote_rounds;
DROP TABLE check_acks;
DROP TABLE release_managers;
DROP TABLE project_policies;
