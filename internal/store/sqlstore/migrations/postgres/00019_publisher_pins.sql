-- +goose Up
CREATE TABLE publisher_pins (
    project_id   BIGINT           NOT NULL REFERENCES projects(id),
    publisher_id BIGINT           NOT NULL,
    subject_ids  TEXT COLLATE "C" NOT NULL,
    pinned_at    BIGINT           NOT NULL,
    PRIMARY KEY (project_id, publisher_id)
);

-- +goose Down
DROP TABLE publisher_pins;
