-- The daily marts of one retailer-day (or of the load's retailers on one day), from {source}:
-- the retailer-day's new table, or fact_sales itself for a day outside the window that lost a
-- line to a move.
INSERT INTO mart_daily_sales (date_id, sale_date, retailer_id, retailer_code, store_id,
    store_external_id, transactions, units_sold, revenue, tax_amount, shipping_cost)
SELECT a.date_id, dd.date, a.retailer_id, r.retailer_code, a.store_id, s.store_external_id,
       a.transactions, a.units_sold, a.revenue, a.tax_amount, a.shipping_cost
FROM (SELECT date_id, retailer_id, store_id, count(*) AS transactions,
             sum(quantity) AS units_sold, sum(total_amount) AS revenue,
             sum(tax_amount) AS tax_amount, sum(shipping_cost) AS shipping_cost
      FROM {source} WHERE date_id = %(date_id)s AND retailer_id = ANY(%(retailer_ids)s) GROUP BY date_id, retailer_id, store_id) a
JOIN dim_date dd USING (date_id)
JOIN dim_retailer r USING (retailer_id)
JOIN dim_store s USING (store_id);

INSERT INTO mart_daily_category_sales (date_id, retailer_id, category, transactions, units_sold, revenue)
SELECT a.date_id, a.retailer_id, coalesce(p.category, '(none)'),
       sum(a.transactions), sum(a.units_sold), sum(a.revenue)
FROM (SELECT date_id, retailer_id, product_id, count(*) AS transactions,
             sum(quantity) AS units_sold, sum(total_amount) AS revenue
      FROM {source} WHERE date_id = %(date_id)s AND retailer_id = ANY(%(retailer_ids)s) GROUP BY date_id, retailer_id, product_id) a
JOIN dim_product p USING (product_id)
GROUP BY 1, 2, 3
