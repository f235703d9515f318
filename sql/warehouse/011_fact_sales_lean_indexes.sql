-- fact_sales keeps the indexes a query of the project needs, so each load builds fewer
-- (issue 11: at 1 M rows the five index builds took as long as the COPY itself).
--
-- Kept: the primary key (date_id, sale_id, retailer_id): a day partition holds a transaction
-- once (sale_id hashes it), and BI filters lead with date_id; fact_sales_product_idx: product
-- drill-downs (a product's sales).
-- Dropped:
-- - fact_sales_natural_key UNIQUE (retailer_id, transaction_id, product_id, date_id): the widest
--   index (text); a transaction is unique over all of history in fact_sales_key (006), checked
--   against every load's lines, and once per day by the primary key. No query looks a line up
--   by it (window_diff and keys_insert hash-join the window's days; a move deletes from one
--   day's partition).
-- - fact_sales_customer_idx, fact_sales_store_idx: no notebook, mart or quality query filters
--   facts by customer or store (store figures come from mart_daily_sales), and dimension rows
--   are never deleted, so the foreign keys never look facts up by them.
ALTER TABLE fact_sales DROP CONSTRAINT IF EXISTS fact_sales_natural_key;
DROP INDEX IF EXISTS fact_sales_customer_idx;
DROP INDEX IF EXISTS fact_sales_store_idx;
