-- The lines the window's days hold now (old_*) that this load removes or changes: gone from the
-- window (new_* NULL), moved to another window day, or with another product. Matched on
-- (retailer_id, transaction_id): a transaction is one line (stage_sales keeps the latest
-- version of an id), so a corrected product is the same line. Lines new to the window are not
-- here (keys_insert.sql). A rerun without source changes leaves this empty.
CREATE TEMP TABLE tmp_window_diff ON COMMIT DROP AS
SELECT o.retailer_id, o.transaction_id, o.product_id AS old_product_id, o.date_id AS old_date_id,
       o.quantity, o.total_amount, n.product_id AS new_product_id, n.date_id AS new_date_id
FROM fact_sales o
LEFT JOIN tmp_new_lines n ON n.retailer_id = o.retailer_id AND n.transaction_id = o.transaction_id
WHERE o.date_id BETWEEN %(lo)s AND %(hi)s
  AND o.retailer_id = ANY(%(retailer_ids)s)  -- the load's retailers only (pruned at plan time)
  AND (n.date_id IS NULL OR n.date_id <> o.date_id OR n.product_id <> o.product_id)
