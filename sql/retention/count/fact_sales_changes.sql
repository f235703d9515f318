-- What retention would remove from fact_sales_changes: rows per day before the cutoff (delete/fact_sales_changes.sql removes them).
SELECT from_date AS day, count(*) AS rows
FROM fact_sales_changes
WHERE retailer_code = %(retailer_code)s AND from_date < %(cutoff)s
GROUP BY 1 ORDER BY 1
