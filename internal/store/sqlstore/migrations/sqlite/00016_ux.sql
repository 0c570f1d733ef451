-- +goose Up
-- The web and CLI of issue 16.

-- Server settings that the admin commands read from the database: the
-- public URL `trel serve` last ran with (enrollment links use it).
CREATE TABLE server_settings (
    name       TEXT   PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Why a vote was cancelled (trel vote cancel --reason): shown with the
-- round's ballots in the release's vote history.
ALTER TABLE vote_rounds ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE vote_rounds DROP COLUMN cancel_reason;
DROP TABLE server_settings;
