-- Completeness: NULL counts per retailer for the columns a fact or dimension row needs.
-- Facts of the run window (:window_start .. :run_date); dimensions whole (they are small).
-- One row per (table, column, retailer); which columns are required is a parameter.
WITH f AS (
    SELECT *
    FROM fact_sales
    WHERE date_id BETWEEN to_char(CAST(:window_start AS date), 'YYYYMMDD')::int
                      AND to_char(CAST(:run_date AS date), 'YYYYMMDD')::int
       OR date_id IS NULL
),
fact_nulls AS (
    SELECT f.retailer_id, 'fact_sales' AS table_name, v.column_name,
           count(*) FILTER (WHERE v.is_null) AS null_count, count(*) AS row_count
    FROM f
    CROSS JOIN LATERAL (VALUES
        ('date_id', f.date_id IS NULL),
        ('product_id', f.product_id IS NULL),
        ('customer_id', f.customer_id IS NULL),
        ('store_id', f.store_id IS NULL),
        ('retailer_id', f.retailer_id IS NULL),
        ('transaction_id', f.transaction_id IS NULL OR f.transaction_id = ''),
        ('quantity', f.quantity IS NULL),
        ('unit_price', f.unit_price IS NULL),
        ('total_amount', f.total_amount IS NULL),
        ('transaction_ts', f.transaction_ts IS NULL)
    ) AS v(column_name, is_null)
    GROUP BY f.retailer_id, v.column_name
),
dim_nulls AS (
    SELECT p.retailer_id, 'dim_product' AS table_name, v.column_name,
           count(*) FILTER (WHERE v.is_null) AS null_count, count(*) AS row_count
    FROM dim_product AS p
    CROSS JOIN LATERAL (VALUES
        ('retailer_id', p.retailer_id IS NULL),
        ('product_sku', p.product_sku IS NULL OR p.product_sku = ''),
        ('product_name', p.product_name IS NULL OR p.product_name = ''),
        ('category', p.category IS NULL)
    ) AS v(column_name, is_null)
    GROUP BY p.retailer_id, v.column_name
    UNION ALL
    SELECT c.retailer_id, 'dim_customer', 'customer_external_id',
           count(*) FILTER (WHERE c.customer_external_id IS NULL), count(*)
    FROM dim_customer AS c GROUP BY c.retailer_id
    UNION ALL
    SELECT s.retailer_id, 'dim_store', 'store_external_id',
           count(*) FILTER (WHERE s.store_external_id IS NULL), count(*)
    FROM dim_store AS s GROUP BY s.retailer_id
    UNION ALL
    SELECT r.retailer_id, 'dim_retailer', 'retailer_code',
           count(*) FILTER (WHERE r.retailer_code IS NULL), count(*)
    FROM dim_retailer AS r GROUP BY r.retailer_id
    UNION ALL
    SELECT NULL::smallint, 'dim_date', v.column_name,
           count(*) FILTER (WHERE v.is_null), count(*)
    FROM dim_date AS d
    CROSS JOIN LATERAL (VALUES ('date', d.date IS NULL), ('day_of_week', d.day_of_week IS NULL)) AS v(column_name, is_null)
    GROUP BY v.column_name
)
SELECT r.retailer_code, n.retailer_id, n.table_name, n.column_name,
       n.null_count::bigint AS null_count, n.row_count::bigint AS row_count
FROM (SELECT * FROM fact_nulls UNION ALL SELECT * FROM dim_nulls) AS n
LEFT JOIN dim_retailer AS r ON r.retailer_id = n.retailer_id
ORDER BY n.table_name, n.column_name, r.retailer_code
