-- The load's id range per retailer-day (016_fact_sales_id_ranges.sql): one scan of the new day
-- tables. Ids compare byte by byte whatever the database's locale.
CREATE TEMP TABLE tmp_new_ranges ON COMMIT DROP AS
SELECT retailer_id, date_id,
       min(transaction_id COLLATE "C") AS first_transaction_id,
       max(transaction_id COLLATE "C") AS last_transaction_id
FROM tmp_new_lines
GROUP BY retailer_id, date_id
