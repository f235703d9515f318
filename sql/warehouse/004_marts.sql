-- Marts for BI. The daily marts are maintained by the loader for the days it loads (delete +
-- insert, set-based); the monthly mart is rebuilt for the months those days fall in from the
-- small daily category mart, so a load never rescans history.
CREATE TABLE IF NOT EXISTS mart_daily_sales (
    date_id             integer NOT NULL REFERENCES dim_date (date_id),
    sale_date           date NOT NULL,
    retailer_id         smallint NOT NULL REFERENCES dim_retailer (retailer_id),
    retailer_code       text NOT NULL,
    store_id            bigint NOT NULL REFERENCES dim_store (store_id),
    store_external_id   text NOT NULL,
    transactions        bigint NOT NULL,
    units_sold          bigint NOT NULL,
    revenue             numeric(16, 2) NOT NULL,  -- sum of total_amount (net merchandise)
    tax_amount          numeric(16, 2),
    shipping_cost       numeric(16, 2),
    PRIMARY KEY (date_id, retailer_id, store_id)
);

CREATE TABLE IF NOT EXISTS mart_daily_category_sales (
    date_id       integer NOT NULL REFERENCES dim_date (date_id),
    retailer_id   smallint NOT NULL REFERENCES dim_retailer (retailer_id),
    category      text NOT NULL,                  -- '(none)' when the product has none
    transactions  bigint NOT NULL,
    units_sold    bigint NOT NULL,
    revenue       numeric(16, 2) NOT NULL,
    PRIMARY KEY (date_id, retailer_id, category)
);

CREATE TABLE IF NOT EXISTS mart_monthly_category_sales (
    year          smallint NOT NULL,
    month         smallint NOT NULL,
    retailer_id   smallint NOT NULL REFERENCES dim_retailer (retailer_id),
    retailer_code text NOT NULL,
    category      text NOT NULL,
    transactions  bigint NOT NULL,
    units_sold    bigint NOT NULL,
    revenue       numeric(16, 2) NOT NULL,
    PRIMARY KEY (year, month, retailer_id, category)
);

CREATE OR REPLACE VIEW mart_top_products AS
SELECT p.retailer_id,
       r.retailer_code,
       p.product_id,
       p.product_sku,
       p.product_name,
       p.category,
       s.units_sold,
       s.revenue,
       rank() OVER (PARTITION BY p.retailer_id ORDER BY s.revenue DESC) AS revenue_rank
FROM (
    SELECT product_id, sum(quantity)::bigint AS units_sold, sum(total_amount) AS revenue
    FROM fact_sales
    GROUP BY product_id
) s
JOIN dim_product p USING (product_id)
JOIN dim_retailer r ON r.retailer_id = p.retailer_id;
