-- fact_sales_key for the lines the window held that change: drop the ones leaving, follow the
-- ones that moved to another window day or changed product.
DELETE FROM fact_sales_key k
USING tmp_window_diff d
WHERE d.new_date_id IS NULL
  AND k.retailer_id = d.retailer_id AND k.transaction_id = d.transaction_id AND k.date_id = d.old_date_id;

UPDATE fact_sales_key k
SET date_id = d.new_date_id, product_id = d.new_product_id
FROM tmp_window_diff d
WHERE d.new_date_id IS NOT NULL
  AND k.retailer_id = d.retailer_id AND k.transaction_id = d.transaction_id
