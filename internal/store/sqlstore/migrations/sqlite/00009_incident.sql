-- +goose Up
-- Incident response: suspended users, sessions that can be listed and ended
-- one by one (with the passkey that opened them), notices shown to a user
-- on their next page view, and rate counters shared by every replica.

ALTER TABLE users ADD COLUMN suspended_at BIGINT;

-- web_sessions gains an id (to name a session without its secret), the
-- passkey that opened it and the browser's user agent. SQLite cannot add a
-- primary key to a table: copy it.
CREATE TABLE web_sessions_new (
    id           INTEGER PRIMARY KEY,
    hash         BLOB    NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    client_ip    TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT '',
    passkey_id   INTEGER -- NULL for sessions opened before this migration
);
INSERT INTO web_sessions_new (hash, user_id, created_at, last_seen_at, client_ip)
    SELECT hash, user_id, created_at, last_seen_at, client_ip FROM web_sessions;
DROP TABLE web_sessions;
ALTER TABLE web_sessions_new RENAME TO web_sessions;
CREATE INDEX web_sessions_user ON web_sessions(user_id);
CREATE INDEX web_sessions_passkey ON web_sessions(passkey_id);

CREATE TABLE user_notices (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    message      TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    dismissed_at BIGINT
);
CREATE INDEX user_notices_user ON user_notices(user_id);

-- Fixed-window counters (per user and action): one upsert counts a hit.
-- The scale-out branch's migration creates the same table (IF NOT EXISTS
-- in both: whichever runs first creates it).
CREATE TABLE IF NOT EXISTS rate_counters (
    bucket       TEXT    PRIMARY KEY,
    window_start BIGINT  NOT NULL,
    count        INTEGER NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS rate_counters;
DROP TABLE user_notices;
CREATE TABLE web_sessions_old (
    hash         BLOB    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    client_ip    TEXT    NOT NULL DEFAULT ''
);
INSERT INTO web_sessions_old SELECT hash, user_id, created_at, last_seen_at, client_ip FROM web_sessions;
DROP TABLE web_sessions;
ALTER TABLE web_sessions_old RENAME TO web_sessions;
CREATE INDEX web_sessions_user ON web_sessions(user_id);
ALTER TABLE users DROP COLUMN suspended_at;
