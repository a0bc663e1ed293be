-- The chain head's MAC under the audit key (see src/audit.rs); empty until the first keyed append.
ALTER TABLE audit_head ADD COLUMN mac TEXT NOT NULL DEFAULT '';
