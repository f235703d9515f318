-- fact_sales_key finds a window's keys (keys_check.sql, keys_repair.sql, the quality pipeline's
-- fact_key_agreement.sql, retention) through a BRIN index on (date_id, retailer_id) instead of a
-- btree (issue 11). The btree was a second index insert for every line new to the window, about
-- a third of the exactly-once step's CPU; a BRIN index is updated once per block range. Loads
-- append a window's keys together, so each range of blocks holds few days and a window's keys are
-- read from a few ranges, never by scanning history. The primary key (retailer_id,
-- transaction_id) stays a btree: it is what makes a transaction unique over all of history.
-- autosummarize: a block range is summarised as soon as it fills, not at the next VACUUM (an
-- unsummarised range is read by every window query).
DROP INDEX IF EXISTS fact_sales_key_day_idx;
CREATE INDEX fact_sales_key_day_idx ON fact_sales_key USING brin (date_id, retailer_id) WITH (pages_per_range = 16, autosummarize = on);
