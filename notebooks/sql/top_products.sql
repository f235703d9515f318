-- The top_n products by revenue of each retailer.
SELECT retailer_code, revenue_rank, product_sku, product_name, category, units_sold, revenue
FROM (
    SELECT r.retailer_code, p.product_sku, p.product_name, p.category,
           sum(f.quantity)     AS units_sold,
           sum(f.total_amount) AS revenue,
           rank() OVER (PARTITION BY r.retailer_code ORDER BY sum(f.total_amount) DESC) AS revenue_rank
    FROM fact_sales f
    JOIN dim_product p  ON p.product_id = f.product_id
    JOIN dim_retailer r ON r.retailer_id = f.retailer_id
    GROUP BY r.retailer_code, p.product_sku, p.product_name, p.category
) ranked
WHERE revenue_rank <= %(top_n)s
ORDER BY retailer_code, revenue_rank, product_sku;
