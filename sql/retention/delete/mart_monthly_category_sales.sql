-- Retention: mart_monthly_category_sales rows of the months before the cutoff's month (that month is
-- rebuilt: month_*.sql), counted per month as count/mart_monthly_category_sales.sql counts them.
WITH removed AS (
    DELETE FROM mart_monthly_category_sales
    WHERE retailer_id = %(retailer_id)s AND year * 100 + month < %(cutoff_id)s / 100
    RETURNING year, month
)
SELECT make_date(year, month, 1) AS day, count(*) AS rows FROM removed GROUP BY 1 ORDER BY 1
