-- +goose Up
-- Passkey approvals of server-side signatures are a third kind of WebAuthn
-- ceremony. SQLite cannot change a CHECK constraint in place: rebuild the
-- table (ceremonies live minutes; nothing of value is lost).
CREATE TABLE webauthn_ceremonies_new (
    hash          BLOB    PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('register', 'login', 'approval')),
    user_id       INTEGER NOT NULL DEFAULT 0,
    enrollment_id INTEGER NOT NULL DEFAULT 0,
    passkey_name  TEXT    NOT NULL DEFAULT '',
    data          TEXT    NOT NULL,
    expires_at    BIGINT  NOT NULL
);
INSERT INTO webauthn_ceremonies_new SELECT hash, kind, user_id, enrollment_id, passkey_name, data, expires_at FROM webauthn_ceremonies;
DROP TABLE webauthn_ceremonies;
ALTER TABLE webauthn_ceremonies_new RENAME TO webauthn_ceremonies;

-- +goose Down
DELETE FROM webauthn_ceremonies WHERE kind = 'approval';
