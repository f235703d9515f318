-- A rerun of a day replaces that day's quarantine rows, as it replaces its facts.
DELETE FROM warehouse_quarantine WHERE sale_date = ANY(%(days)s) AND retailer_code = ANY(%(codes)s);
INSERT INTO warehouse_quarantine (run_id, retailer_code, transaction_id, sale_date, reason, record)
SELECT %(run_id)s, retailer_code, transaction_id, sale_date, reason, record FROM tmp_quarantine
