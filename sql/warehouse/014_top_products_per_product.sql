-- mart_top_products ranks products, not versions (issue 13): with product history (012) a
-- renamed or moved product has several dim_product rows, and grouping the facts by product_id
-- split its sales over them. The facts are summed per durable key (product_key) and shown under
-- the product's current version (dim_product_current): product_id is that version's key, and
-- product_key is added at the end (a view's columns can only be appended).
CREATE OR REPLACE VIEW mart_top_products AS
SELECT c.retailer_id,
       r.retailer_code,
       c.current_product_id AS product_id,
       c.product_sku,
       c.product_name,
       c.category,
       s.units_sold,
       s.revenue,
       rank() OVER (PARTITION BY c.retailer_id ORDER BY s.revenue DESC) AS revenue_rank,
       c.product_key
FROM (
    SELECT p.product_key, sum(f.quantity)::bigint AS units_sold, sum(f.total_amount) AS revenue
    FROM fact_sales f
    JOIN dim_product p USING (product_id)
    GROUP BY p.product_key
) s
JOIN dim_product_current c USING (product_key)
JOIN dim_retailer r ON r.retailer_id = c.retailer_id;
COMMENT ON VIEW mart_top_products IS
    'Revenue and units per product (all its versions) over all facts, under its current name and category';
