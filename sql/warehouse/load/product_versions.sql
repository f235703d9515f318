-- The versions of the touched products, from their observations alone: maximal runs of days
-- with equal (product_name, category); the first version keeps the durable key, a later one
-- gets product_version_key(durable key, valid_from) (012_product_history.sql). So any order of
-- (re)loading days, and any rerun, ends in the same rows.
CREATE TEMP TABLE tmp_product_versions ON COMMIT DROP AS
WITH obs AS (
    SELECT o.retailer_id, o.product_sku, o.product_key, o.date_id, o.product_name, o.category,
           CASE WHEN row_number() OVER w = 1
                  OR (lag(o.product_name) OVER w, lag(o.category) OVER w) IS DISTINCT FROM (o.product_name, o.category)
                THEN 1 ELSE 0 END AS starts
    FROM product_observations o JOIN tmp_product_touched USING (retailer_id, product_sku)
    WINDOW w AS (PARTITION BY o.retailer_id, o.product_sku ORDER BY o.date_id)
), runs AS (
    SELECT *, sum(starts) OVER (PARTITION BY retailer_id, product_sku ORDER BY date_id) AS run FROM obs
), versions AS (
    SELECT retailer_id, product_sku, min(product_key) AS product_key, min(date_id) AS from_id,
           min(product_name) AS product_name, min(category) AS category, run
    FROM runs GROUP BY retailer_id, product_sku, run
)
SELECT retailer_id, product_sku, product_key, product_name, category, from_id,
       coalesce(lead(from_id) OVER p, 99991231) AS to_id,
       to_date(from_id::text, 'YYYYMMDD') AS valid_from,
       coalesce(to_date((lead(from_id) OVER p)::text, 'YYYYMMDD'), DATE '9999-12-31') AS valid_to,
       CASE WHEN run = 1 THEN product_key
            ELSE product_version_key(product_key, to_date(from_id::text, 'YYYYMMDD')) END AS product_id
FROM versions
WINDOW p AS (PARTITION BY retailer_id, product_sku ORDER BY from_id);
ANALYZE tmp_product_versions
