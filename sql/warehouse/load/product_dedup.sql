-- Product-days staged chunk by chunk: one row per (retailer, sku, day), its latest sale's attributes.
CREATE TEMP TABLE tmp_dim_product_dedup ON COMMIT DROP AS
SELECT DISTINCT ON (retailer_id, product_sku, date_id) * FROM tmp_dim_product
ORDER BY retailer_id, product_sku, date_id, observed_at DESC NULLS LAST;
DROP TABLE tmp_dim_product;
ALTER TABLE tmp_dim_product_dedup RENAME TO tmp_dim_product
