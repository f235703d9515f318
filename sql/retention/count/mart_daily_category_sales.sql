-- What retention would remove from mart_daily_category_sales: rows per day before the cutoff (delete/mart_daily_category_sales.sql removes them).
SELECT to_date(date_id::text, 'YYYYMMDD') AS day, count(*) AS rows
FROM mart_daily_category_sales
WHERE retailer_id = %(retailer_id)s AND date_id < %(cutoff_id)s
GROUP BY 1 ORDER BY 1
