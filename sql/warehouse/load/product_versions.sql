-- The versions of the touched products: maximal runs of days with equal (product_name,
-- category) over their observations; the first version keeps the durable key, a later one gets
-- product_version_key(durable key, valid_from) (012_product_history.sql). So any order of
-- (re)loading days, and any rerun, ends in the same rows.
--
-- Not all observations are read (that would grow with history): the runs are the same over a
-- subsequence that holds every run start, namely the window's observations, the first
-- observation after the window, and the first day of each existing version starting outside
-- the window (a version starts on an observed day whose attributes differ from the day before; days
-- outside the window keep their neighbours, so their starts stay starts). So the cost is the
-- window's product-days plus the products' versions.
CREATE TEMP TABLE tmp_product_versions ON COMMIT DROP AS
WITH days AS (
    SELECT o.retailer_id, o.product_sku, o.product_key, o.date_id, o.product_name, o.category
    FROM product_observations o JOIN tmp_product_touched t USING (retailer_id, product_sku)
    WHERE o.date_id BETWEEN %(lo)s AND %(hi)s
    UNION
    SELECT n.* FROM tmp_product_touched t CROSS JOIN LATERAL (
        SELECT o.retailer_id, o.product_sku, o.product_key, o.date_id, o.product_name, o.category
        FROM product_observations o
        WHERE o.retailer_id = t.retailer_id AND o.product_sku = t.product_sku AND o.date_id > %(hi)s
        ORDER BY o.date_id LIMIT 1) n
    UNION
    SELECT d.retailer_id, d.product_sku, d.product_key, to_char(d.valid_from, 'YYYYMMDD')::int, d.product_name,
           d.category
    FROM dim_product d JOIN tmp_product_touched t USING (retailer_id, product_sku)
    WHERE d.valid_from <> '-infinity'
      AND NOT (d.valid_from BETWEEN to_date(%(lo)s::text, 'YYYYMMDD') AND to_date(%(hi)s::text, 'YYYYMMDD'))
), obs AS (
    SELECT o.*,
           CASE WHEN row_number() OVER w = 1
                  OR (lag(o.product_name) OVER w, lag(o.category) OVER w) IS DISTINCT FROM (o.product_name, o.category)
                THEN 1 ELSE 0 END AS starts
    FROM days o
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
