-- Accepted risks: a rule's failure accepted for one host, one group or the whole fleet
-- (neither host nor group) until the end of a day, requested by one user and approved by
-- another. Expiry is a date, not a state: an approved exception past its day no longer
-- applies.
CREATE TABLE exceptions (
    id BIGSERIAL PRIMARY KEY,
    rule_id TEXT NOT NULL,
    host_id BIGINT REFERENCES hosts(id) ON DELETE CASCADE,
    group_id BIGINT REFERENCES host_groups(id) ON DELETE CASCADE,
    justification TEXT NOT NULL,
    expires_on TEXT NOT NULL,
    status TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    decision_note TEXT,
    revoked_by TEXT,
    revoked_at BIGINT,
    CHECK (host_id IS NULL OR group_id IS NULL)
);
CREATE INDEX exceptions_status ON exceptions(status, expires_on);
-- Which exception made a result `excepted`.
ALTER TABLE scan_results ADD COLUMN exception_id BIGINT;
ALTER TABLE host_rule_state ADD COLUMN exception_id BIGINT;
-- Excepted failures, counted apart from pass and fail.
ALTER TABLE host_posture ADD COLUMN excepted BIGINT NOT NULL DEFAULT 0;
ALTER TABLE posture_history ADD COLUMN excepted BIGINT NOT NULL DEFAULT 0;
-- Drift at value level: the evidence before and after each change.
ALTER TABLE host_changes ADD COLUMN old_evidence_hash TEXT;
ALTER TABLE host_changes ADD COLUMN new_evidence_hash TEXT;
