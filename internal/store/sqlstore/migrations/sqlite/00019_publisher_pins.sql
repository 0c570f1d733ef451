-- +goose Up
-- The ids of the repository (and its owner) a trusted publisher first
-- exchanged a token for: a repository deleted or renamed and then created
-- again by someone else under the same path has other ids and is refused.
CREATE TABLE publisher_pins (
    project_id   INTEGER NOT NULL REFERENCES projects(id),
    publisher_id INTEGER NOT NULL,
    subject_ids  TEXT    NOT NULL,
    pinned_at    BIGINT  NOT NULL,
    PRIMARY KEY (project_id, publisher_id)
);

-- +goose Down
DROP TABLE publisher_pins;
