-- Reports drawn by workers for the fleet, a group or a host (PDF, HTML, OSCAL, XCCDF,
-- SARIF): what was asked, the progress of its job, and the drawn file.
CREATE TABLE reports (
    id BIGSERIAL PRIMARY KEY,
    scope TEXT NOT NULL,
    scope_id BIGINT,
    scope_name TEXT NOT NULL,
    framework TEXT,
    format TEXT NOT NULL,
    detail TEXT NOT NULL,
    status TEXT NOT NULL,
    done BIGINT NOT NULL DEFAULT 0,
    total BIGINT NOT NULL DEFAULT 0,
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    finished_at BIGINT,
    error TEXT,
    job_id BIGINT,
    filename TEXT,
    content_type TEXT,
    size BIGINT,
    body BYTEA
);
