-- The ledger follows the window's re-pointed lines (fact_sales_key holds the facts' product_id).
-- Analyzed first: without statistics the planner may scan fact_sales_key once per line.
ANALYZE tmp_product_day_moved;
UPDATE fact_sales_key k SET product_id = m.product_id
FROM tmp_product_day_moved m
WHERE k.retailer_id = m.retailer_id AND k.transaction_id = m.transaction_id AND k.date_id = m.date_id
