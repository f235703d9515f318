-- Under the dimension lock. What each staged product-day got at COPY time (the version covering
-- it before this load, else the durable key: warehouse.product_versions.KnownVersions), then the
-- window's observations of the load's retailers replaced by the staged ones. The products
-- touched (observed now or before on a window day) get their versions recomputed; a product
-- left with no observation at all keeps its rows (no fact can point to it any more).
CREATE TEMP TABLE tmp_product_assigned ON COMMIT DROP AS
SELECT t.product_key, t.date_id, coalesce(v.product_id, t.product_key) AS product_id
FROM tmp_dim_product t
LEFT JOIN dim_product v ON v.product_key = t.product_key
     AND to_date(t.date_id::text, 'YYYYMMDD') >= v.valid_from AND to_date(t.date_id::text, 'YYYYMMDD') < v.valid_to;
ANALYZE tmp_product_assigned;

CREATE TEMP TABLE tmp_product_touched (retailer_id smallint, product_sku text) ON COMMIT DROP;
WITH gone AS (
    DELETE FROM product_observations
    WHERE retailer_id = ANY(%(retailer_ids)s) AND date_id BETWEEN %(lo)s AND %(hi)s
    RETURNING retailer_id, product_sku
)
INSERT INTO tmp_product_touched
SELECT retailer_id, product_sku FROM gone
UNION
SELECT retailer_id, product_sku FROM tmp_dim_product;

INSERT INTO product_observations (retailer_id, product_sku, date_id, product_key, product_name, category, observed_at)
SELECT retailer_id, product_sku, date_id, product_key, product_name, category, observed_at FROM tmp_dim_product;

DELETE FROM tmp_product_touched t
WHERE NOT EXISTS (SELECT 1 FROM product_observations o
                  WHERE o.retailer_id = t.retailer_id AND o.product_sku = t.product_sku);
ANALYZE tmp_product_touched
