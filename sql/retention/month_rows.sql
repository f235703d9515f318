-- The monthly mart rows of the cutoff's month for the retailer, when that month loses a day
-- (the daily category mart has a row of the month before the cutoff); none otherwise.
SELECT count(*)
FROM mart_monthly_category_sales
WHERE retailer_id = %(retailer_id)s
  AND year * 100 + month = %(month_start_id)s / 100
  AND EXISTS (SELECT 1 FROM mart_daily_category_sales
              WHERE retailer_id = %(retailer_id)s
                AND date_id >= %(month_start_id)s AND date_id < %(cutoff_id)s)
