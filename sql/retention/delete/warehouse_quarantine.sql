-- Retention: warehouse_quarantine's rows before the cutoff, counted per day as count/warehouse_quarantine.sql counts them.
WITH removed AS (
    DELETE FROM warehouse_quarantine
    WHERE retailer_code = %(retailer_code)s AND sale_date < %(cutoff)s
    RETURNING sale_date
)
SELECT sale_date AS day, count(*) AS rows FROM removed GROUP BY 1 ORDER BY 1
