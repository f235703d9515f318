-- Retention: fact_sales_key's rows before the cutoff, counted per day as count/fact_sales_key.sql counts them.
WITH removed AS (
    DELETE FROM fact_sales_key
    WHERE retailer_id = %(retailer_id)s AND date_id < %(cutoff_id)s
    RETURNING date_id
)
SELECT to_date(date_id::text, 'YYYYMMDD') AS day, count(*) AS rows FROM removed GROUP BY 1 ORDER BY 1
