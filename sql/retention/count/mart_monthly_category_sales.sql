-- What retention would remove from mart_monthly_category_sales: rows per month before the cutoff's
-- month (delete/mart_monthly_category_sales.sql removes them; the cutoff's own month is rebuilt).
SELECT make_date(year, month, 1) AS day, count(*) AS rows
FROM mart_monthly_category_sales
WHERE retailer_id = %(retailer_id)s AND year * 100 + month < %(cutoff_id)s / 100
GROUP BY 1 ORDER BY 1
