-- +goose Up
-- Twin of sqlite/00005_lifecycle.sql (see README.md in this directory).
-- Each policy change is a new version; the newest applies.
CREATE TABLE project_policies (
    project_id BIGINT  NOT NULL REFERENCES projects(id),
    version    BIGINT  NOT NULL,
    spec       TEXT COLLATE "C"    NOT NULL, -- JSON of domain.Policy's rules
    updated_by BIGINT  NOT NULL REFERENCES users(id),
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (project_id, version)
);

CREATE TABLE release_managers (
    release_id BIGINT  NOT NULL REFERENCES releases(id),
    user_id    BIGINT  NOT NULL REFERENCES users(id),
    added_at   BIGINT  NOT NULL,
    PRIMARY KEY (release_id, user_id)
);

-- A release manager's acknowledgement of one concern, for its exact inputs.
CREATE TABLE check_acks (
    revision_id BIGINT  NOT NULL REFERENCES revisions(id),
    checker     TEXT COLLATE "C"    NOT NULL,
    path        TEXT COLLATE "C"    NOT NULL,
    inputs_hash TEXT COLLATE "C"    NOT NULL,
    user_id     BIGINT  NOT NULL REFERENCES users(id),
    comment     TEXT COLLATE "C"    NOT NULL,
    acked_at    BIGINT  NOT NULL,
    PRIMARY KEY (revision_id, checker, path, inputs_hash)
);

CREATE TABLE vote_rounds (
    release_id     BIGINT  NOT NULL REFERENCES releases(id),
    round          BIGINT  NOT NULL,
    revision       BIGINT  NOT NULL,
    started_by     BIGINT  NOT NULL REFERENCES users(id),
    started_at     BIGINT  NOT NULL,
    min_hours      BIGINT  NOT NULL,
    policy_version BIGINT  NOT NULL,
    resolved_at    BIGINT,
    resolved_by    BIGINT  REFERENCES users(id),
    passed         BOOLEAN,
    PRIMARY KEY (release_id, round)
);

CREATE TABLE votes (
    release_id BIGINT  NOT NULL REFERENCES releases(id),
    round      BIGINT  NOT NULL,
    user_id    BIGINT  NOT NULL REFERENCES users(id),
    value      BIGINT  NOT NULL CHECK (value IN (-1, 0, 1)),
    binding    BOOLEAN NOT NULL,
    comment    TEXT COLLATE "C"    NOT NULL,
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
