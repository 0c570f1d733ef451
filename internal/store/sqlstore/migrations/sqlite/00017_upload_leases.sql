-- +goose Up
-- Uploads in progress, one row each, so that the per-user bound
-- (--uploads-per-user) holds across replicas. A lease expires unless the
-- process holding it renews it; holder names the replica (its data
-- directory), which drops its own leases when it starts again.
CREATE TABLE upload_leases (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    holder     TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX upload_leases_user ON upload_leases(user_id, expires_at);
CREATE INDEX upload_leases_holder ON upload_leases(holder);

-- +goose Down
DROP TABLE upload_leases;
