-- Every line leaving a window day is recorded: moved to another window day, now in the
-- warehouse quarantine, or disappeared (the source no longer serves it in the window).
INSERT INTO fact_sales_changes (run_id, retailer_code, transaction_id, product_id, change_kind,
    from_date, to_date, quantity, total_amount)
SELECT %(run_id)s, r.retailer_code, d.transaction_id, d.old_product_id,
       CASE WHEN d.new_date_id IS NOT NULL THEN 'moved'
            WHEN q.transaction_id IS NOT NULL THEN 'quarantined'
            ELSE 'disappeared' END,
       to_date(d.old_date_id::text, 'YYYYMMDD'), to_date(d.new_date_id::text, 'YYYYMMDD'),
       d.quantity, d.total_amount
FROM tmp_window_diff d
JOIN dim_retailer r USING (retailer_id)
LEFT JOIN (SELECT DISTINCT retailer_code, transaction_id FROM tmp_quarantine) q
       ON q.retailer_code = r.retailer_code AND q.transaction_id = d.transaction_id
WHERE d.new_date_id IS NULL OR d.new_date_id <> d.old_date_id
