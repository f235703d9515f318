DELETE FROM mart_daily_sales WHERE date_id = ANY(%(date_ids)s);
DELETE FROM mart_daily_category_sales WHERE date_id = ANY(%(date_ids)s)
