-- What retention would remove from load_audit: rows per day before the cutoff (delete/load_audit.sql removes them).
SELECT sale_date AS day, count(*) AS rows
FROM load_audit
WHERE retailer_code = %(retailer_code)s AND sale_date < %(cutoff)s
GROUP BY 1 ORDER BY 1
