-- Exactly once without a per-line ledger (issue 11 §2): fact_sales_key is replaced by one row
-- per retailer-day, the lowest and highest transaction id that day's partition holds.
--
-- fact_sales_key (006) held one row per sale line of all of history, and every load inserted its
-- new lines into its primary-key btree: the largest step of a load (2.5 s per million lines,
-- more as history grows), more than the COPY of the facts. Its only job was to say whether a
-- line of the load already lives on a day outside the load's window. The facts themselves say
-- that; what the loader needs is to know WHICH days to look at without reading all of history.
-- A day can hold one of the load's lines only if that day's id range overlaps the range of the
-- load's ids of the same retailer. So a load (warehouse.exactly_once):
--   1. computes its new days' ranges (one scan of the day tables it built);
--   2. looks up the days outside the window whose range overlaps one of them: none when ids
--      carry a date or a sequence (most POS ids, the benchmark's), every day for random ids;
--   3. joins its lines against those days' facts only, and moves the lines it finds (as before);
--   4. replaces its window days' range rows, in the same transaction as the swap.
-- A day's range may be wider than its facts (a line moved out keeps the range: harmless, that
-- day is read once more); it is never narrower: every load and the backfill below write the
-- exact range, and the quality check fact_id_ranges fails a window day whose facts fall outside it.
-- The ids compare byte by byte (COLLATE "C") whatever the database's locale, here and in every
-- query that uses the ranges.
CREATE TABLE IF NOT EXISTS fact_sales_id_range (
    retailer_id          smallint NOT NULL,
    date_id              integer  NOT NULL,
    first_transaction_id text COLLATE "C" NOT NULL,
    last_transaction_id  text COLLATE "C" NOT NULL,
    PRIMARY KEY (retailer_id, date_id),
    CHECK (first_transaction_id <= last_transaction_id)
);
COMMENT ON TABLE fact_sales_id_range IS
    'Lowest and highest transaction id of each retailer-day of fact_sales: which days a load must check for its lines (exactly once).';

INSERT INTO fact_sales_id_range (retailer_id, date_id, first_transaction_id, last_transaction_id)
SELECT retailer_id, date_id, min(transaction_id COLLATE "C"), max(transaction_id COLLATE "C")
FROM fact_sales
GROUP BY retailer_id, date_id
ON CONFLICT (retailer_id, date_id) DO UPDATE
SET first_transaction_id = least(fact_sales_id_range.first_transaction_id, excluded.first_transaction_id),
    last_transaction_id = greatest(fact_sales_id_range.last_transaction_id, excluded.last_transaction_id);

DROP TABLE IF EXISTS fact_sales_key;
GRANT SELECT ON fact_sales_id_range TO bi_reader;
