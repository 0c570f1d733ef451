-- +goose Up
-- Twin of sqlite/00013_scale.sql (see README.md in this directory).
CREATE TABLE IF NOT EXISTS rate_counters (
    bucket       TEXT COLLATE "C" PRIMARY KEY,
    window_start BIGINT  NOT NULL,
    count        BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS rate_counters;
