-- +goose Up
-- The Sigstore (ECDSA P-256) public key of a key trel holds, recorded the
-- first time it signs a Sigstore bundle; the private half is derived from
-- the held key's secret and never stored.
CREATE TABLE held_sigstore_keys (
    fingerprint TEXT   PRIMARY KEY REFERENCES signing_keys(fingerprint),
    public_key  TEXT   NOT NULL,
    key_id      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE held_sigstore_keys;
