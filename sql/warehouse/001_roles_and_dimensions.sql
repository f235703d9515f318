-- Roles and the dimensions of the star schema.
-- Applied by `python -m retail_pipeline.warehouse migrate` as the loader role (retail_loader),
-- which therefore owns every object. Idempotent: safe to apply to a database that has it.

-- The read-only BI role. NOLOGIN here; the local stack gives it LOGIN and a password.
-- Creating it needs CREATEROLE on the migrating role (the stack and the tests grant it).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'bi_reader') THEN
        CREATE ROLE bi_reader NOLOGIN;
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS dim_retailer (
    retailer_id   smallint PRIMARY KEY,
    retailer_code text NOT NULL UNIQUE,
    retailer_name text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE dim_retailer IS 'One row per source retailer; ids fixed in conf/base/parameters_transformation.yml';

CREATE TABLE IF NOT EXISTS dim_date (
    date_id     integer PRIMARY KEY,          -- YYYYMMDD
    date        date NOT NULL UNIQUE,
    year        smallint NOT NULL,
    quarter     smallint NOT NULL,
    month       smallint NOT NULL,
    week        smallint NOT NULL,            -- ISO 8601 week number
    day         smallint NOT NULL,            -- day of month
    day_of_week smallint NOT NULL,            -- ISO: 1 = Monday .. 7 = Sunday
    day_name    text NOT NULL,
    is_weekend  boolean NOT NULL
);
COMMENT ON TABLE dim_date IS 'Calendar: every day of every loaded range, with or without sales';

-- Surrogate keys of product, customer and store are computed by the pipeline: a 63-bit hash of
-- (retailer_code, natural key). The unique natural key makes a hash collision fail loudly.
-- retailer_id is checked set-based by the loader (and fact_sales references dim_retailer); no
-- per-row foreign-key trigger on these dimensions, which gain up to a million rows per load.
CREATE TABLE IF NOT EXISTS dim_product (
    product_id   bigint PRIMARY KEY,
    retailer_id  smallint NOT NULL,
    product_sku  text NOT NULL,
    product_name text,
    category     text,
    -- Type 1 attributes: the latest observation wins whatever order days are (re)loaded in.
    attributes_as_of timestamptz,
    run_id       text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dim_product_natural_key UNIQUE (retailer_id, product_sku)
);

CREATE TABLE IF NOT EXISTS dim_customer (
    customer_id          bigint PRIMARY KEY,
    retailer_id          smallint NOT NULL,
    customer_external_id text NOT NULL,
    run_id               text,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dim_customer_natural_key UNIQUE (retailer_id, customer_external_id)
);
COMMENT ON COLUMN dim_customer.customer_external_id IS
    'The retailer''s customer id; sales without one point at the member ''(unknown)''';

CREATE TABLE IF NOT EXISTS dim_store (
    store_id          bigint PRIMARY KEY,
    retailer_id       smallint NOT NULL,
    store_external_id text NOT NULL,
    run_id            text,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dim_store_natural_key UNIQUE (retailer_id, store_external_id)
);
