-- The window's retailer-days get the ranges of the lines this load puts there (a day the load
-- leaves empty gets none); days outside the window keep theirs (a line moved out of one leaves
-- its range a little wider than its facts: harmless, see 016_fact_sales_id_ranges.sql).
DELETE FROM fact_sales_id_range
WHERE retailer_id = ANY(%(retailer_ids)s) AND date_id BETWEEN %(lo)s AND %(hi)s;
INSERT INTO fact_sales_id_range (retailer_id, date_id, first_transaction_id, last_transaction_id)
SELECT retailer_id, date_id, first_transaction_id, last_transaction_id FROM tmp_new_ranges
