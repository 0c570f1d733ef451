-- +goose Up
-- Mailing lists, notifications, webhooks and a release's life after
-- publication (issue 17).

-- What happens to a release beside its phase: an embargo (visible to the
-- committee's participants only until published), a yank (still served,
-- marked with the reason) and archiving (files moved to the archive tree).
CREATE TABLE release_states (
    release_id        INTEGER PRIMARY KEY REFERENCES releases(id),
    embargoed         BOOLEAN NOT NULL DEFAULT FALSE,
    embargo_lifted_at BIGINT,
    yanked_at         BIGINT,
    yanked_by         TEXT    NOT NULL DEFAULT '',
    yank_reason       TEXT    NOT NULL DEFAULT '',
    archived_at       BIGINT,
    archived_by       TEXT    NOT NULL DEFAULT ''
);

-- Notices become the in-app notifications: a kind ("account" notices are
-- shown on every page until dismissed; the others behind the bell), a link
-- to what they are about, and a key that makes a notification unique per
-- user (a replayed event notifies once).
ALTER TABLE user_notices ADD COLUMN kind TEXT NOT NULL DEFAULT 'account';
ALTER TABLE user_notices ADD COLUMN link TEXT NOT NULL DEFAULT '';
ALTER TABLE user_notices ADD COLUMN dedupe TEXT;
CREATE UNIQUE INDEX user_notices_dedupe ON user_notices(user_id, dedupe) WHERE dedupe IS NOT NULL;

-- A project's webhooks. The secret signs each delivery (HMAC-SHA256); it
-- is kept as given because the signature needs it. A removed webhook keeps
-- its row (deleted_at) so that its delivery log stays readable.
CREATE TABLE project_webhooks (
    id         INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    url        TEXT    NOT NULL,
    secret     TEXT    NOT NULL,
    events     TEXT    NOT NULL DEFAULT '',
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at BIGINT  NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX project_webhooks_project ON project_webhooks(project_id);

-- The outbox: every mail and webhook call is a row written in the same
-- transaction as the event it tells about, and the job queue is fed from
-- it (like check_runs). A worker claims a row with one conditional UPDATE
-- before sending, so a delivery runs once across replicas.
CREATE TABLE deliveries (
    id            INTEGER PRIMARY KEY,
    channel       TEXT    NOT NULL CHECK (channel IN ('mail', 'webhook')),
    topic         TEXT    NOT NULL,
    project_id    INTEGER NOT NULL REFERENCES projects(id),
    release_id    INTEGER REFERENCES releases(id),
    webhook_id    INTEGER REFERENCES project_webhooks(id),
    round         INTEGER NOT NULL DEFAULT 0,
    message_id    TEXT    NOT NULL DEFAULT '',
    payload       TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'skipped')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    not_before    BIGINT  NOT NULL,
    claimed_until BIGINT,
    last_error    TEXT    NOT NULL DEFAULT '',
    refused       TEXT    NOT NULL DEFAULT '',
    status_code   INTEGER NOT NULL DEFAULT 0,
    created_at    BIGINT  NOT NULL,
    finished_at   BIGINT
);
CREATE INDEX deliveries_due ON deliveries(state, not_before);
CREATE INDEX deliveries_release ON deliveries(release_id);
CREATE INDEX deliveries_webhook ON deliveries(webhook_id);

-- +goose Down
DROP TABLE deliveries;
DROP TABLE project_webhooks;
DROP INDEX user_notices_dedupe;
ALTER TABLE user_notices DROP COLUMN dedupe;
ALTER TABLE user_notices DROP COLUMN link;
ALTER TABLE user_notices DROP COLUMN kind;
DROP TABLE release_states;
