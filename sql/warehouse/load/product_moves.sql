-- Facts already in fact_sales (days outside the window, and the window's old partitions until
-- the swap drops them) whose version's range changed: each moves to the new version covering its
-- day (or, for a day before the product's first observed day, to its durable key). Only the
-- days where the old version and the new one differ are touched.
CREATE TEMP TABLE tmp_product_moves ON COMMIT DROP AS
WITH changed AS (
    SELECT o.*, CASE WHEN o.product_id = o.product_key THEN 0 ELSE o.from_id END AS eff_from FROM tmp_product_old o
    WHERE NOT EXISTS (SELECT 1 FROM tmp_product_versions v
                      WHERE v.product_id = o.product_id AND v.from_id = o.from_id AND v.to_id = o.to_id)
)
SELECT c.retailer_id, c.product_id AS old_id, greatest(c.eff_from, v.from_id) AS lo,
       least(c.to_id, v.to_id) AS hi, v.product_id AS new_id
FROM changed c
JOIN tmp_product_versions v ON v.product_key = c.product_key
     AND v.from_id < c.to_id AND v.to_id > c.eff_from
WHERE v.product_id <> c.product_id
UNION ALL
SELECT c.retailer_id, c.product_id, c.from_id, least(c.to_id, f.first_id), c.product_key
FROM changed c
JOIN (SELECT product_key, min(from_id) AS first_id FROM tmp_product_versions GROUP BY product_key) f USING (product_key)
WHERE c.product_id <> c.product_key AND c.from_id < f.first_id;

-- Per retailer, the date ids the moves span (the UPDATE is then planned on that retailer's
-- partitions of those days only, not on every partition of fact_sales).
SELECT retailer_id, min(lo), max(hi) FROM tmp_product_moves GROUP BY 1 ORDER BY 1
