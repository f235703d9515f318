-- Products with more than one version (renamed or moved to another category), version by version,
-- with the revenue sold under each.
SELECT r.retailer_code, p.product_sku, p.product_name, p.category, p.valid_from, p.valid_to, p.is_current,
       (SELECT coalesce(sum(f.total_amount), 0) FROM fact_sales f WHERE f.product_id = p.product_id) AS revenue
FROM dim_product p
JOIN dim_retailer r USING (retailer_id)
WHERE p.product_key IN (SELECT product_key FROM dim_product GROUP BY product_key HAVING count(*) > 1)
ORDER BY r.retailer_code, p.product_sku, p.valid_from;
