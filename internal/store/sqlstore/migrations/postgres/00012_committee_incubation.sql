-- +goose Up
-- Twin of ../sqlite/00012_committee_incubation.sql (see README.md).
CREATE TABLE committee_incubation (
    committee_id BIGINT PRIMARY KEY REFERENCES committees(id),
    since        BIGINT NOT NULL,
    marked_by    BIGINT REFERENCES users(id)
);

-- +goose Down
DROP TABLE committee_incubation;
