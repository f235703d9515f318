-- Uniqueness: one fact per (retailer, transaction id, product) among the run window's facts
-- (:window_start .. :run_date). One row per duplicated key, at most :sample_size per retailer;
-- `duplicate_keys` / `extra_rows` are the full counts for the retailer.
WITH dup AS (
    SELECT f.retailer_id, f.transaction_id, f.product_id, count(*) AS copies,
           min(f.date_id) AS first_date_id, max(f.date_id) AS last_date_id
    FROM fact_sales AS f
    WHERE f.date_id BETWEEN to_char(CAST(:window_start AS date), 'YYYYMMDD')::int
                        AND to_char(CAST(:run_date AS date), 'YYYYMMDD')::int
    GROUP BY f.retailer_id, f.transaction_id, f.product_id
    HAVING count(*) > 1
),
numbered AS (
    SELECT dup.*,
           count(*) OVER (PARTITION BY retailer_id) AS duplicate_keys,
           sum(copies - 1) OVER (PARTITION BY retailer_id) AS extra_rows,
           row_number() OVER (PARTITION BY retailer_id ORDER BY copies DESC, transaction_id) AS rn
    FROM dup
)
SELECT r.retailer_code, n.duplicate_keys::bigint AS duplicate_keys, n.extra_rows::bigint AS extra_rows,
       n.transaction_id, n.product_id, n.copies::bigint AS copies, n.first_date_id, n.last_date_id
FROM numbered AS n
LEFT JOIN dim_retailer AS r ON r.retailer_id = n.retailer_id
WHERE n.rn <= CAST(:sample_size AS int)
ORDER BY r.retailer_code, n.rn
