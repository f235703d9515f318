-- The touched products' rows as they were (to re-point facts and drop what is gone), then the
-- new versions written: inserted, or updated where they changed (a moved boundary, the first
-- version's attributes). Rows identical to what a rerun computes are not touched.
CREATE TEMP TABLE tmp_product_old ON COMMIT DROP AS
SELECT d.product_id, d.product_key, d.retailer_id,
       CASE WHEN d.valid_from = '-infinity' THEN 0 ELSE to_char(d.valid_from, 'YYYYMMDD')::int END AS from_id,
       to_char(d.valid_to, 'YYYYMMDD')::int AS to_id
FROM dim_product d JOIN tmp_product_touched USING (retailer_id, product_sku);

INSERT INTO dim_product AS d (product_id, product_key, retailer_id, product_sku, product_name, category,
                              valid_from, valid_to, attributes_as_of, run_id)
SELECT v.product_id, v.product_key, v.retailer_id, v.product_sku, v.product_name, v.category,
       v.valid_from, v.valid_to, NULL, %(run_id)s
FROM tmp_product_versions v
ORDER BY v.product_id
ON CONFLICT (product_id) DO UPDATE
SET product_name = EXCLUDED.product_name, category = EXCLUDED.category, valid_from = EXCLUDED.valid_from,
    valid_to = EXCLUDED.valid_to, run_id = EXCLUDED.run_id, updated_at = now()
WHERE (d.product_name, d.category, d.valid_from, d.valid_to)
      IS DISTINCT FROM (EXCLUDED.product_name, EXCLUDED.category, EXCLUDED.valid_from, EXCLUDED.valid_to)
