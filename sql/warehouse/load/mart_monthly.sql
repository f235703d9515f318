-- One month of the monthly mart for the load's retailers, from the small daily category mart
-- (never from the facts). Other retailers' rows of the month are recomputed by their own loads.
DELETE FROM mart_monthly_category_sales WHERE year = %(y)s AND month = %(m)s AND retailer_id = ANY(%(retailer_ids)s);
INSERT INTO mart_monthly_category_sales (year, month, retailer_id, retailer_code, category,
    transactions, units_sold, revenue)
SELECT %(y)s, %(m)s, c.retailer_id, r.retailer_code, c.category,
       sum(c.transactions), sum(c.units_sold), sum(c.revenue)
FROM mart_daily_category_sales c JOIN dim_retailer r USING (retailer_id)
WHERE c.date_id BETWEEN %(lo)s AND %(hi)s AND c.retailer_id = ANY(%(retailer_ids)s)
GROUP BY c.retailer_id, r.retailer_code, c.category
