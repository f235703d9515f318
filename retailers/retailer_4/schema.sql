-- Retailer 4: an order (`orders`) with its lines (`order_lines`). Applied idempotently by
-- `python -m retailers init-db`. Ids are COLLATE "C" so ordering and the batch-day key range
-- are bytewise in any locale.
-- placed_at is an instant (timestamptz); the API shows it in the stores' local time
-- (Europe/Paris) with its UTC offset, and its date window is in local days.
CREATE TABLE IF NOT EXISTS orders (
    order_ref    TEXT COLLATE "C" PRIMARY KEY,    -- WEB-YYYYMMDD-NNNNNN (the batch day)
    placed_at    TIMESTAMPTZ NOT NULL,
    customer_ref TEXT,
    shop_ref     TEXT,
    currency     TEXT NOT NULL DEFAULT 'EUR'
);

-- Stable paging order (keyset): (placed_at, order_ref).
CREATE INDEX IF NOT EXISTS orders_placed_at_order_ref_idx ON orders (placed_at, order_ref);

-- Money in cents. NUMERIC rather than BIGINT because this source lets a fractional cent in
-- (1250.5: the `fractional_cents` defect); a whole number of cents is served as a JSON integer.
-- `position` is the line's place in its order; line_no is what the shop sent, and a line sent
-- twice (the `duplicate_id` defect) repeats its line_no. title is TEXT, not varchar(255):
-- over-long titles exist at source on purpose.
CREATE TABLE IF NOT EXISTS order_lines (
    order_ref        TEXT COLLATE "C" NOT NULL,
    position         INTEGER NOT NULL,
    line_no          INTEGER NOT NULL,
    sku              TEXT NOT NULL,
    title            TEXT NOT NULL,
    family           TEXT,
    units            INTEGER,
    unit_price_cents NUMERIC,
    line_total_cents NUMERIC,
    PRIMARY KEY (order_ref, position)
);

-- No foreign key to orders: `TRUNCATE orders` (as the tests and tools do for every retailer's
-- main table) would be refused. Instead emptying orders empties its lines too, and the
-- generator replaces both tables' key ranges of a batch day in one transaction.
CREATE OR REPLACE FUNCTION orders_truncate_lines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE order_lines;
    RETURN NULL;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = 'orders'::regclass AND tgname = 'orders_truncate_lines') THEN
        CREATE TRIGGER orders_truncate_lines AFTER TRUNCATE ON orders
            FOR EACH STATEMENT EXECUTE FUNCTION orders_truncate_lines();
    END IF;
END
$$;
