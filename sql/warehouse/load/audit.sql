INSERT INTO load_audit (run_id, retailer_code, sale_date, rows_loaded, total_amount_loaded, rows_quarantined)
VALUES %s
ON CONFLICT (run_id, retailer_code, sale_date) DO UPDATE SET
    rows_loaded = EXCLUDED.rows_loaded, total_amount_loaded = EXCLUDED.total_amount_loaded,
    rows_quarantined = EXCLUDED.rows_quarantined, loaded_at = now()
