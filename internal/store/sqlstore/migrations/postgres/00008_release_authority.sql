-- +goose Up
-- Twin of ../sqlite/00008_release_authority.sql (see README.md).
ALTER TABLE vote_rounds ADD COLUMN min_binding_plus_ones BIGINT NOT NULL DEFAULT 0;
UPDATE vote_rounds SET min_binding_plus_ones = COALESCE(
    (SELECT (p.spec::jsonb ->> 'min_binding_plus_ones')::bigint FROM project_policies p JOIN releases r ON r.project_id = p.project_id
     WHERE r.id = vote_rounds.release_id AND p.version = vote_rounds.policy_version), 3);

CREATE TABLE published_signers (
    release_id  BIGINT           NOT NULL REFERENCES releases(id),
    fingerprint TEXT COLLATE "C" NOT NULL REFERENCES keys(fingerprint),
    PRIMARY KEY (release_id, fingerprint)
);
CREATE INDEX published_signers_fpr ON published_signers(fingerprint);
INSERT INTO published_signers (release_id, fingerprint)
SELECT r.id, cr.details::jsonb ->> 'signer_fingerprint'
FROM releases r
JOIN vote_rounds vr ON vr.release_id = r.id AND vr.passed
JOIN revisions v ON v.release_id = r.id AND v.number = vr.revision
JOIN check_results cr ON cr.revision_id = v.id AND cr.checker = 'signature' AND cr.status = 'note'
WHERE r.phase = 'released' AND (cr.details::jsonb ->> 'signer_fingerprint') IN (SELECT fingerprint FROM keys)
ON CONFLICT DO NOTHING;

UPDATE check_runs SET state = 'queued', generation = generation + 1, started_at = NULL, finished_at = NULL,
    queued_at = (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
WHERE revision_id IN (
    SELECT v.id FROM revisions v JOIN releases r ON r.id = v.release_id
    WHERE r.phase IN ('draft', 'candidate', 'preview')
    AND v.number = (SELECT max(number) FROM revisions WHERE release_id = r.id));

-- +goose Down
DROP TABLE published_signers;
ALTER TABLE vote_rounds DROP COLUMN min_binding_plus_ones;
