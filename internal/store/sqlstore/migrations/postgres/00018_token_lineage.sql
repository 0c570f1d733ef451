-- +goose Up
-- Twin of ../sqlite/00018_token_lineage.sql (see README.md).
ALTER TABLE tokens ADD COLUMN parent_id BIGINT REFERENCES tokens(id);
CREATE INDEX tokens_parent ON tokens(parent_id);

-- +goose Down
DROP INDEX tokens_parent;
ALTER TABLE tokens DROP COLUMN parent_id;
