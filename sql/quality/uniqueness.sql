-- Uniqueness over all of history: a transaction (retailer, transaction id) of the run window's
-- facts (:window_start .. :run_date) must not exist on any other day of fact_sales, inside or
-- outside the window, whatever its product (a transaction is one line). (A day partition cannot
-- hold a transaction twice: its primary key, with sale_id hashing the transaction, is unique per
-- day, so every duplicate spans two days.) The window's transactions are matched against the
-- whole table by a hash join, whatever the history holds: the check does not rely on
-- fact_sales_id_range, which the loader's own guard uses.
-- One row per duplicated transaction, at most :sample_size per retailer, with every day it is on
-- (`product_id`: the lowest of its products); `duplicate_keys` / `extra_rows` are the full
-- counts for the retailer.
WITH w AS (
    SELECT DISTINCT retailer_id, transaction_id
    FROM fact_sales
    WHERE date_id BETWEEN to_char(CAST(:window_start AS date), 'YYYYMMDD')::int
                      AND to_char(CAST(:run_date AS date), 'YYYYMMDD')::int
),
dup AS (
    SELECT f.retailer_id, f.transaction_id, min(f.product_id) AS product_id, count(*) AS copies,
           min(f.date_id) AS first_date_id, max(f.date_id) AS last_date_id,
           array_agg(f.date_id ORDER BY f.date_id) AS date_ids
    FROM fact_sales AS f
    JOIN w USING (retailer_id, transaction_id)
    GROUP BY f.retailer_id, f.transaction_id
    HAVING count(*) > 1
),
numbered AS (
    SELECT dup.*,
           count(*) OVER (PARTITION BY retailer_id) AS duplicate_keys,
           sum(copies - 1) OVER (PARTITION BY retailer_id) AS extra_rows,
           row_number() OVER (PARTITION BY retailer_id ORDER BY copies DESC, transaction_id, product_id) AS rn
    FROM dup
)
SELECT coalesce(r.retailer_code, 'retailer_id=' || n.retailer_id::text) AS retailer_code,
       n.duplicate_keys::bigint AS duplicate_keys, n.extra_rows::bigint AS extra_rows,
       n.transaction_id, n.product_id, n.copies::bigint AS copies, n.first_date_id, n.last_date_id,
       array_to_string(n.date_ids, ',') AS date_ids
FROM numbered AS n
LEFT JOIN dim_retailer AS r ON r.retailer_id = n.retailer_id
WHERE n.rn <= CAST(:sample_size AS int)
ORDER BY 1, n.rn
