-- Retailer 2: table `transactions` (RETAILERS.md). Applied idempotently by `python -m retailers init-db`.
-- Money columns (unit_cost, amount, tax_amount) are TEXT here on purpose: this system stores
-- money as entered, which is how unparseable money ('12,50', 'N/A', '$12.5') exists at source.
-- The API returns them as the strings stored. Ids are COLLATE "C" so that ordering by id is
-- bytewise whatever the locale ((date, transaction_number) paging and the batch-day delete).
CREATE TABLE IF NOT EXISTS transactions (
    transaction_number    TEXT COLLATE "C" PRIMARY KEY,
    "date"                TIMESTAMP NOT NULL,
    member_id             TEXT,
    location_id           TEXT,
    item_code             TEXT NOT NULL,
    item_name             TEXT NOT NULL,
    department            TEXT,
    qty                   INTEGER,
    unit_cost             TEXT,                  -- unit selling price, money as text
    amount                TEXT,                  -- before tax, money as text
    tax_amount            TEXT DEFAULT '0.00',   -- money as text
    loyalty_points_earned INTEGER DEFAULT 0,
    promotion_code        TEXT,
    sales_rep_id          TEXT
);

-- Stable paging order: ("date", transaction_number).
CREATE INDEX IF NOT EXISTS transactions_date_number_idx ON transactions ("date", transaction_number);

-- Data version (retailers/common/paging.py): the API caches, per (version, date window), the
-- window's total and a sparse index of its ordering keys, so OFFSET paging costs O(page size).
-- A statement-level trigger bumps the version in the same transaction as any change to transactions
-- (COPY and TRUNCATE included), so the bump becomes visible exactly with the change.
CREATE TABLE IF NOT EXISTS transactions_version (
    one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    version BIGINT NOT NULL
);
-- Starts from the clock (microseconds), so a re-created table never reuses an old version.
INSERT INTO transactions_version (one, version)
VALUES (TRUE, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT)
ON CONFLICT (one) DO NOTHING;

CREATE OR REPLACE FUNCTION transactions_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO transactions_version AS v (one, version)
    VALUES (TRUE, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT)
    ON CONFLICT (one) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END
$$;

-- Created only when missing (no lock on transactions when it is already there).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = 'transactions'::regclass AND tgname = 'transactions_version_bump') THEN
        CREATE TRIGGER transactions_version_bump
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON transactions
            FOR EACH STATEMENT EXECUTE FUNCTION transactions_version_bump();
    END IF;
END
$$;
