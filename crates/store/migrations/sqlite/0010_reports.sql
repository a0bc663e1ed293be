-- Reports drawn by workers for the fleet, a group or a host (PDF, HTML, OSCAL, XCCDF,
-- SARIF): what was asked, the progress of its job, and the drawn file.
CREATE TABLE reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL,
    scope_id INTEGER,
    scope_name TEXT NOT NULL,
    framework TEXT,
    format TEXT NOT NULL,
    detail TEXT NOT NULL,
    status TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    requested_by TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    finished_at INTEGER,
    error TEXT,
    job_id INTEGER,
    filename TEXT,
    content_type TEXT,
    size INTEGER,
    body BLOB
);
