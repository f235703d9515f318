-- Per retailer and day, as of its latest load: rows loaded and rows quarantined by the load,
-- for the warehouse side of the quarantine (ingestion quarantine is in the raw zone).
SELECT DISTINCT ON (retailer_code, sale_date)
       retailer_code, sale_date, rows_loaded, rows_quarantined, total_amount_loaded, loaded_at, run_id
FROM load_audit
ORDER BY retailer_code, sale_date, loaded_at DESC;
