-- +goose Up
-- Twin of sqlite/00007: passkey approvals of server-side signatures are a
-- third kind of WebAuthn ceremony. PostgreSQL changes the CHECK constraint
-- in place (SQLite had to rebuild the table).
ALTER TABLE webauthn_ceremonies DROP CONSTRAINT webauthn_ceremonies_kind_check;
ALTER TABLE webauthn_ceremonies ADD CONSTRAINT webauthn_ceremonies_kind_check
    CHECK (kind IN ('register', 'login', 'approval'));

-- +goose Down
DELETE FROM webauthn_ceremonies WHERE kind = 'approval';
ALTER TABLE webauthn_ceremonies DROP CONSTRAINT webauthn_ceremonies_kind_check;
ALTER TABLE webauthn_ceremonies ADD CONSTRAINT webauthn_ceremonies_kind_check
    CHECK (kind IN ('register', 'login'));
