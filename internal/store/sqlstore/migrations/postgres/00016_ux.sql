-- +goose Up
-- Twin of ../sqlite/00016_ux.sql (see README.md).
CREATE TABLE server_settings (
    name       TEXT COLLATE "C" PRIMARY KEY,
    value      TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE server_settings;
