-- What retention would remove from fact_sales_id_range: rows per day before the cutoff (delete/fact_sales_id_range.sql removes them).
SELECT to_date(date_id::text, 'YYYYMMDD') AS day, count(*) AS rows
FROM fact_sales_id_range
WHERE retailer_id = %(retailer_id)s AND date_id < %(cutoff_id)s
GROUP BY 1 ORDER BY 1
