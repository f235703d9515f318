-- The lines this load puts in the window: a view over the days' new tables ({selects} is one
-- SELECT retailer_id, transaction_id, product_id, date_id FROM <day table> per day, UNION ALL).
CREATE TEMP VIEW tmp_new_lines AS {selects}
