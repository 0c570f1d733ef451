-- +goose Up
-- The web and CLI of issue 16.

-- Server settings that the admin commands read from the database: the
-- public URL `trel serve` last ran with (enrollment links use it).
CREATE TABLE server_settings (
    name       TEXT   PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE server_settings;
