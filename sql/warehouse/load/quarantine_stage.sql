-- This load's warehouse quarantine rows (COPY target); also read by the exactly-once step to
-- tell a fact that became quarantined from one that disappeared.
CREATE TEMP TABLE tmp_quarantine (retailer_code text, transaction_id text, sale_date date,
    reason text, record jsonb) ON COMMIT DROP
