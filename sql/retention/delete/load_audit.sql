-- Retention: load_audit's rows before the cutoff, counted per day as count/load_audit.sql counts them.
WITH removed AS (
    DELETE FROM load_audit
    WHERE retailer_code = %(retailer_code)s AND sale_date < %(cutoff)s
    RETURNING sale_date
)
SELECT sale_date AS day, count(*) AS rows FROM removed GROUP BY 1 ORDER BY 1
