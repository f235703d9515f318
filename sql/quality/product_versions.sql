-- Product history (dim_product versions, 012_product_history.sql) for the run window
-- (:window_start .. :run_date). Three ways to be wrong:
--   overlap          two versions of a product valid on the same day (all of dim_product)
--   not_one_current  a product with no current version, or more than one (all of dim_product)
--   wrong_version    a window fact whose product_id is a version not valid on the fact's day
--                    (BI's category at sale time would be wrong)
-- One row per problem, at most :sample_size per (retailer, problem); `problems` is the full
-- count for that (retailer, problem).
WITH bounds AS (
    SELECT to_char(CAST(:window_start AS date), 'YYYYMMDD')::int AS lo,
           to_char(CAST(:run_date AS date), 'YYYYMMDD')::int AS hi
),
overlap AS (
    SELECT 'overlap' AS problem, a.retailer_id, a.product_sku, b.product_id, b.valid_from::text AS detail
    FROM dim_product AS a
    JOIN dim_product AS b
      ON b.product_key = a.product_key AND b.product_id <> a.product_id
     AND (b.valid_from, b.product_id) > (a.valid_from, a.product_id)
     AND b.valid_from < a.valid_to AND a.valid_from < b.valid_to
),
not_one_current AS (
    SELECT 'not_one_current' AS problem, min(retailer_id) AS retailer_id, min(product_sku) AS product_sku,
           product_key AS product_id, count(*) FILTER (WHERE is_current)::text || ' current versions' AS detail
    FROM dim_product
    GROUP BY product_key
    HAVING count(*) FILTER (WHERE is_current) <> 1
),
wrong_version AS (
    SELECT 'wrong_version' AS problem, f.retailer_id, p.product_sku, f.product_id,
           f.transaction_id || ' on ' || d.date::text || ', version valid ' || p.valid_from::text || '..'
               || p.valid_to::text AS detail
    FROM fact_sales AS f
    CROSS JOIN bounds AS b
    JOIN dim_date AS d ON d.date_id = f.date_id
    JOIN dim_product AS p ON p.product_id = f.product_id
    WHERE f.date_id BETWEEN b.lo AND b.hi
      AND NOT (d.date >= p.valid_from AND d.date < p.valid_to)
),
problems AS (
    SELECT * FROM overlap
    UNION ALL
    SELECT * FROM not_one_current
    UNION ALL
    SELECT * FROM wrong_version
),
numbered AS (
    SELECT problems.*,
           count(*) OVER (PARTITION BY retailer_id, problem) AS problems,
           row_number() OVER (PARTITION BY retailer_id, problem ORDER BY product_sku, detail) AS rn
    FROM problems
)
SELECT coalesce(r.retailer_code, 'retailer_id=' || n.retailer_id::text) AS retailer_code,
       n.problem, n.problems::bigint AS problems, n.product_sku, n.product_id, n.detail
FROM numbered AS n
LEFT JOIN dim_retailer AS r ON r.retailer_id = n.retailer_id
WHERE n.rn <= CAST(:sample_size AS int)
ORDER BY 1, n.problem, n.rn
