-- The fact table, partitioned by day (date_id = YYYYMMDD, one partition per day, named
-- fact_sales_YYYYMMDD). The loader builds a day in a standalone table, indexes it, then swaps
-- it in with DETACH/ATTACH; see docs/warehouse.md.
CREATE TABLE IF NOT EXISTS fact_sales (
    sale_id             bigint NOT NULL,      -- 63-bit hash of (retailer_code, transaction_id)
    date_id             integer NOT NULL REFERENCES dim_date (date_id),
    product_id          bigint NOT NULL REFERENCES dim_product (product_id),
    customer_id         bigint NOT NULL REFERENCES dim_customer (customer_id),
    store_id            bigint NOT NULL REFERENCES dim_store (store_id),
    retailer_id         smallint NOT NULL REFERENCES dim_retailer (retailer_id),
    transaction_id      text NOT NULL,
    quantity            integer NOT NULL,
    unit_price          numeric(12, 2) NOT NULL,
    total_amount        numeric(14, 2) NOT NULL,
    discount_percentage numeric(5, 2),
    tax_amount          numeric(12, 2),
    shipping_cost       numeric(12, 2),
    transaction_ts      timestamptz NOT NULL,
    run_id              text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- date_id is the partition key, so it is part of every unique constraint. The primary key
    -- (leading date_id) and the natural key (leading retailer_id) also serve the BI filters on
    -- date_id and retailer_id; partition pruning does the rest for dates.
    CONSTRAINT fact_sales_pkey PRIMARY KEY (date_id, sale_id),
    CONSTRAINT fact_sales_natural_key UNIQUE (retailer_id, transaction_id, product_id, date_id)
) PARTITION BY RANGE (date_id);

COMMENT ON COLUMN fact_sales.total_amount IS
    'Net merchandise amount = quantity x unit_price: after discount, before tax and shipping';
COMMENT ON COLUMN fact_sales.unit_price IS 'Unit selling price after discount, before tax and shipping';

CREATE INDEX IF NOT EXISTS fact_sales_product_idx ON fact_sales (product_id);
CREATE INDEX IF NOT EXISTS fact_sales_customer_idx ON fact_sales (customer_id);
CREATE INDEX IF NOT EXISTS fact_sales_store_idx ON fact_sales (store_id);
