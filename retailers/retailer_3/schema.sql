-- Retailer 3: table `purchases` (RETAILERS.md). Applied idempotently by `python -m retailers init-db`.
-- "timestamp" holds UTC wall-clock time; the API turns it into epoch milliseconds.
-- Ids are COLLATE "C" so that the keyset cursor order is bytewise whatever the locale.
CREATE TABLE IF NOT EXISTS purchases (
    sale_id            TEXT COLLATE "C" PRIMARY KEY,
    "timestamp"        TIMESTAMP NOT NULL,
    buyer_id           TEXT,
    outlet_id          TEXT,
    product_code       TEXT NOT NULL,
    name               TEXT NOT NULL,
    type               TEXT,
    count              INTEGER,
    price_per_unit     NUMERIC(10, 2),
    revenue            NUMERIC(10, 2),           -- before shipping
    shipping_cost      NUMERIC(10, 2) DEFAULT 0,
    warranty_months    INTEGER,
    return_policy_days INTEGER DEFAULT 30,
    supplier_id        TEXT
);

-- Keyset order for the cursor: ("timestamp", sale_id).
CREATE INDEX IF NOT EXISTS purchases_timestamp_sale_id_idx ON purchases ("timestamp", sale_id);
