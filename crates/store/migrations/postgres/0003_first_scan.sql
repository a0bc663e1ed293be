-- A host's first successful scan is its baseline: recorded once on the host, not as one
-- "new" change per rule (which buried real changes). Earlier databases get the same shape:
-- the baseline is the host's earliest change-log scan, whose "new" entries are removed.
ALTER TABLE hosts ADD COLUMN first_scan_id BIGINT;
ALTER TABLE hosts ADD COLUMN first_scan_at BIGINT;
UPDATE hosts SET first_scan_id = (SELECT MIN(c.scan_id) FROM host_changes c WHERE c.host_id = hosts.id);
UPDATE hosts SET first_scan_at = (SELECT MIN(c.changed_at) FROM host_changes c
    WHERE c.host_id = hosts.id AND c.scan_id = hosts.first_scan_id);
DELETE FROM host_changes WHERE old_verdict IS NULL AND scan_id IN
    (SELECT first_scan_id FROM hosts WHERE first_scan_id IS NOT NULL);
CREATE INDEX hosts_first_scan ON hosts(first_scan_at);
