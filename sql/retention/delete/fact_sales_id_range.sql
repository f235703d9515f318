-- Retention: fact_sales_id_range's rows before the cutoff, counted per day as count/fact_sales_id_range.sql counts them.
WITH removed AS (
    DELETE FROM fact_sales_id_range
    WHERE retailer_id = %(retailer_id)s AND date_id < %(cutoff_id)s
    RETURNING date_id
)
SELECT to_date(date_id::text, 'YYYYMMDD') AS day, count(*) AS rows FROM removed GROUP BY 1 ORDER BY 1
