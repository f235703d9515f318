-- The daily marts of the load's retailers on the days it changed (other retailers' rows of the
-- same days are theirs: their own loads recompute them).
DELETE FROM mart_daily_sales WHERE date_id = ANY(%(date_ids)s) AND retailer_id = ANY(%(retailer_ids)s);
DELETE FROM mart_daily_category_sales WHERE date_id = ANY(%(date_ids)s) AND retailer_id = ANY(%(retailer_ids)s)
