-- +goose Up
-- Twin of ../sqlite/00011_held_sigstore_keys.sql (see README.md).
CREATE TABLE held_sigstore_keys (
    fingerprint TEXT COLLATE "C" PRIMARY KEY REFERENCES signing_keys(fingerprint),
    public_key  TEXT COLLATE "C" NOT NULL,
    key_id      TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT           NOT NULL
);

-- +goose Down
DROP TABLE held_sigstore_keys;
