-- The load's lines that already live on a day outside the window (moved into the window: their
-- old copy is still there), looked for on the days id_ranges_elsewhere.sql found only
-- (%(days)s is a literal array, so the plan reads those partitions and no other).
CREATE TEMP TABLE tmp_moved_in ON COMMIT DROP AS
SELECT n.retailer_id, n.transaction_id, n.product_id, n.date_id, f.date_id AS from_date_id
FROM tmp_new_lines n
JOIN fact_sales f ON f.retailer_id = n.retailer_id AND f.transaction_id = n.transaction_id
WHERE f.date_id = ANY(%(days)s)
  AND f.retailer_id = ANY(%(retailer_ids)s)
