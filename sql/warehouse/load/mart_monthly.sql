-- One month of the monthly mart, from the small daily category mart (never from the facts).
DELETE FROM mart_monthly_category_sales WHERE year = %(y)s AND month = %(m)s;
INSERT INTO mart_monthly_category_sales (year, month, retailer_id, retailer_code, category,
    transactions, units_sold, revenue)
SELECT %(y)s, %(m)s, c.retailer_id, r.retailer_code, c.category,
       sum(c.transactions), sum(c.units_sold), sum(c.revenue)
FROM mart_daily_category_sales c JOIN dim_retailer r USING (retailer_id)
WHERE c.date_id BETWEEN %(lo)s AND %(hi)s
GROUP BY c.retailer_id, r.retailer_code, c.category
