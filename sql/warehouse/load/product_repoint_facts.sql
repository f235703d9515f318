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

CREATE TEMP TABLE tmp_product_moved (retailer_id smallint, transaction_id text, product_id bigint,
                                      date_id integer) ON COMMIT DROP;
WITH moved AS (
    UPDATE fact_sales f SET product_id = m.new_id
    FROM tmp_product_moves m
    WHERE f.retailer_id = m.retailer_id AND f.product_id = m.old_id AND f.date_id >= m.lo AND f.date_id < m.hi
    RETURNING f.retailer_id, f.transaction_id, f.product_id, f.date_id
)
INSERT INTO tmp_product_moved SELECT * FROM moved;

-- The ledger follows, for the days outside the window (the window's lines are the new day
-- tables', already in fact_sales_key).
UPDATE fact_sales_key k SET product_id = m.product_id
FROM tmp_product_moved m
WHERE k.retailer_id = m.retailer_id AND k.transaction_id = m.transaction_id AND k.date_id = m.date_id
  AND m.date_id NOT BETWEEN %(lo)s AND %(hi)s;

SELECT count(*) FILTER (WHERE date_id NOT BETWEEN %(lo)s AND %(hi)s) FROM tmp_product_moved
