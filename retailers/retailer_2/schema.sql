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
