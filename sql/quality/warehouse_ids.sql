-- The transaction ids the warehouse holds for each retailer and day of the run window
-- (:window_start .. :run_date): fact lines and warehouse-quarantined rows. The quality pipeline
-- compares them, as multisets per day, with the ids of the raw zone files: every valid raw
-- record is a fact or in warehouse_quarantine, once. One row per fact line or quarantined row;
-- the day as text (YYYY-MM-DD), which pandas keeps compact (a date would be a Python object a row).
SELECT r.retailer_code, to_char(to_date(f.date_id::text, 'YYYYMMDD'), 'YYYY-MM-DD') AS sale_date,
       f.transaction_id, 'fact' AS place
FROM fact_sales AS f
JOIN dim_retailer AS r ON r.retailer_id = f.retailer_id
WHERE f.date_id BETWEEN to_char(CAST(:window_start AS date), 'YYYYMMDD')::int
                    AND to_char(CAST(:run_date AS date), 'YYYYMMDD')::int
UNION ALL
SELECT q.retailer_code, to_char(q.sale_date, 'YYYY-MM-DD'), coalesce(q.transaction_id, ''), 'warehouse_quarantine'
FROM warehouse_quarantine AS q
WHERE q.sale_date BETWEEN CAST(:window_start AS date) AND CAST(:run_date AS date)
