-- +goose Up
-- Committees marked incubating: their releases must carry a DISCLAIMER.
CREATE TABLE committee_incubation (
    committee_id INTEGER PRIMARY KEY REFERENCES committees(id),
    since        BIGINT  NOT NULL,
    marked_by    INTEGER REFERENCES users(id) -- NULL: the system (admin tool)
);

-- +goose Down
DROP TABLE committee_incubation;
