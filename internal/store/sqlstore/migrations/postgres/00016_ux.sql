-- +goose Up
-- Twin of ../sqlite/00016_ux.sql (see README.md).
CREATE TABLE server_settings (
    name       TEXT COLLATE "C" PRIMARY KEY,
    value      TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Why a vote was cancelled (trel vote cancel --reason): shown with the
-- round's ballots in the release's vote history.
ALTER TABLE vote_rounds ADD COLUMN cancel_reason TEXT COLLATE "C" NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE vote_rounds DROP COLUMN cancel_reason;
DROP TABLE server_settings;
