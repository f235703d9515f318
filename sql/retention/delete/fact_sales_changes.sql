-- Retention: fact_sales_changes's rows before the cutoff, counted per day as count/fact_sales_changes.sql counts them.
WITH removed AS (
    DELETE FROM fact_sales_changes
    WHERE retailer_code = %(retailer_code)s AND from_date < %(cutoff)s
    RETURNING from_date
)
SELECT from_date AS day, count(*) AS rows FROM removed GROUP BY 1 ORDER BY 1
