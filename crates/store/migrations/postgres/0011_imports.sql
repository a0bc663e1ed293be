-- Results of other scanners (OpenSCAP, InSpec, Nessus, Wazuh) kept beside OpenWatch's own:
-- an import per file, and its results, each with the server's host when its name or address
-- matched one, what OpenWatch rule it stands for and the rules citing its controls.
CREATE TABLE imports (
    id BIGSERIAL PRIMARY KEY,
    source TEXT NOT NULL,
    filename TEXT NOT NULL,
    imported_by TEXT NOT NULL,
    imported_at BIGINT NOT NULL,
    hosts BIGINT NOT NULL,
    matched_hosts BIGINT NOT NULL,
    results BIGINT NOT NULL
);
CREATE TABLE import_results (
    id BIGSERIAL PRIMARY KEY,
    import_id BIGINT NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    host_id BIGINT REFERENCES hosts(id) ON DELETE SET NULL,
    target TEXT NOT NULL,
    rule_ref TEXT NOT NULL,
    result TEXT NOT NULL,
    verdict TEXT NOT NULL,
    severity TEXT,
    message TEXT,
    refs TEXT NOT NULL,
    openwatch_rule TEXT,
    related TEXT NOT NULL
);
CREATE INDEX import_results_host ON import_results(host_id, import_id);
