-- One row of what a retention run removed.
INSERT INTO retention_audit (retention_run_id, keep_days, cutoff, kind, retailer_code, day, target, removed)
VALUES (%(run_id)s, %(keep_days)s, %(cutoff)s, %(kind)s, %(retailer_code)s, %(day)s, %(target)s, %(removed)s)
