-- Referential integrity of every foreign key of fact_sales, for the run window's facts
-- (:window_start .. :run_date). Orphans are found by LEFT JOIN, whether or not the database
-- enforces the key. Also: a fact's product, customer and store must belong to the fact's own
-- retailer (natural keys are scoped by retailer). NULL keys are the completeness check's job.
-- One row per (retailer, key) with orphans: count and a sample of transaction ids.
WITH f AS (
    SELECT sale_id, retailer_id, transaction_id, date_id, product_id, customer_id, store_id
    FROM fact_sales
    WHERE date_id BETWEEN to_char(CAST(:window_start AS date), 'YYYYMMDD')::int
                      AND to_char(CAST(:run_date AS date), 'YYYYMMDD')::int
),
orphans AS (
    SELECT f.retailer_id, 'date_id -> dim_date' AS foreign_key, f.transaction_id, f.date_id::text AS key_value
    FROM f LEFT JOIN dim_date AS d ON d.date_id = f.date_id
    WHERE f.date_id IS NOT NULL AND d.date_id IS NULL
    UNION ALL
    SELECT f.retailer_id, 'product_id -> dim_product', f.transaction_id, f.product_id::text
    FROM f LEFT JOIN dim_product AS p ON p.product_id = f.product_id
    WHERE f.product_id IS NOT NULL AND p.product_id IS NULL
    UNION ALL
    SELECT f.retailer_id, 'customer_id -> dim_customer', f.transaction_id, f.customer_id::text
    FROM f LEFT JOIN dim_customer AS c ON c.customer_id = f.customer_id
    WHERE f.customer_id IS NOT NULL AND c.customer_id IS NULL
    UNION ALL
    SELECT f.retailer_id, 'store_id -> dim_store', f.transaction_id, f.store_id::text
    FROM f LEFT JOIN dim_store AS s ON s.store_id = f.store_id
    WHERE f.store_id IS NOT NULL AND s.store_id IS NULL
    UNION ALL
    SELECT f.retailer_id, 'retailer_id -> dim_retailer', f.transaction_id, f.retailer_id::text
    FROM f LEFT JOIN dim_retailer AS r ON r.retailer_id = f.retailer_id
    WHERE f.retailer_id IS NOT NULL AND r.retailer_id IS NULL
    UNION ALL
    SELECT f.retailer_id, 'product of another retailer', f.transaction_id, f.product_id::text
    FROM f JOIN dim_product AS p ON p.product_id = f.product_id
    WHERE p.retailer_id IS DISTINCT FROM f.retailer_id
    UNION ALL
    SELECT f.retailer_id, 'customer of another retailer', f.transaction_id, f.customer_id::text
    FROM f JOIN dim_customer AS c ON c.customer_id = f.customer_id
    WHERE c.retailer_id IS DISTINCT FROM f.retailer_id
    UNION ALL
    SELECT f.retailer_id, 'store of another retailer', f.transaction_id, f.store_id::text
    FROM f JOIN dim_store AS s ON s.store_id = f.store_id
    WHERE s.retailer_id IS DISTINCT FROM f.retailer_id
),
grouped AS (
    SELECT retailer_id, foreign_key, count(*) AS orphans,
           (array_agg(transaction_id || ' (' || coalesce(key_value, 'NULL') || ')'
                      ORDER BY transaction_id))[1:CAST(:sample_size AS int)] AS sample
    FROM orphans
    GROUP BY retailer_id, foreign_key
)
SELECT coalesce(r.retailer_code, 'retailer_id=' || g.retailer_id::text) AS retailer_code,
       g.foreign_key, g.orphans::bigint AS orphans, array_to_string(g.sample, ', ') AS sample
FROM grouped AS g
LEFT JOIN dim_retailer AS r ON r.retailer_id = g.retailer_id
ORDER BY 1, 2
