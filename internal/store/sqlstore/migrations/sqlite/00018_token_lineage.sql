-- +goose Up
-- The token a token was made with: revoking a token revokes every token
-- made with it (NULL: made in a browser session or by an administrator).
ALTER TABLE tokens ADD COLUMN parent_id INTEGER REFERENCES tokens(id);
CREATE INDEX tokens_parent ON tokens(parent_id);

-- +goose Down
DROP INDEX tokens_parent;
ALTER TABLE tokens DROP COLUMN parent_id;
