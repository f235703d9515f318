-- The daily marts of the window's retailer-days from the sums computed in flight
-- (tmp_mart_store, tmp_mart_product: mart_flight_stage.sql), not from the facts: the same
-- rows mart_daily.sql would compute from the day tables. Product sums are keyed by the durable
-- product key (the facts before they got their version): the category is the version's of that day.
INSERT INTO mart_daily_sales (date_id, sale_date, retailer_id, retailer_code, store_id,
    store_external_id, transactions, units_sold, revenue, tax_amount, shipping_cost)
SELECT a.date_id, dd.date, a.retailer_id, r.retailer_code, a.store_id, s.store_external_id,
       a.transactions, a.units_sold, a.revenue, a.tax_amount, a.shipping_cost
FROM tmp_mart_store a
JOIN dim_date dd USING (date_id)
JOIN dim_retailer r USING (retailer_id)
JOIN dim_store s USING (store_id);

INSERT INTO mart_daily_category_sales (date_id, retailer_id, category, transactions, units_sold, revenue)
SELECT a.date_id, a.retailer_id, coalesce(p.category, '(none)'),
       sum(a.transactions), sum(a.units_sold), sum(a.revenue)
FROM tmp_mart_product a
JOIN dim_date dd USING (date_id)
JOIN dim_product p ON p.product_key = a.product_id AND dd.date >= p.valid_from AND dd.date < p.valid_to
GROUP BY 1, 2, 3
