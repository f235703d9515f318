-- The monthly mart rows of the cutoff's month, before it is rebuilt from its remaining days.
DELETE FROM mart_monthly_category_sales
WHERE retailer_id = %(retailer_id)s AND year * 100 + month = %(month_start_id)s / 100
