-- fact_sales_key agrees with fact_sales for the run window (:window_start .. :run_date).
-- fact_sales_key (sql/warehouse/006_exactly_once.sql) says on which day each sale line lives,
-- over all of history; the loader keeps it in step with the day partitions it swaps in. Two
-- ways to disagree:
--   fact_without_key  a window fact whose key row is missing or names another day (or, the key
--                     being per transaction, another product)
--   key_without_fact  a key row pointing into the window with no fact on that day
-- One row per disagreement, at most :sample_size per (retailer, problem); `problems` is the
-- full count for that (retailer, problem).
WITH bounds AS (
    SELECT to_char(CAST(:window_start AS date), 'YYYYMMDD')::int AS lo,
           to_char(CAST(:run_date AS date), 'YYYYMMDD')::int AS hi
),
fact_without_key AS (
    SELECT 'fact_without_key' AS problem, f.retailer_id, f.transaction_id, f.product_id,
           f.date_id AS fact_date_id, k.date_id AS key_date_id
    FROM fact_sales AS f
    CROSS JOIN bounds AS b
    LEFT JOIN fact_sales_key AS k
           ON k.retailer_id = f.retailer_id AND k.transaction_id = f.transaction_id
          AND k.product_id = f.product_id
    WHERE f.date_id BETWEEN b.lo AND b.hi
      AND k.date_id IS DISTINCT FROM f.date_id
),
key_without_fact AS (
    SELECT 'key_without_fact' AS problem, k.retailer_id, k.transaction_id, k.product_id,
           NULL::int AS fact_date_id, k.date_id AS key_date_id
    FROM fact_sales_key AS k
    CROSS JOIN bounds AS b
    WHERE k.date_id BETWEEN b.lo AND b.hi
      AND NOT EXISTS (SELECT 1 FROM fact_sales AS f
                      WHERE f.date_id = k.date_id AND f.retailer_id = k.retailer_id
                        AND f.transaction_id = k.transaction_id AND f.product_id = k.product_id)
),
problems AS (
    SELECT * FROM fact_without_key
    UNION ALL
    SELECT * FROM key_without_fact
),
numbered AS (
    SELECT problems.*,
           count(*) OVER (PARTITION BY retailer_id, problem) AS problems,
           row_number() OVER (PARTITION BY retailer_id, problem
                              ORDER BY coalesce(fact_date_id, key_date_id), transaction_id, product_id) AS rn
    FROM problems
)
SELECT coalesce(r.retailer_code, 'retailer_id=' || n.retailer_id::text) AS retailer_code,
       n.problem, n.problems::bigint AS problems, n.transaction_id, n.product_id,
       n.fact_date_id, n.key_date_id
FROM numbered AS n
LEFT JOIN dim_retailer AS r ON r.retailer_id = n.retailer_id
WHERE n.rn <= CAST(:sample_size AS int)
ORDER BY 1, n.problem, n.rn
