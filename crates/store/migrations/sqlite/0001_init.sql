-- OpenWatch schema, SQLite dialect. Times are Unix milliseconds; flags are 0/1 integers;
-- JSON is stored as TEXT. Tables keyed by a composite or text primary key are WITHOUT ROWID
-- (one b-tree per insert instead of two). Keep in step with ../postgres/0001_init.sql.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE roles (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used_at INTEGER,
    revoked_at INTEGER
);
CREATE TABLE credentials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    username TEXT,
    secret BLOB NOT NULL,
    sudo_secret BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE host_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE TABLE hosts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    port INTEGER NOT NULL,
    username TEXT NOT NULL,
    transport TEXT NOT NULL,
    credential_id INTEGER REFERENCES credentials(id),
    sudo INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]',
    maintenance INTEGER NOT NULL DEFAULT 0,
    host_key_policy TEXT NOT NULL DEFAULT 'approve',
    platform TEXT,
    reachability TEXT NOT NULL DEFAULT 'unknown',
    last_error TEXT,
    last_scan_at INTEGER,
    last_scan_status TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
);
CREATE UNIQUE INDEX hosts_live_name ON hosts(name) WHERE deleted_at IS NULL;
CREATE INDEX hosts_live_id ON hosts(deleted_at, id);
CREATE TABLE host_group_members (
    host_id INTEGER NOT NULL REFERENCES hosts(id),
    group_id INTEGER NOT NULL REFERENCES host_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (host_id, group_id)
) WITHOUT ROWID;
CREATE INDEX host_group_members_group ON host_group_members(group_id);
CREATE TABLE host_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    host_id INTEGER NOT NULL REFERENCES hosts(id),
    algorithm TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    public_key TEXT NOT NULL,
    status TEXT NOT NULL,
    first_seen_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by TEXT,
    UNIQUE (host_id, fingerprint)
);
CREATE TABLE scans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    host_id INTEGER NOT NULL REFERENCES hosts(id),
    status TEXT NOT NULL,
    trigger TEXT NOT NULL,
    triggered_by TEXT,
    queued_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    error_kind TEXT,
    error_message TEXT,
    stats TEXT,
    summary TEXT
);
CREATE INDEX scans_host ON scans(host_id, id);
CREATE INDEX scans_status ON scans(status, id);
CREATE TABLE evidence (
    hash TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE scan_results (
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    rule_id TEXT NOT NULL,
    verdict TEXT NOT NULL,
    severity TEXT NOT NULL,
    reason TEXT NOT NULL,
    evidence_hash TEXT,
    PRIMARY KEY (scan_id, rule_id)
) WITHOUT ROWID;
CREATE TABLE host_rule_state (
    host_id INTEGER NOT NULL REFERENCES hosts(id),
    rule_id TEXT NOT NULL,
    verdict TEXT NOT NULL,
    severity TEXT NOT NULL,
    scan_id INTEGER NOT NULL,
    evidence_hash TEXT,
    since_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (host_id, rule_id)
) WITHOUT ROWID;
CREATE TABLE host_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    host_id INTEGER NOT NULL REFERENCES hosts(id),
    rule_id TEXT NOT NULL,
    scan_id INTEGER NOT NULL,
    old_verdict TEXT,
    new_verdict TEXT NOT NULL,
    old_severity TEXT,
    new_severity TEXT NOT NULL,
    changed_at INTEGER NOT NULL
);
CREATE INDEX host_changes_host ON host_changes(host_id, id);
CREATE INDEX host_changes_recent ON host_changes(changed_at);
CREATE TABLE host_posture (
    host_id INTEGER NOT NULL REFERENCES hosts(id),
    framework TEXT NOT NULL,
    pass INTEGER NOT NULL,
    fail INTEGER NOT NULL,
    error INTEGER NOT NULL,
    not_applicable INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (host_id, framework)
) WITHOUT ROWID;
CREATE TABLE posture_history (
    host_id INTEGER NOT NULL REFERENCES hosts(id),
    framework TEXT NOT NULL,
    scan_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    pass INTEGER NOT NULL,
    fail INTEGER NOT NULL,
    error INTEGER NOT NULL,
    not_applicable INTEGER NOT NULL,
    PRIMARY KEY (host_id, framework, scan_id)
) WITHOUT ROWID;
CREATE TABLE host_failures (
    host_id INTEGER PRIMARY KEY REFERENCES hosts(id),
    critical INTEGER NOT NULL,
    high INTEGER NOT NULL,
    medium INTEGER NOT NULL,
    low INTEGER NOT NULL,
    total INTEGER NOT NULL
);
CREATE INDEX host_failures_total ON host_failures(total);
-- Failing hosts per rule, split into shards by host id so concurrent ingests of different
-- hosts rarely wait on the same counter row; readers sum the shards.
CREATE TABLE rule_failing (
    rule_id TEXT NOT NULL,
    shard INTEGER NOT NULL,
    hosts INTEGER NOT NULL,
    PRIMARY KEY (rule_id, shard)
) WITHOUT ROWID;
CREATE TABLE fleet_daily (
    day INTEGER NOT NULL,
    framework TEXT NOT NULL,
    hosts INTEGER NOT NULL,
    pass INTEGER NOT NULL,
    fail INTEGER NOT NULL,
    PRIMARY KEY (day, framework)
) WITHOUT ROWID;
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    host_id INTEGER,
    scan_id INTEGER,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_after INTEGER NOT NULL,
    locked_by TEXT,
    lease_until INTEGER,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    last_error TEXT
);
CREATE INDEX jobs_ready ON jobs(status, run_after, id);
CREATE UNIQUE INDEX jobs_one_running_per_host ON jobs(host_id) WHERE status = 'running';
CREATE TABLE schedules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target_kind TEXT NOT NULL,
    target_id INTEGER NOT NULL,
    interval_secs INTEGER,
    cron TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    next_fire_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE schedule_fires (
    fire_key TEXT NOT NULL,
    fire_at INTEGER NOT NULL,
    PRIMARY KEY (fire_key, fire_at)
) WITHOUT ROWID;
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');
CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    source TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events(at);
CREATE TABLE stream_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
