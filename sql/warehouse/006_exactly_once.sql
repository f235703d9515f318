-- Exactly once over all of history (docs/warehouse.md, "Exactly once").
--
-- fact_sales is partitioned by day, so its unique keys include date_id. fact_sales_key says on
-- which day each sale line lives, for the whole table: one row per (retailer, transaction) -
-- a transaction is one line (the loader keeps the latest version of an id), so
-- (retailer_id, transaction_id, product_id) is unique too. The loader maintains it in the same
-- transaction as the day partitions it swaps in, so a line corrected to another day moves (its
-- old copy is deleted), never doubles.
-- (Its primary key and index are added at the end of this file, after the backfill: one sorted
-- build instead of a btree insert per line of history.)
CREATE TABLE IF NOT EXISTS fact_sales_key (
    retailer_id    smallint NOT NULL,
    transaction_id text     NOT NULL,
    product_id     bigint   NOT NULL,
    date_id        integer  NOT NULL
);

-- What a load removed from the facts, and why: 'moved' (the source now has the line on
-- another day, to_date), 'quarantined' (the source still serves it, but the warehouse
-- quarantined its new version: see warehouse_quarantine) or 'disappeared' (the source no longer
-- serves it on any day the load covered). The quality pipeline reports these; nothing leaves
-- fact_sales without a row here.
CREATE TABLE IF NOT EXISTS fact_sales_changes (
    change_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id         text     NOT NULL,
    retailer_code  text     NOT NULL,
    transaction_id text     NOT NULL,
    product_id     bigint   NOT NULL,
    change_kind    text     NOT NULL CHECK (change_kind IN ('moved', 'disappeared', 'quarantined')),
    from_date      date     NOT NULL,
    to_date        date,
    quantity       integer,
    total_amount   numeric,
    changed_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((change_kind = 'moved') = (to_date IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS fact_sales_changes_day_idx ON fact_sales_changes (retailer_code, from_date);
CREATE INDEX IF NOT EXISTS fact_sales_changes_run_idx ON fact_sales_changes (run_id);

-- Loads serialise on a row lock here (SELECT ... FOR UPDATE). bi_reader only has SELECT, and
-- FOR UPDATE needs UPDATE privilege, so a BI session can never hold or block it (the advisory
-- lock used before, it could).
CREATE TABLE IF NOT EXISTS load_lock (
    scope text PRIMARY KEY
);
INSERT INTO load_lock (scope) VALUES ('warehouse') ON CONFLICT (scope) DO NOTHING;

-- A warehouse loaded before this migration may hold one transaction on two days (the bug this
-- file fixes). Keep the copy loaded last, delete the others (recorded as 'moved'), rebuild the
-- marts of the days touched, then index every line.
CREATE TEMP TABLE tmp_006_ranked ON COMMIT DROP AS
SELECT f.retailer_id, f.transaction_id, f.product_id, f.date_id, f.quantity, f.total_amount,
       first_value(f.date_id) OVER w AS kept_date_id,
       row_number() OVER w AS copy
FROM fact_sales f
WINDOW w AS (PARTITION BY f.retailer_id, f.transaction_id ORDER BY f.created_at DESC, f.date_id DESC);

INSERT INTO fact_sales_changes (run_id, retailer_code, transaction_id, product_id, change_kind,
    from_date, to_date, quantity, total_amount)
SELECT 'migration 006_exactly_once', r.retailer_code, t.transaction_id, t.product_id, 'moved',
       to_date(t.date_id::text, 'YYYYMMDD'), to_date(t.kept_date_id::text, 'YYYYMMDD'),
       t.quantity, t.total_amount
FROM tmp_006_ranked t JOIN dim_retailer r USING (retailer_id)
WHERE t.copy > 1;

DELETE FROM fact_sales f USING tmp_006_ranked t
WHERE t.copy > 1 AND f.date_id = t.date_id
  AND f.retailer_id = t.retailer_id AND f.transaction_id = t.transaction_id;

CREATE TEMP TABLE tmp_006_days ON COMMIT DROP AS
SELECT DISTINCT date_id FROM tmp_006_ranked WHERE copy > 1;

DELETE FROM mart_daily_sales WHERE date_id IN (SELECT date_id FROM tmp_006_days);
DELETE FROM mart_daily_category_sales WHERE date_id IN (SELECT date_id FROM tmp_006_days);
INSERT INTO mart_daily_sales (date_id, sale_date, retailer_id, retailer_code, store_id,
    store_external_id, transactions, units_sold, revenue, tax_amount, shipping_cost)
SELECT a.date_id, dd.date, a.retailer_id, r.retailer_code, a.store_id, s.store_external_id,
       a.transactions, a.units_sold, a.revenue, a.tax_amount, a.shipping_cost
FROM (SELECT date_id, retailer_id, store_id, count(*) AS transactions, sum(quantity) AS units_sold,
             sum(total_amount) AS revenue, sum(tax_amount) AS tax_amount, sum(shipping_cost) AS shipping_cost
      FROM fact_sales WHERE date_id IN (SELECT date_id FROM tmp_006_days)
      GROUP BY date_id, retailer_id, store_id) a
JOIN dim_date dd USING (date_id) JOIN dim_retailer r USING (retailer_id) JOIN dim_store s USING (store_id);
INSERT INTO mart_daily_category_sales (date_id, retailer_id, category, transactions, units_sold, revenue)
SELECT f.date_id, f.retailer_id, coalesce(p.category, '(none)'), count(*), sum(f.quantity), sum(f.total_amount)
FROM fact_sales f JOIN dim_product p USING (product_id)
WHERE f.date_id IN (SELECT date_id FROM tmp_006_days)
GROUP BY 1, 2, 3;
DELETE FROM mart_monthly_category_sales m
WHERE (m.year, m.month) IN (SELECT date_id / 10000, mod(date_id / 100, 100) FROM tmp_006_days);
INSERT INTO mart_monthly_category_sales (year, month, retailer_id, retailer_code, category,
    transactions, units_sold, revenue)
SELECT c.date_id / 10000, mod(c.date_id / 100, 100), c.retailer_id, r.retailer_code, c.category,
       sum(c.transactions), sum(c.units_sold), sum(c.revenue)
FROM mart_daily_category_sales c JOIN dim_retailer r USING (retailer_id)
WHERE (c.date_id / 10000, mod(c.date_id / 100, 100)) IN (SELECT date_id / 10000, mod(date_id / 100, 100) FROM tmp_006_days)
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO fact_sales_key (retailer_id, transaction_id, product_id, date_id)
SELECT retailer_id, transaction_id, product_id, date_id FROM tmp_006_ranked
WHERE copy = 1 AND NOT EXISTS (SELECT 1 FROM fact_sales_key);

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'fact_sales_key'::regclass AND contype = 'p') THEN
        ALTER TABLE fact_sales_key ADD CONSTRAINT fact_sales_key_pkey PRIMARY KEY (retailer_id, transaction_id);
    END IF;
END
$$;
CREATE INDEX IF NOT EXISTS fact_sales_key_day_idx ON fact_sales_key (date_id, retailer_id);
