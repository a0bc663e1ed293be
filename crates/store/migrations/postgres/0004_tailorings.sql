-- What a group or a host changes about the rule library for itself (frameworks, left-out
-- rules, variable values), as the JSON the core reads. One row per group or host.
CREATE TABLE tailorings (
    scope TEXT NOT NULL,
    scope_id BIGINT NOT NULL,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (scope, scope_id)
);
