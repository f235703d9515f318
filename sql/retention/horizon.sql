-- Loads of the retailer's removed days are refused from now on (020_retention_audit.sql).
INSERT INTO retention_horizon (retailer_code, removed_before, retention_run_id)
VALUES (%(retailer_code)s, %(cutoff)s, %(run_id)s)
ON CONFLICT (retailer_code) DO UPDATE
SET removed_before = greatest(retention_horizon.removed_before, EXCLUDED.removed_before),
    retention_run_id = CASE WHEN EXCLUDED.removed_before > retention_horizon.removed_before
                            THEN EXCLUDED.retention_run_id ELSE retention_horizon.retention_run_id END,
    updated_at = now()
