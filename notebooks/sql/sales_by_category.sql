-- Revenue per product category and retailer, by the category at sale time (the version of the
-- product valid on the sale's day; categories are each retailer's own words).
SELECT coalesce(p.category, '(none)') AS category,
       r.retailer_code,
       count(*)                       AS transactions,
       sum(f.quantity)                AS units_sold,
       sum(f.total_amount)            AS revenue
FROM fact_sales f
JOIN dim_product p  ON p.product_id = f.product_id
JOIN dim_retailer r ON r.retailer_id = f.retailer_id
GROUP BY 1, 2
ORDER BY revenue DESC;
