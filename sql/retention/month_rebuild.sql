-- The cutoff's month from the daily category mart's days on or after the cutoff (the daily
-- rows before it are already deleted), as the loader builds a month (load/mart_monthly.sql).
INSERT INTO mart_monthly_category_sales (year, month, retailer_id, retailer_code, category,
    transactions, units_sold, revenue)
SELECT c.date_id / 10000, mod(c.date_id / 100, 100), c.retailer_id, r.retailer_code, c.category,
       sum(c.transactions), sum(c.units_sold), sum(c.revenue)
FROM mart_daily_category_sales AS c
JOIN dim_retailer AS r USING (retailer_id)
WHERE c.retailer_id = %(retailer_id)s
  AND c.date_id >= greatest(%(month_start_id)s, %(cutoff_id)s) AND c.date_id < %(month_start_id)s + 100
GROUP BY 1, 2, 3, 4, 5
