-- Remediation requests: hosts x rules, previewed (dry run) on each host, approved or rejected
-- by someone other than the requester, then applied host by host as journaled transactions.
CREATE TABLE remediations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    status TEXT NOT NULL,
    rule_ids TEXT NOT NULL,
    risk TEXT,
    requested_by TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    note TEXT NOT NULL,
    decided_by TEXT,
    decided_at INTEGER,
    decision_note TEXT,
    finished_at INTEGER
);
CREATE INDEX remediations_status ON remediations(status, id);
-- One row per host of a request: where it is (previewing ... applied), the dry run's
-- report and the run's report (JSON), and the job working on it.
CREATE TABLE remediation_hosts (
    remediation_id INTEGER NOT NULL REFERENCES remediations(id),
    host_id INTEGER NOT NULL REFERENCES hosts(id),
    phase TEXT NOT NULL,
    risk TEXT,
    planned INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    preview TEXT,
    result TEXT,
    job_id INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (remediation_id, host_id)
);
CREATE INDEX remediation_hosts_host ON remediation_hosts(host_id);
CREATE INDEX remediation_hosts_job ON remediation_hosts(job_id);
-- Each transaction a run opened on a host (the host's journal has its bytes; this is the
-- caller's record of it: the pre-state as hashes, the diff, the actions) and its rollback.
CREATE TABLE fix_transactions (
    id TEXT PRIMARY KEY,
    remediation_id INTEGER NOT NULL REFERENCES remediations(id),
    host_id INTEGER NOT NULL REFERENCES hosts(id),
    rule_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    risk TEXT,
    diff TEXT NOT NULL,
    actions TEXT NOT NULL,
    pre_state TEXT NOT NULL,
    message TEXT,
    created_at INTEGER NOT NULL,
    rollback_status TEXT,
    rollback_by TEXT,
    rollback_at INTEGER,
    rollback_message TEXT,
    rollback_job_id INTEGER
);
CREATE INDEX fix_transactions_host ON fix_transactions(host_id, created_at);
CREATE INDEX fix_transactions_remediation ON fix_transactions(remediation_id);
CREATE INDEX fix_transactions_rollback_job ON fix_transactions(rollback_job_id);
