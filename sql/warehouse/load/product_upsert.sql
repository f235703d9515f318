-- The touched products' rows as they were (to re-point facts and drop what is gone), then the
-- new versions written: updated where they changed (a moved boundary, the first version's
-- attributes; rows identical to what a rerun computes are not touched), the others inserted
-- (anti-join, key order). Returns how many rows were written.
CREATE TEMP TABLE tmp_product_old ON COMMIT DROP AS
SELECT d.product_id, d.product_key, d.retailer_id,
       CASE WHEN d.valid_from = '-infinity' THEN 0 ELSE to_char(d.valid_from, 'YYYYMMDD')::int END AS from_id,
       to_char(d.valid_to, 'YYYYMMDD')::int AS to_id
FROM dim_product d JOIN tmp_product_touched USING (retailer_id, product_sku);

WITH changed AS (
    UPDATE dim_product d
    SET product_name = v.product_name, category = v.category, valid_from = v.valid_from, valid_to = v.valid_to,
        run_id = %(run_id)s, updated_at = now()
    FROM tmp_product_versions v
    WHERE d.product_id = v.product_id
      AND (d.product_name, d.category, d.valid_from, d.valid_to)
          IS DISTINCT FROM (v.product_name, v.category, v.valid_from, v.valid_to)
    RETURNING 1
), added AS (
    INSERT INTO dim_product (product_id, product_key, retailer_id, product_sku, product_name, category,
                             valid_from, valid_to, run_id)
    SELECT v.product_id, v.product_key, v.retailer_id, v.product_sku, v.product_name, v.category,
           v.valid_from, v.valid_to, %(run_id)s
    FROM tmp_product_versions v
    WHERE NOT EXISTS (SELECT 1 FROM dim_product d WHERE d.product_id = v.product_id)
    ORDER BY v.product_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM changed) + (SELECT count(*) FROM added)
