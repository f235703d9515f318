-- Retailer 1: table `sales` (RETAILERS.md). Applied idempotently by `python -m retailers init-db`.
-- Ids are COLLATE "C" so ordering by id is bytewise, whatever the database locale: the
-- (order_date, order_id) paging order and the batch-day key-range delete depend on it.
-- product_name is TEXT, not varchar(255): over-long names exist at source on purpose.
CREATE TABLE IF NOT EXISTS sales (
    order_id            TEXT COLLATE "C" PRIMARY KEY,
    order_date          TIMESTAMP NOT NULL,
    customer_id         TEXT,
    store_id            TEXT,
    sku                 TEXT NOT NULL,
    product_name        TEXT NOT NULL,
    category            TEXT,
    quantity            INTEGER,
    price               NUMERIC(10, 2),          -- unit price, already after discount
    total               NUMERIC(10, 2),          -- after discount
    discount_percentage NUMERIC(5, 2) DEFAULT 0,
    payment_method      TEXT,
    created_at          TIMESTAMP DEFAULT (now() AT TIME ZONE 'UTC')
);

-- Stable paging order: (order_date, order_id).
CREATE INDEX IF NOT EXISTS sales_order_date_order_id_idx ON sales (order_date, order_id);

-- Data version (retailers/common/paging.py): the API caches, per (version, date window), the
-- window's total and a sparse index of its ordering keys, so OFFSET paging costs O(page size).
-- A statement-level trigger bumps the version in the same transaction as any change to sales
-- (COPY and TRUNCATE included), so the bump becomes visible exactly with the change.
CREATE TABLE IF NOT EXISTS sales_version (
    one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    version BIGINT NOT NULL
);
-- Starts from the clock (microseconds), so a re-created table never reuses an old version.
INSERT INTO sales_version (one, version)
VALUES (TRUE, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT)
ON CONFLICT (one) DO NOTHING;

CREATE OR REPLACE FUNCTION sales_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sales_version AS v (one, version)
    VALUES (TRUE, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT)
    ON CONFLICT (one) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END
$$;

-- Created only when missing (no lock on sales when it is already there).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = 'sales'::regclass AND tgname = 'sales_version_bump') THEN
        CREATE TRIGGER sales_version_bump
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sales
            FOR EACH STATEMENT EXECUTE FUNCTION sales_version_bump();
    END IF;
END
$$;
