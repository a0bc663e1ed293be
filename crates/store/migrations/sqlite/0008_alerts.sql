-- Alert rules: what is worth telling people (a kind with its parameters) and how long a
-- resolved alert stays quiet if it comes back.
CREATE TABLE alert_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    quiet_secs INTEGER NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);
-- Alerts: at most one open or acknowledged per dedup key (a repeat counts up); resolved
-- ones stay as history. `notified_at` is set once its messages are queued, so a crash in
-- between queues them on the next try.
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id INTEGER REFERENCES alert_rules(id) ON DELETE SET NULL,
    kind TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    severity TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    details TEXT NOT NULL,
    host_id INTEGER,
    status TEXT NOT NULL,
    occurrences INTEGER NOT NULL DEFAULT 1,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    notified_at INTEGER,
    acked_by TEXT,
    acked_at INTEGER,
    resolved_by TEXT,
    resolved_at INTEGER
);
CREATE INDEX alerts_key ON alerts(dedup_key, id);
CREATE INDEX alerts_status ON alerts(status, id);
