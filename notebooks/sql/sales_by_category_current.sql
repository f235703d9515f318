-- Revenue per category and retailer by each product's category as of today (dim_product_current):
-- a product that moved counts all its sales under its current category. Compare with
-- sales_by_category.sql (the category at sale time).
SELECT coalesce(c.category, '(none)') AS category,
       r.retailer_code,
       count(*)                       AS transactions,
       sum(f.quantity)                AS units_sold,
       sum(f.total_amount)            AS revenue
FROM fact_sales f
JOIN dim_product p          ON p.product_id = f.product_id
JOIN dim_product_current c  ON c.product_key = p.product_key
JOIN dim_retailer r         ON r.retailer_id = f.retailer_id
GROUP BY 1, 2
ORDER BY revenue DESC;
