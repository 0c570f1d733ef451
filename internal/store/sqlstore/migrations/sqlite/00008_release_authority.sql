-- +goose Up
-- A vote is counted under the rules recorded when it started: the binding
-- threshold joins the minimum duration. Rounds started before this column
-- existed take the threshold of the policy version they recorded (3, the
-- default, for version 0).
ALTER TABLE vote_rounds ADD COLUMN min_binding_plus_ones INTEGER NOT NULL DEFAULT 0;
UPDATE vote_rounds SET min_binding_plus_ones = COALESCE(
    (SELECT json_extract(p.spec, '$.min_binding_plus_ones') FROM project_policies p JOIN releases r ON r.project_id = p.project_id
     WHERE r.id = vote_rounds.release_id AND p.version = vote_rounds.policy_version), 3);

-- The keys that signed a published release, as its manifest lists them.
-- A key that no longer counts stays in its committee's KEYS file only when
-- it is here (historic), so that old releases keep verifying.
CREATE TABLE published_signers (
    release_id  INTEGER NOT NULL REFERENCES releases(id),
    fingerprint TEXT    NOT NULL REFERENCES keys(fingerprint),
    PRIMARY KEY (release_id, fingerprint)
);
CREATE INDEX published_signers_fpr ON published_signers(fingerprint);
INSERT OR IGNORE INTO published_signers (release_id, fingerprint)
SELECT r.id, json_extract(cr.details, '$.signer_fingerprint')
FROM releases r
JOIN vote_rounds vr ON vr.release_id = r.id AND vr.passed
JOIN revisions v ON v.release_id = r.id AND v.number = vr.revision
JOIN check_results cr ON cr.revision_id = v.id AND cr.checker = 'signature' AND cr.status = 'note'
WHERE r.phase = 'released' AND json_extract(cr.details, '$.signer_fingerprint') IN (SELECT fingerprint FROM keys);

-- Candidates and previews are now re-checked like drafts, and the rules of
-- the checks changed (anchored Sigstore patterns): check every open
-- release's latest revision again.
UPDATE check_runs SET state = 'queued', generation = generation + 1, started_at = NULL, finished_at = NULL,
    queued_at = CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)
WHERE revision_id IN (
    SELECT v.id FROM revisions v JOIN releases r ON r.id = v.release_id
    WHERE r.phase IN ('draft', 'candidate', 'preview')
    AND v.number = (SELECT max(number) FROM revisions WHERE release_id = r.id));

-- +goose Down
DROP TABLE published_signers;
ALTER TABLE vote_rounds DROP COLUMN min_binding_plus_ones;
