-- The load's lines whose key says they live on another day (or with another product) than where
-- this load puts them, after keys_window.sql: lines moved into the window from a day outside it
-- (their old copy is still there), or keys out of step with the facts (repaired).
CREATE TEMP TABLE tmp_moved_in ON COMMIT DROP AS
SELECT n.retailer_id, n.transaction_id, n.product_id, n.date_id, k.date_id AS from_date_id
FROM tmp_new_lines n
JOIN fact_sales_key k ON k.retailer_id = n.retailer_id AND k.transaction_id = n.transaction_id
WHERE k.date_id <> n.date_id OR k.product_id <> n.product_id
