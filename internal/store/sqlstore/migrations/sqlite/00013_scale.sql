-- +goose Up
-- Rate counters shared by every replica (fixed windows, one upsert per hit):
-- the sign-in limit per client address moves here from memory. The same
-- table as in 00009 (incident response, a parallel branch), hence IF NOT
-- EXISTS: whichever migration runs first creates it.
CREATE TABLE IF NOT EXISTS rate_counters (
    bucket       TEXT    PRIMARY KEY,
    window_start BIGINT  NOT NULL,
    count        INTEGER NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS rate_counters;
