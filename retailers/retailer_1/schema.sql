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
